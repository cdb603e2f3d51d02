"""Read candle CSV files in the layouts people actually have, into the canonical candle frame.

Recognised (column names matched case-insensitively, surrounding spaces ignored):

* pricecast's own layout: ``time,open,high,low,close,volume``.
* Yahoo Finance download: ``Date,Open,High,Low,Close,Adj Close,Volume``. ``Close`` is used, not
  ``Adj Close``: candles stay as traded, consistent with the other sources.
* investing.com export: ``"Date","Price","Open","High","Low","Vol.","Change %"``, newest first,
  UTF-8 BOM, ``"1,006.5"`` thousands separators, ``13.44K``/``1.2M`` volumes, ``-`` for none,
  dates like ``Jan 01, 2017``; ``Price`` is the close.
* Exchange exports with unix times in a ``timestamp``/``time``/``date``/``unix``/``open time``
  column: seconds, milliseconds, microseconds or nanoseconds, told apart by magnitude.
* Kaggle bitcoin layouts: ``Timestamp,Open,High,Low,Close,Volume_(BTC),Volume_(Currency),
  Weighted_Price`` (the first volume column, the base-asset one, is used; rows without any
  price, minutes without trades, are dropped with a note).
* Files with a ``Ticker``/``Symbol`` column holding several instruments: pass ``ticker=``.
* CryptoDataDownload files whose first line is a URL banner.

Numbers: the decimal separator (and any thousands separator) is found per file from its values:
``100,5`` in a ``;``-separated file is 100.5, ``1.006,5`` is 1006.5, ``"1,006.5"`` is 1006.5; a file
that mixes decimal commas and points is refused. UTF-16 files (with a byte-order mark) are read;
binary files (programs, Excel workbooks, archives) are refused as "not a text CSV". A gzip file may
unpack to at most :data:`MAX_UNPACKED_BYTES`. Only the columns used are read, numbers straight into
float64, so a plain CSV takes a small multiple of its size in memory (``bench/csv_memory.py``).

Decisions: a file without volume gets volume 0.0, and one with only a close gets
open = high = low = close; both are noted in :class:`CsvInfo`. A missing time or close column,
and values that cannot be read, raise :class:`CandleError` naming the column, the line and the value.
A row whose high is below its low is dropped with a note naming its line when such rows are at
most 1% of the file (a feed glitch); more mean the file was misread, and it is refused.

This module recognises the layouts (which column is what, tickers, bad rows); the bytes, encodings and
separators are :mod:`pricecast.data.csv_bytes`', number and time text :mod:`pricecast.data.csv_numbers`'.
"""
from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd

from pricecast.data.candles import CandleError, normalize_candles, timeframe_switch
from pricecast.data.columns import MAPPING_HINT, header_lookup
from pricecast.data.csv_bytes import (
    MAX_ROWS,
    MAX_UNPACKED_BYTES,
    SAMPLE_BYTES,
    check_rows,
    delimiter,
    raw_bytes,
    sample_rows,
    separator_count,
    text_encoding,
)
from pricecast.data.csv_numbers import MISSING, column_numbers, number_format, parse_times

TIME_NAMES = ("time", "timestamp", "date", "datetime", "date time", "unix", "open time", "open_time",
              "opentime", "time (utc)", "date (utc)", "date(utc)", "ts", "mts")
OPEN_NAMES = ("open", "open price", "opening price", "opening_price")
HIGH_NAMES = ("high", "high price", "high_price")
LOW_NAMES = ("low", "low price", "low_price")
CLOSE_NAMES = ("close", "price", "close price", "closing price", "trade_price", "last")
VOLUME_NAMES = ("volume", "vol.", "vol", "volume_(btc)", "volume (btc)")
TICKER_NAMES = ("ticker", "symbol", "name")
# OHLC rows that contradict themselves: up to this share (at least one row) are dropped with a note,
# more means the columns or the number format were misread, and the file is refused.
MAX_BAD_OHLC_SHARE = 0.01
# A file whose rows collapse (duplicated times, rows without prices) to under 1% of themselves is
# refused: its time column does not tell the rows apart, and a near-empty series would be stored.
COLLAPSE_MIN_ROWS, COLLAPSE_SHARE = 1000, 0.01


@dataclass
class CsvInfo:
    """How a CSV was read: which columns became what, the time unit, notes on what was changed."""

    name: str
    rows: int
    columns: list[str]
    mapping: dict[str, str]
    time_format: str
    ticker: str | None = None
    tickers: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _find(lower: dict[str, str], names: tuple[str, ...]) -> str | None:
    for n in names:
        if n in lower:
            return lower[n]
    return None


