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

Decisions: a file without volume gets volume 0.0, and one with only a close gets
open = high = low = close; both are noted in :class:`CsvInfo`. A missing time or close column,
and values that cannot be read, raise :class:`CandleError` naming the column, the line and the value.
"""
from __future__ import annotations

import csv
import gzip
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd

from .candles import CandleError, normalize_candles

TIME_NAMES = ("time", "timestamp", "date", "datetime", "date time", "unix", "open time", "open_time",
              "opentime", "time (utc)", "date (utc)", "date(utc)", "ts", "mts")
OPEN_NAMES = ("open", "open price", "opening price", "opening_price")
HIGH_NAMES = ("high", "high price", "high_price")
LOW_NAMES = ("low", "low price", "low_price")
CLOSE_NAMES = ("close", "price", "close price", "closing price", "trade_price", "last")
VOLUME_NAMES = ("volume", "vol.", "vol", "volume_(btc)", "volume (btc)")
TICKER_NAMES = ("ticker", "symbol", "name")
_SUFFIX = {"K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}
_MISSING = frozenset({"", "-", "null", "NULL", "NaN", "nan", "None", "N/A", "n/a"})


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


def _raw_bytes(source: str | Path | bytes | IO) -> tuple[bytes, str]:
    if isinstance(source, (bytes, bytearray)):
        data, name = bytes(source), "uploaded file"
    elif isinstance(source, (str, Path)):
        path = Path(source)
        if not path.exists():
            raise CandleError(f"{path}: no such file")
        data, name = path.read_bytes(), path.name
    else:
        data = source.read()
        name = getattr(source, "name", None) or "uploaded file"
        if isinstance(data, str):
            data = data.encode("utf-8")
    if data[:2] == b"\x1f\x8b":  # gzip magic, whatever the file is called
        data = gzip.decompress(data)
    return data, str(Path(str(name)).name)


def _decode(data: bytes) -> str:
    for enc in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _find(lower: dict[str, str], names: tuple[str, ...]) -> str | None:
    for n in names:
        if n in lower:
            return lower[n]
    return None


def _parse_numbers(raw: pd.Series, col: str, name: str) -> np.ndarray:
    """Numbers from text like ``1,006.5``, ``13.44K``, ``-`` (missing -> NaN).

    Raises :class:`CandleError` naming the column, the file line and the value.
    """
    text = np.array([("" if v is None or v is pd.NA else str(v).strip()) for v in raw], dtype=object)
    values = pd.to_numeric(pd.Series(text, dtype=object), errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    values = values.copy()  # pandas may hand out a read-only view
    for i in np.flatnonzero(np.isnan(values)):
        t = text[i]
        if t in _MISSING:
            continue
        cleaned = t.replace(",", "").replace("%", "").replace(" ", "")
        mult = 1.0
        if cleaned[-1:].upper() in _SUFFIX:
            mult, cleaned = _SUFFIX[cleaned[-1].upper()], cleaned[:-1]
        try:
            number = float(cleaned)
        except ValueError:
            raise CandleError(f"{name}: column '{col}' line {i + 2}: cannot read {t!r} as a number") from None
        values[i] = number * mult
    return values


def _parse_times(raw: pd.Series, col: str, name: str) -> tuple[pd.DatetimeIndex, str]:
    text = raw.astype("string").str.strip()
    if text.isna().any() or (text == "").any():
        pos = int(np.flatnonzero((text.isna() | (text == "")).to_numpy())[0])
        raise CandleError(f"{name}: column '{col}' line {pos + 2}: the time is empty")
    numeric = pd.to_numeric(text, errors="coerce")
    if numeric.notna().all():
        mag = float(np.nanmedian(np.abs(numeric.to_numpy(dtype="float64"))))
        # today is ~1.7e9 s, 1.7e12 ms, 1.7e15 us, 1.7e18 ns; the cut-offs sit between eras
        unit = "s" if mag < 1e11 else "ms" if mag < 1e14 else "us" if mag < 1e17 else "ns"
        if mag < 1e8 and not (text.str.len() >= 9).all():  # e.g. 20170101 or small counters
            if text.str.fullmatch(r"\d{8}").all():
                return pd.DatetimeIndex(pd.to_datetime(text, format="%Y%m%d", utc=True)), "yyyymmdd"
            raise CandleError(f"{name}: column '{col}' holds numbers that are not unix times (e.g. {text.iloc[0]!r})")
        factor = {"s": 1e9, "ms": 1e6, "us": 1e3, "ns": 1}[unit]
        # to whole microseconds: float seconds like 1325317920.123 carry binary noise
        ns = (numeric.to_numpy(dtype="float64") * factor / 1e3).round().astype("int64") * 1000
        return pd.DatetimeIndex(pd.to_datetime(ns, unit="ns", utc=True)), f"unix {unit}"
    for fmt, label in (("ISO8601", "ISO 8601"), ("%b %d, %Y", "Mon DD, YYYY"), ("%d.%m.%Y", "DD.MM.YYYY"),
                       ("%Y-%m-%d %I-%p", "YYYY-MM-DD HH-AM")):  # the last: CryptoDataDownload hourly files
        try:
            return pd.DatetimeIndex(pd.to_datetime(text, format=fmt, utc=True)), label
        except (ValueError, TypeError):
            continue
    parsed = pd.to_datetime(text, format="mixed", utc=True, errors="coerce")
    if parsed.isna().any():
        pos = int(np.flatnonzero(parsed.isna().to_numpy())[0])
        raise CandleError(f"{name}: column '{col}' line {pos + 2}: cannot read {text.iloc[pos]!r} as a date or time")
    return pd.DatetimeIndex(parsed), "mixed"


def read_candles_csv_info(
    source: str | Path | bytes | IO, name: str | None = None, ticker: str | None = None
) -> tuple[pd.DataFrame, CsvInfo]:
    """Like :func:`read_candles_csv`, also returning a :class:`CsvInfo` describing the reading."""
    data, default_name = _raw_bytes(source)
    name = name or default_name
    text = _decode(data)
    lines = text.splitlines()
    skip = 0
    if lines and "http" in lines[0].lower() and (lines[0].count(",") == 0 or (
            len(lines) > 1 and lines[0].count(",") < lines[1].count(","))):
        skip = 1  # CryptoDataDownload banner line ("Timestamps are UTC timezone,https://...")
    sample = "\n".join(lines[skip : skip + 20])
    if not sample.strip():
        raise CandleError(f"{name}: the file is empty")
    try:
        sep = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        sep = ","
    try:
        table = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, skiprows=skip, skipinitialspace=True,
                            keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise CandleError(f"{name}: not a readable CSV ({str(exc).splitlines()[0]})") from None
    table.columns = [str(c).strip() for c in table.columns]
    columns = list(table.columns)
    lower = {c.lower(): c for c in columns}
    have = ", ".join(columns) or "none"
    notes: list[str] = []

    ticker_col = _find(lower, TICKER_NAMES)
    tickers: list[str] = []
    chosen = None
    if ticker_col is not None:
        tickers = sorted(set(table[ticker_col].str.strip()) - {""})
        if ticker is not None:
            match = [t for t in tickers if t.upper() == ticker.strip().upper()]
            if not match:
                raise CandleError(f"{name}: ticker '{ticker}' is not in the file; it holds {', '.join(tickers)}")
            chosen = match[0]
            table = table[table[ticker_col].str.strip() == chosen]
        elif len(tickers) > 1:
            raise CandleError(f"{name}: the file holds {len(tickers)} tickers ({', '.join(tickers)}); choose one (ticker=...)")
        elif tickers:
            chosen = tickers[0]

    time_col = _find(lower, TIME_NAMES)
    close_col = _find(lower, CLOSE_NAMES)
    missing = [n for n, c in (("time (or date/timestamp)", time_col), ("close (or price)", close_col)) if c is None]
    if missing:
        raise CandleError(f"{name}: missing column(s) {', '.join(missing)} (columns present: {have})")
    vol_col = _find(lower, VOLUME_NAMES)
    if vol_col is None:
        vol_col = next((c for c in columns if c.lower().startswith("volume")), None)
    mapping = {"time": time_col, "close": close_col}
    if table.empty:
        raise CandleError(f"{name}: no rows")
    index, time_format = _parse_times(table[time_col], time_col, name)

    out = pd.DataFrame(index=index)
    out["close"] = _parse_numbers(table[close_col], close_col, name)
    for key, names in (("open", OPEN_NAMES), ("high", HIGH_NAMES), ("low", LOW_NAMES)):
        col = _find(lower, names)
        if col is None:
            out[key] = out["close"]
        else:
            mapping[key] = col
            out[key] = _parse_numbers(table[col], col, name)
    filled = [k for k in ("open", "high", "low") if k not in mapping]
    if filled:
        notes.append(f"no {'/'.join(filled)} column: set from close")
    if vol_col is None:
        out["volume"] = 0.0
        notes.append("no volume column: volume set to 0")
    else:
        mapping["volume"] = vol_col
        vol = _parse_numbers(table[vol_col], vol_col, name)
        if np.isnan(vol).any():
            notes.append(f"{int(np.isnan(vol).sum())} row(s) without volume ('-' or empty): set to 0")
        out["volume"] = np.nan_to_num(vol, nan=0.0)

    prices = out[["open", "high", "low", "close"]]
    # all-empty or all-zero prices mean no trading that period (e.g. investing.com's 0.0 rows
    # for Aug 2016): dropped, so they show as gaps rather than as a crash to zero
    empty_rows = prices.isna().all(axis=1) | (prices == 0).all(axis=1)
    if empty_rows.any():
        notes.append(f"{int(empty_rows.sum())} row(s) without prices (empty or all zero) dropped")
        out = out[~empty_rows.to_numpy()]
    partial = out[["open", "high", "low", "close"]].isna()
    if partial.any().any():
        pos = int(np.flatnonzero(partial.any(axis=1).to_numpy())[0])
        col = mapping[partial.columns[partial.iloc[pos].to_numpy()][0]]
        raise CandleError(f"{name}: column '{col}' is empty at {out.index[pos]}")
    out = out[["open", "high", "low", "close", "volume"]]
    duplicated = out.index[out.index.duplicated()]
    if len(duplicated):
        notes.append(f"{len(duplicated)} duplicated time(s): the last row of each kept")
    if len(out) > 1 and out.index[0] > out.index[-1] and out.index.is_monotonic_decreasing:
        notes.append("rows were newest first: sorted")
    elif not out.index.is_monotonic_increasing:
        notes.append("rows were not in time order: sorted")
    frame = normalize_candles(out, name)
    info = CsvInfo(name, len(frame), columns, mapping, time_format, chosen, tickers, notes)
    frame.attrs["csv_notes"] = list(notes)
    # The quality report lists what the file had before it was cleaned up here.
    frame.attrs["duplicates"] = [t.isoformat() for t in duplicated.unique()]
    return frame, info


def read_candles_csv(source: str | Path | bytes | IO, name: str | None = None, ticker: str | None = None) -> pd.DataFrame:
    """A validated candle frame from a CSV path, bytes or file object (gzip accepted).

    ``name`` is used in messages (default: the file name). ``ticker`` picks one instrument from
    a file with a Ticker/Symbol column. Raises :class:`CandleError` with an actionable message.
    """
    return read_candles_csv_info(source, name, ticker)[0]
