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
"""
from __future__ import annotations

import codecs
import csv
import gzip
import io
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd

from pricecast.data.candles import CandleError, normalize_candles

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
# A compressed file may unpack to at most this much; plain files have no cap (their size is what it is).
MAX_UNPACKED_BYTES = 512 * 2**20
# OHLC rows that contradict themselves: up to this share (at least one row) are dropped with a note,
# more means the columns or the number format were misread, and the file is refused.
MAX_BAD_OHLC_SHARE = 0.01
GZIP_MAGIC = b"\x1f\x8b"
_SEPARATORS = (",", ";", "\t", "|")
_SAMPLE_BYTES = 256 * 1024
_TAIL_BYTES = 64 * 1024
_CONTROL_BYTES = bytes(b for b in range(32) if b not in (9, 10, 12, 13, 27))
_BINARY_MAGIC = (
    (b"PK\x03\x04", "a ZIP archive or an Excel .xlsx workbook"),
    (b"\xd0\xcf\x11\xe0", "an old Excel .xls workbook"),
    (b"%PDF", "a PDF document"),
    (b"\x7fELF", "a program"),
    (b"PAR1", "a Parquet file"),
    (b"\x89HDF", "an HDF5 file"),
    (b"BZh", "bzip2-compressed"),
    (b"\xfd7zXZ", "xz-compressed"),
)
# Shapes of number text, most specific first, for telling decimal commas from thousands separators.
_NUMBER_SHAPES = tuple((kind, re.compile(pattern)) for kind, pattern in (
    ("point thousands, comma decimal", r"\d{1,3}(\.\d{3})+,\d+"),
    ("comma thousands, point decimal", r"\d{1,3}(,\d{3})+\.\d+"),
    ("comma groups", r"\d{1,3}(,\d{3})+"),
    ("point groups", r"\d{1,3}(\.\d{3})+"),
    ("space thousands", r"\d{1,3}( \d{3})+([.,]\d+)?"),
    ("comma decimal", r"\d*,\d+"),
    ("point decimal", r"\d*\.\d+"),
))
_ONE_COMMA_GROUP = re.compile(r"[+-]?\d{1,3},\d{3}")


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


def _raw_bytes(source: str | Path | bytes | IO, max_bytes: int, given_name: str | None) -> tuple[bytes, str]:
    if isinstance(source, (bytes, bytearray)):
        data, name = bytes(source), given_name or "uploaded file"
    elif isinstance(source, (str, Path)):
        path = Path(source)
        if not path.exists():
            raise CandleError(f"{path}: no such file")
        if path.is_dir():
            raise CandleError(f"{path}: is a folder, not a CSV file")
        name = given_name or path.name
        with path.open("rb") as handle:
            magic = handle.read(2)
            handle.seek(0)
            # a compressed file is unpacked straight from disk, so its packed bytes are never all held
            data = _gunzip(handle, max_bytes, name) if magic == GZIP_MAGIC else handle.read()
        return data, name
    else:
        data = source.read()
        name = given_name or str(Path(str(getattr(source, "name", None) or "uploaded file")).name)
        if isinstance(data, str):
            data = data.encode("utf-8")
    if data[:2] == GZIP_MAGIC:  # gzip magic, whatever the file is called
        data = _gunzip(io.BytesIO(data), max_bytes, name)
    return data, name


def _gunzip(handle: IO[bytes], max_bytes: int, name: str) -> bytes:
    """Unpack gzip in chunks, stopping as soon as the output passes ``max_bytes``: a small file
    that unpacks to gigabytes (a gzip bomb) costs at most the cap, not all of the memory."""
    out = io.BytesIO()
    try:
        with gzip.GzipFile(fileobj=handle, mode="rb") as unpacked:
            while chunk := unpacked.read(1 << 20):
                out.write(chunk)
                if out.tell() > max_bytes:
                    raise CandleError(
                        f"{name}: unpacks to more than {max_bytes / 2**20:,.0f} MB, the limit for compressed "
                        "files; unpack it yourself and load the .csv, or keep only the dates you need")
    except (OSError, EOFError, zlib.error) as exc:
        raise CandleError(f"{name}: not a readable gzip file ({exc})") from None
    return out.getvalue()


def _text_encoding(data: bytes, name: str) -> tuple[bytes, str]:
    """The bytes to parse and their encoding: UTF-16 is re-encoded as UTF-8; binary files are refused."""
    if data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) or _looks_utf16le(data[:4096]):
        codec = "utf-16" if data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) else "utf-16-le"
        try:
            data = data.decode(codec).encode("utf-8")
        except UnicodeDecodeError:
            raise CandleError(f"{name}: starts like UTF-16 text but cannot be read as it") from None
    head = data[:65536]
    for magic, what in _BINARY_MAGIC:
        if head.startswith(magic):
            raise CandleError(f"{name}: not a text CSV (it is {what}); export the candles as CSV first")
    controls = sum(head.count(bytes([b])) for b in _CONTROL_BYTES)
    if b"\x00" in head or controls > len(head) // 100:
        raise CandleError(f"{name}: not a text CSV (it holds binary data); choose a .csv file of candles")
    if data.startswith(codecs.BOM_UTF8):
        return data, "utf-8-sig"
    for encoding in ("utf-8", "cp1252"):
        if _decodes(data, encoding):
            return data, encoding
    return data, "latin-1"


def _looks_utf16le(head: bytes) -> bool:
    """UTF-16 without a byte-order mark: ASCII text with a NUL after every character."""
    if len(head) < 8:
        return False
    odd = head[1::2]
    return odd.count(0) > 0.9 * len(odd) and head[0::2].count(0) < 0.1 * len(odd)


def _decodes(data: bytes, encoding: str) -> bool:
    # chunk by chunk: checking a 300 MB file must not build a 300 MB string
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        for start in range(0, len(data), 1 << 22):
            decoder.decode(data[start : start + (1 << 22)])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _find(lower: dict[str, str], names: tuple[str, ...]) -> str | None:
    for n in names:
        if n in lower:
            return lower[n]
    return None


def _sample_rows(data: bytes, encoding: str, sep: str, skip: int) -> tuple[list[str], list[list[str]]]:
    """The header and some rows from the start and the end of the file (for the number format)."""
    head = data[:_SAMPLE_BYTES].decode(encoding, errors="replace")
    head_lines = head.splitlines()
    if len(data) > _SAMPLE_BYTES and head_lines:
        head_lines = head_lines[:-1]  # cut mid-line
    rows = [r for r in csv.reader(head_lines[skip:], delimiter=sep, skipinitialspace=True) if r]
    if len(data) > _SAMPLE_BYTES:
        tail = data[-_TAIL_BYTES:].decode(encoding, errors="replace").splitlines()[1:]
        rows += [r for r in csv.reader(tail, delimiter=sep, skipinitialspace=True) if r]
    if not rows:
        return [], []
    header = [c.strip() for c in rows[0]]
    return header, [r for r in rows[1:] if len(r) == len(header)]


def _fields(line: str) -> int:
    return max(line.count(sep) for sep in _SEPARATORS)


def _delimiter(lines: list[str]) -> str:
    """The separator that splits the header and the first rows into the same number of fields
    (more than one); csv.Sniffer prefers ',' and so misreads ``;`` files with decimal commas."""
    best, best_width = None, 1
    for sep in _SEPARATORS:
        widths = {len(r) for r in csv.reader(lines, delimiter=sep, skipinitialspace=True) if r}
        if len(widths) == 1 and (width := widths.pop()) > best_width:
            best, best_width = sep, width
    if best is not None:
        return best
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters="".join(_SEPARATORS)).delimiter
    except csv.Error:
        return ","


def _number_format(tokens: list[str], sep: str, name: str) -> tuple[str, str | None]:
    """(decimal separator, thousands separator or None) from sample values of the price columns."""
    seen: dict[str, str] = {}
    for raw in tokens:
        t = raw.strip().lstrip("+-").rstrip("%")
        if t[-1:].upper() in _SUFFIX:
            t = t[:-1]
        for kind, pattern in _NUMBER_SHAPES:
            if pattern.fullmatch(t):
                seen.setdefault(kind, raw.strip())
                break
    comma = seen.get("comma decimal") or seen.get("point thousands, comma decimal")
    point = seen.get("point decimal") or seen.get("comma thousands, point decimal")
    if comma and point:
        raise CandleError(f"{name}: mixes decimal commas (e.g. {comma!r}) and decimal points (e.g. {point!r}); "
                          "save the file with one decimal separator")
    if comma:
        return ",", "." if ("point thousands, comma decimal" in seen or "point groups" in seen) else _space(seen)
    if point:
        return ".", "," if ("comma thousands, point decimal" in seen or "comma groups" in seen) else _space(seen)
    if "point groups" in seen and "comma groups" not in seen:
        return ".", _space(seen)  # 1.234 alone: a decimal point (three-decimal prices are common)
    if "comma groups" in seen:
        # "1,006" alone: a thousands separator in a comma-separated file (quoted, investing.com);
        # a decimal comma where fields are split by ';' or tabs (the European spreadsheet habit)
        single = all(_ONE_COMMA_GROUP.fullmatch(t.strip()) for t in tokens if "," in t)
        return (",", _space(seen)) if single and sep in ";\t" else (".", ",")
    return ".", _space(seen)


def _space(seen: dict[str, str]) -> str | None:
    return " " if "space thousands" in seen else None


def _parse_numbers(raw: pd.Series, col: str, name: str, decimal: str = ".", thousands: str | None = None,
                   lines: np.ndarray | None = None) -> np.ndarray:
    """Numbers from text like ``1,006.5``, ``100,5`` (decimal comma), ``13.44K``, ``-`` (missing -> NaN).

    Raises :class:`CandleError` naming the column, the file line and the value.
    """
    text = raw.astype("string").str.strip()
    missing = (text.isna() | text.isin(_MISSING)).to_numpy()
    cleaned = text.str.replace("%", "", regex=False).str.replace(" ", "", regex=False)
    if thousands:
        cleaned = cleaned.str.replace(thousands, "", regex=False)
    if decimal != ".":
        cleaned = cleaned.str.replace(decimal, ".", regex=False)
    suffix = cleaned.str[-1:].str.upper()
    mult = suffix.map(_SUFFIX).astype("float64").fillna(1.0).to_numpy()
    cleaned = cleaned.where(mult == 1.0, cleaned.str[:-1])
    values = pd.to_numeric(cleaned, errors="coerce").to_numpy(dtype="float64", na_value=np.nan) * mult
    bad = np.isnan(values) & ~missing
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        line = int(lines[i]) if lines is not None else i + 2
        raise CandleError(f"{name}: column '{col}' line {line}: cannot read {text.iloc[i]!r} as a number")
    values[missing] = np.nan
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
                        ("%Y-%m-%d %I-%p", "YYYY-MM-DD HH-AM (CryptoDataDownload)")):
        try:
            return pd.DatetimeIndex(pd.to_datetime(text, format=fmt, utc=True)), label
        except (ValueError, TypeError):
            continue
    parsed = pd.to_datetime(text, format="mixed", utc=True, errors="coerce")
    if parsed.isna().any():
        pos = int(np.flatnonzero(parsed.isna().to_numpy())[0])
        raise CandleError(f"{name}: column '{col}' line {pos + 2}: cannot read {text.iloc[pos]!r} as a date or time")
    return pd.DatetimeIndex(parsed), "mixed"


# too complex for C901 and left so: one branch per CSV layout people have
def read_candles_csv_info(  # noqa: C901
    source: str | Path | bytes | IO, name: str | None = None, ticker: str | None = None,
    max_unpacked_bytes: int = MAX_UNPACKED_BYTES,
) -> tuple[pd.DataFrame, CsvInfo]:
    """Like :func:`read_candles_csv`, also returning a :class:`CsvInfo` describing the reading."""
    data, name = _raw_bytes(source, max_unpacked_bytes, name)
    data, encoding = _text_encoding(data, name)
    first = data[:_SAMPLE_BYTES].decode(encoding, errors="replace").splitlines()
    skip = 0
    if len(first) > 1 and "http" in first[0].lower() and _fields(first[0]) < _fields(first[1]):
        skip = 1  # CryptoDataDownload banner line
    if not "".join(first[skip : skip + 20]).strip():
        raise CandleError(f"{name}: the file is empty")
    sep = _delimiter([line for line in first[skip : skip + 20] if line.strip()])
    header, sample = _sample_rows(data, encoding, sep, skip)
    columns = [c for c in header if c] if header else []
    lower = {c.lower(): c for c in columns}
    have = ", ".join(columns) or "none"
    notes: list[str] = []

    ticker_col = _find(lower, TICKER_NAMES)
    time_col = _find(lower, TIME_NAMES)
    close_col = _find(lower, CLOSE_NAMES)
    missing = [n for n, c in (("time (or date/timestamp)", time_col), ("close (or price)", close_col)) if c is None]
    if missing:
        raise CandleError(f"{name}: missing column(s) {', '.join(missing)} (columns present: {have})")
    vol_col = _find(lower, VOLUME_NAMES)
    if vol_col is None:
        vol_col = next((c for c in columns if c.lower().startswith("volume")), None)
    price_cols = {"close": close_col}
    for key, names in (("open", OPEN_NAMES), ("high", HIGH_NAMES), ("low", LOW_NAMES)):
        if (col := _find(lower, names)) is not None:
            price_cols[key] = col
    number_cols = [*price_cols.values(), *([vol_col] if vol_col else [])]
    positions = [header.index(c) for c in number_cols]
    decimal, thousands = _number_format([row[i] for row in sample for i in positions], sep, name)
    if decimal == ",":
        notes.append("decimal commas read as decimal points (100,5 = 100.5)")
    table = _read_table(data, encoding, sep, skip, name, time_col, ticker_col, number_cols, decimal, thousands)
    first_line = skip + 2  # header line + 1-based

    tickers: list[str] = []
    chosen = None
    if ticker_col is not None:
        names_in_file = table[ticker_col].astype("string").str.strip()
        tickers = sorted(set(names_in_file.dropna()) - {""})
        if ticker is not None:
            match = [t for t in tickers if t.upper() == ticker.strip().upper()]
            if not match:
                raise CandleError(f"{name}: ticker '{ticker}' is not in the file; it holds {', '.join(tickers)}")
            chosen = match[0]
            table = table[(names_in_file == chosen).fillna(False).to_numpy()]
        elif len(tickers) > 1:
            raise CandleError(f"{name}: the file holds {len(tickers)} tickers ({', '.join(tickers)}); choose one (ticker=...)")
        elif tickers:
            chosen = tickers[0]

    mapping = {"time": time_col, "close": close_col}
    if table.empty:
        raise CandleError(f"{name}: no rows")
    lines = table.index.to_numpy() + first_line  # read_csv numbers rows 0.. in file order
    index, time_format = _parse_times(table[time_col], time_col, name)

    out = pd.DataFrame(index=index)
    out["close"] = _numbers(table, close_col, name, decimal, thousands, lines)
    for key in ("open", "high", "low"):
        if key in price_cols:
            mapping[key] = price_cols[key]
            out[key] = _numbers(table, price_cols[key], name, decimal, thousands, lines)
        else:
            out[key] = out["close"]
    filled = [k for k in ("open", "high", "low") if k not in mapping]
    if filled:
        notes.append(f"no {'/'.join(filled)} column: set from close")
    if vol_col is None:
        out["volume"] = 0.0
        notes.append("no volume column: volume set to 0")
    else:
        mapping["volume"] = vol_col
        vol = _numbers(table, vol_col, name, decimal, thousands, lines)
        if np.isnan(vol).any():
            notes.append(f"{int(np.isnan(vol).sum())} row(s) without volume ('-' or empty): set to 0")
        out["volume"] = np.nan_to_num(vol, nan=0.0)
    del table

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
    frame = normalize_candles(out, name)
    info = CsvInfo(name, len(frame), columns, mapping, time_format, chosen, tickers, notes)
    frame.attrs["csv_notes"] = list(notes)
    # The quality report lists what the file had before it was cleaned up here.
    frame.attrs["duplicates"] = [t.isoformat() for t in duplicated.unique()]
    return frame, info


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
                            decimal=decimal, thousands=thousands, na_values=sorted(_MISSING),
                            keep_default_na=False)
        table.columns = [str(c).strip() for c in table.columns]
        return table

    try:
        try:
            return read("float64")
        except ValueError:
            return read("str")  # e.g. 13.44K or 3.35%: parsed by _numbers
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise CandleError(f"{name}: not a readable CSV ({str(exc).splitlines()[0]})") from None


class _StrippedKeys(dict):
    """dtype mapping that also matches header names with spaces around them (``' Close'``)."""

    def __contains__(self, key: object) -> bool:
        return str(key).strip() in self.keys()

    def __missing__(self, key: str) -> str:
        return dict.__getitem__(self, str(key).strip())


def _numbers(table: pd.DataFrame, col: str, name: str, decimal: str, thousands: str | None,
             lines: np.ndarray) -> np.ndarray:
    column = table[col]
    if pd.api.types.is_float_dtype(column.dtype):
        return column.to_numpy(dtype="float64", na_value=np.nan)
    return _parse_numbers(column, col, name, decimal, thousands, lines)


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


def read_candles_csv(source: str | Path | bytes | IO, name: str | None = None, ticker: str | None = None) -> pd.DataFrame:
    """A validated candle frame from a CSV path, bytes or file object (gzip accepted).

    ``name`` is used in messages (default: the file name). ``ticker`` picks one instrument from
    a file with a Ticker/Symbol column. Raises :class:`CandleError` with an actionable message.
    """
    return read_candles_csv_info(source, name, ticker)[0]