def read_candles_csv_info(
    source: str | Path | bytes | IO, name: str | None = None, ticker: str | None = None,
    max_unpacked_bytes: int = MAX_UNPACKED_BYTES, max_rows: int = MAX_ROWS, columns: Mapping[str, str] | None = None,
) -> tuple[pd.DataFrame, CsvInfo]:
    """Like :func:`read_candles_csv`, also returning a :class:`CsvInfo` describing the reading.
    ``columns``: which column is which role (``{"time": "Datum", "close": "Schluss"}``), over the names
    recognised (English here, other languages in :mod:`pricecast.data.columns`)."""
    data, name = raw_bytes(source, max_unpacked_bytes, name, max_rows)
    data, encoding = text_encoding(data, name)
    check_rows(data.count(b"\n") - 1, name, max_rows)
    skip, sep, header, sample = _layout(data, encoding, name)
    present = [c for c in header if c] if header else []
    roles = _roles(present, columns, name)
    notes: list[str] = []
    positions = [header.index(c) for c in roles.numbers]
    decimal, thousands = number_format([row[i] for row in sample for i in positions], sep, name)
    if decimal == ",":
        notes.append("decimal commas read as decimal points (100,5 = 100.5)")
    table = _read_table(data, encoding, sep, skip, name, roles.time, roles.ticker, roles.numbers, decimal, thousands)
    table, tickers, chosen = _one_ticker(table, roles.ticker, ticker, name)
    if table.empty:
        raise CandleError(f"{name}: no rows")
    rows_read = len(table)
    lines = table.index.to_numpy() + skip + 2  # read_csv numbers rows 0.. in file order; header line + 1-based
    index, time_format = parse_times(table[roles.time], roles.time, name)
    out, mapping = _candle_values(table, index, roles, name, decimal, thousands, lines, notes)
    del table
    out, duplicated = _cleaned(out, lines, mapping, name, notes)
    frame = normalize_candles(out, name)
    _refuse_what_collapsed_or_mixes(frame, rows_read, roles.time, name, notes)
    info = CsvInfo(name, len(frame), present, mapping, time_format, chosen, tickers, notes)
    frame.attrs["csv_notes"] = list(notes)
    # The quality report lists what the file had before it was cleaned up here.
    frame.attrs["duplicates"] = [t.isoformat() for t in duplicated.unique()]
    return frame, info


def _layout(data: bytes, encoding: str, name: str) -> tuple[int, str, list[str], list[list[str]]]:
    """Lines to skip before the header, the separator, the header and the first rows."""
    first = data[:SAMPLE_BYTES].decode(encoding, errors="replace").splitlines()
    skip = 0
    if len(first) > 1 and "http" in first[0].lower() and separator_count(first[0]) < separator_count(first[1]):
        skip = 1  # CryptoDataDownload banner line
    if not "".join(first[skip : skip + 20]).strip():
        raise CandleError(f"{name}: the file is empty")
    sep = delimiter([line for line in first[skip : skip + 20] if line.strip()])
    header, sample = sample_rows(data, encoding, sep, skip)
    return skip, sep, header, sample


@dataclass
class _Roles:
    """Which of the file's columns holds what (None: the file has no such column)."""

    time: str
    close: str
    prices: dict[str, str]  # "close" and whichever of "open", "high", "low" the file has
    volume: str | None
    ticker: str | None

    @property
    def numbers(self) -> list[str]:
        return [*self.prices.values(), *([self.volume] if self.volume else [])]


def _roles(present: list[str], mapping: Mapping[str, str] | None, name: str) -> _Roles:
    lower = header_lookup(present, mapping)
    time_col, close_col = _find(lower, TIME_NAMES), _find(lower, CLOSE_NAMES)
    missing = [n for n, c in (("time (or date/timestamp)", time_col), ("close (or price)", close_col)) if c is None]
    if missing:
        raise CandleError(f"{name}: missing column(s) {', '.join(missing)} (columns present: "
                          f"{', '.join(present) or 'none'}); {MAPPING_HINT}")
    volume = _find(lower, VOLUME_NAMES)
    if volume is None:
        volume = next((c for c in present if c.lower().startswith("volume")), None)
    prices = {"close": close_col}
    for key, names in (("open", OPEN_NAMES), ("high", HIGH_NAMES), ("low", LOW_NAMES)):
        if (col := _find(lower, names)) is not None:
            prices[key] = col
    return _Roles(time_col, close_col, prices, volume, _find(lower, TICKER_NAMES))


