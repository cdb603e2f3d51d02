"""Number and time text in candle CSVs: the decimal and thousands separators a file uses (found from
its values), numbers like ``1,006.5``, ``100,5``, ``13.44K`` or ``-``, and times as unix seconds to
nanoseconds, ``YYYYMMDD``, ISO 8601 or the spellings exports use.

Every value that cannot be read raises :class:`CandleError` naming the column, the line and the value.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from pricecast.data.candles import CandleError

_SUFFIX = {"K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}
MISSING = frozenset({"", "-", "null", "NULL", "NaN", "nan", "None", "N/A", "n/a"})
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


def number_format(tokens: list[str], sep: str, name: str) -> tuple[str, str | None]:
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


def parse_numbers(raw: pd.Series, col: str, name: str, decimal: str = ".", thousands: str | None = None,
                   lines: np.ndarray | None = None) -> np.ndarray:
    """Numbers from text like ``1,006.5``, ``100,5`` (decimal comma), ``13.44K``, ``-`` (missing -> NaN).

    Raises :class:`CandleError` naming the column, the file line and the value.
    """
    text = raw.astype("string").str.strip()
    missing = (text.isna() | text.isin(MISSING)).to_numpy()
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


_DAY_MONTH = r"^(\d{1,2})([./-])(\d{1,2})[./-](\d{4})(?:$|[ T])"


def day_month_times(text: pd.Series, col: str, name: str) -> tuple[pd.DatetimeIndex, str] | None:
    """``02.01.2024`` / ``01/02/2024`` (optionally with a time): which number is the day is decided
    from the whole column, never per value (pandas' mixed parsing reads ``02/01`` as February and
    ``13/01`` as the 13th in one column). A first number above 12 anywhere: day first; a second one:
    month first; both: refused. Neither (every date ambiguous): dots and dashes day first (European
    exports), slashes month first (US), said in the format label. None: not this kind of date."""
    if text.empty or re.match(_DAY_MONTH, str(text.iloc[0])) is None:
        return None  # cheap first look: ISO and other dates never pay for the column-wide extract
    parts = text.str.extract(_DAY_MONTH)
    if parts[0].isna().any():
        return None
    seps = set(parts[1])
    first, second = parts[0].astype(int), parts[2].astype(int)
    day_first, month_first = bool((first > 12).any()), bool((second > 12).any())
    if day_first and month_first:
        a, b = text[first > 12].iloc[0], text[second > 12].iloc[0]
        raise CandleError(f"{name}: column '{col}' mixes day-first ({a!r}) and month-first ({b!r}) dates")
    assumed = not (day_first or month_first)
    if assumed:
        day_first = not seps <= {"/"}
    sep = next(iter(seps)) if len(seps) == 1 else "."
    label = "DD.MM.YYYY" if day_first else "MM/DD/YYYY"
    label = label.replace(".", sep) if day_first else label.replace("/", sep)
    label += " (assumed: no value in the column tells day from month)" if assumed else " (read from the whole column)"
    try:
        parsed = pd.to_datetime(text, dayfirst=day_first, format="mixed", utc=True)
    except (ValueError, TypeError):
        return None
    return pd.DatetimeIndex(parsed), label


def parse_times(raw: pd.Series, col: str, name: str) -> tuple[pd.DatetimeIndex, str]:
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
    if (ordered := day_month_times(text, col, name)) is not None:
        return ordered
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


def column_numbers(table: pd.DataFrame, col: str, name: str, decimal: str, thousands: str | None,
             lines: np.ndarray) -> np.ndarray:
    column = table[col]
    if pd.api.types.is_float_dtype(column.dtype):
        return column.to_numpy(dtype="float64", na_value=np.nan)
    return parse_numbers(column, col, name, decimal, thousands, lines)