def _one_ticker(table: pd.DataFrame, ticker_col: str | None, ticker: str | None,
                name: str) -> tuple[pd.DataFrame, list[str], str | None]:
    """The rows of one ticker (``ticker``, or the only one the file holds), the tickers in the file, the one chosen."""
    if ticker_col is None:
        return table, [], None
    names_in_file = table[ticker_col].astype("string").str.strip()
    tickers = sorted(set(names_in_file.dropna()) - {""})
    if ticker is not None:
        match = [t for t in tickers if t.upper() == ticker.strip().upper()]
        if not match:
            raise CandleError(f"{name}: ticker '{ticker}' is not in the file; it holds {', '.join(tickers)}")
        return table[(names_in_file == match[0]).fillna(False).to_numpy()], tickers, match[0]
    if len(tickers) > 1:
        raise CandleError(f"{name}: the file holds {len(tickers)} tickers ({', '.join(tickers)}); choose one (ticker=...)")
    return table, tickers, tickers[0] if tickers else None


def _candle_values(table: pd.DataFrame, index: pd.DatetimeIndex, roles: _Roles, name: str, decimal: str,
                   thousands: str | None, lines: np.ndarray, notes: list[str]) -> tuple[pd.DataFrame, dict[str, str]]:
    """Open/high/low/close/volume as numbers (missing prices from close, missing volume 0, both noted) and
    which column became which."""
    mapping = {"time": roles.time, "close": roles.close}
    out = pd.DataFrame(index=index)
    out["close"] = column_numbers(table, roles.close, name, decimal, thousands, lines)
    for key in ("open", "high", "low"):
        if key in roles.prices:
            mapping[key] = roles.prices[key]
            out[key] = column_numbers(table, roles.prices[key], name, decimal, thousands, lines)
        else:
            out[key] = out["close"]
    filled = [k for k in ("open", "high", "low") if k not in mapping]
    if filled:
        notes.append(f"no {'/'.join(filled)} column: set from close")
    if roles.volume is None:
        out["volume"] = 0.0
        notes.append("no volume column: volume set to 0")
    else:
        mapping["volume"] = roles.volume
        vol = column_numbers(table, roles.volume, name, decimal, thousands, lines)
        if np.isnan(vol).any():
            notes.append(f"{int(np.isnan(vol).sum())} row(s) without volume ('-' or empty): set to 0")
        out["volume"] = np.nan_to_num(vol, nan=0.0)
    return out, mapping


def _cleaned(out: pd.DataFrame, lines: np.ndarray, mapping: dict[str, str], name: str,
             notes: list[str]) -> tuple[pd.DataFrame, pd.Index]:
    """Rows without prices dropped, partly empty ones refused, impossible candles dropped or refused;
    duplicated times and the row order noted. Also returns the duplicated times."""
    prices = out[["open", "high", "low", "close"]]
    # all-empty or all-zero prices mean no trading that period (e.g. investing.com's 0.0 rows
    # for Aug 2016): dropped, so they show as gaps rather than as a crash to zero
    empty_rows = (prices.isna().all(axis=1) | (prices == 0).all(axis=1)).to_numpy()
    if empty_rows.any():
        notes.append(f"{int(empty_rows.sum())} row(s) without prices (empty or all zero) dropped")
        out, lines = out[~empty_rows], lines[~empty_rows]
    partial = out[["open", "high", "low", "close"]].isna()
    if partial.any().any():
        pos = int(np.flatnonzero(partial.any(axis=1).to_numpy())[0])
        col = mapping[partial.columns[partial.iloc[pos].to_numpy()][0]]
        raise CandleError(f"{name}: column '{col}' is empty at {out.index[pos]} (line {lines[pos]})")
    out = _drop_inconsistent(out[["open", "high", "low", "close", "volume"]], lines, name, notes)
    duplicated = out.index[out.index.duplicated()]
    if len(duplicated):
        notes.append(f"{len(duplicated)} duplicated time(s): the last row of each kept")
    if len(out) > 1 and out.index[0] > out.index[-1] and out.index.is_monotonic_decreasing:
        notes.append("rows were newest first: sorted")
    elif not out.index.is_monotonic_increasing:
        notes.append("rows were not in time order: sorted")
    return out, duplicated


def _refuse_what_collapsed_or_mixes(frame: pd.DataFrame, rows_read: int, time_col: str, name: str,
                                    notes: list[str]) -> None:
    if rows_read >= COLLAPSE_MIN_ROWS and len(frame) < rows_read * COLLAPSE_SHARE:
        # Storing 1 candle out of 20 million rows helps no one: say what happened to them.
        raise CandleError(f"{name}: {rows_read:,} rows leave only {len(frame):,} candle(s) ({'; '.join(notes)}); "
                          f"does the time column '{time_col}' tell the rows apart (dates without their times?)")
    switch = timeframe_switch(frame.index)
    if switch is not None:  # read as one timeframe, it would pass as "1 gap" and train on nonsense
        raise CandleError(f"{name}: the file mixes timeframes: {switch.describe()}. Keep one timeframe: "
                          "split the file where it changes, or resample it")


def _read_table(data: bytes, encoding: str, sep: str, skip: int, name: str, time_col: str, ticker_col: str | None,
                number_cols: list[str], decimal: str, thousands: str | None) -> pd.DataFrame:
    """Only the columns used, numbers straight to float64 (text only where a value needs more than
    pandas reads, e.g. ``13.44K``), so memory stays a small multiple of the file size."""
    wanted = {time_col, *number_cols, *([ticker_col] if ticker_col else [])}
    text_cols = {time_col, *([ticker_col] if ticker_col else [])}

    def read(number_dtype: str) -> pd.DataFrame:
        dtypes = {c: ("str" if c in text_cols else number_dtype) for c in wanted}
        table = pd.read_csv(io.BytesIO(data), sep=sep, skiprows=skip, encoding=encoding, skipinitialspace=True,
                            usecols=lambda c: str(c).strip() in wanted, dtype=_StrippedKeys(dtypes),
                            decimal=decimal, thousands=thousands, na_values=sorted(MISSING),
                            keep_default_na=False)
        table.columns = [str(c).strip() for c in table.columns]
        return table

    try:
        try:
            return read("float64")
        except ValueError:
            return read("str")  # e.g. 13.44K or 3.35%: parsed by column_numbers
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise CandleError(f"{name}: not a readable CSV ({str(exc).splitlines()[0]})") from None


class _StrippedKeys(dict):
    """dtype mapping that also matches header names with spaces around them (``' Close'``)."""

    def __contains__(self, key: object) -> bool:
        return str(key).strip() in self.keys()

    def __missing__(self, key: str) -> str:
        return dict.__getitem__(self, str(key).strip())


def _drop_inconsistent(out: pd.DataFrame, lines: np.ndarray, name: str, notes: list[str]) -> pd.DataFrame:
    """A high below the low cannot be a real candle: a few such rows (a feed glitch) are dropped with
    a note naming their lines; many mean the file was misread (swapped or misnamed columns) and it is
    refused. An open or close outside high..low is common in real exports (investing.com's open is
    the previous close, from another feed), so those rows are kept and counted in a note."""
    o, h, lo, c = (out[k].to_numpy() for k in ("open", "high", "low", "close"))
    bad = h < lo
    count = int(bad.sum())
    if count:
        where = ", ".join(str(int(n)) for n in lines[bad][:5]) + (" …" if count > 5 else "")
        if count > max(1, int(MAX_BAD_OHLC_SHARE * len(out))):
            raise CandleError(
                f"{name}: {count:,} of {len(out):,} rows have a high below the low (line(s) {where}); check that "
                "the high and low columns are named right")
        notes.append(f"{count} row(s) with the high below the low dropped (line(s) {where})")
        out, o, h, lo, c = out[~bad], o[~bad], h[~bad], lo[~bad], c[~bad]
    slack = 1e-6 * h  # rounding in exports
    outside = int(((o > h + slack) | (c > h + slack) | (o < lo - slack) | (c < lo - slack)).sum())
    if outside:
        notes.append(f"{outside} row(s) with the open or close outside high–low (kept)")
    return out


def read_candles_csv(source: str | Path | bytes | IO, name: str | None = None, ticker: str | None = None,
                     max_rows: int = MAX_ROWS, columns: Mapping[str, str] | None = None) -> pd.DataFrame:
    """A validated candle frame from a CSV path, bytes or file object (gzip accepted).

    ``name`` is used in messages (default: the file name). ``ticker`` picks one instrument from
    a file with a Ticker/Symbol column. ``columns`` says which column is which (see
    :func:`read_candles_csv_info`). Raises :class:`CandleError` with an actionable message.
    """
    return read_candles_csv_info(source, name, ticker, max_rows=max_rows, columns=columns)[0]
