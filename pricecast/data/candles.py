"""The one canonical candle frame every source produces and every consumer accepts.

A candle frame is a pandas DataFrame with a UTC ``DatetimeIndex`` named ``time`` and float64
columns ``open, high, low, close, volume``, sorted ascending with unique times.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pricecast.errors import PricecastError

CANDLE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close", "volume")
PRICE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close")


class CandleError(PricecastError):
    """Candles that cannot be used, with a message a person can act on."""


@dataclass(frozen=True)
class Gap:
    """A stretch where candles are missing: ``start`` is the last candle before, ``end`` the first after."""

    start: pd.Timestamp
    end: pd.Timestamp
    missing: int

    def to_dict(self) -> dict:
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "missing": self.missing}


def validate_candles(frame: pd.DataFrame, name: str = "data") -> pd.DataFrame:
    """Check ``frame`` and return it as a canonical candle frame (a new object; input untouched).

    ``frame`` must have a DatetimeIndex (naive times are taken as UTC) and the five candle
    columns (matched case-insensitively). Raises :class:`CandleError` naming what is wrong.
    """
    if not isinstance(frame, pd.DataFrame):
        raise CandleError(f"{name}: expected a table of candles, got {type(frame).__name__}")
    lower = {str(c).strip().lower(): c for c in frame.columns}
    missing = [c for c in CANDLE_COLUMNS if c not in lower]
    if missing:
        have = ", ".join(map(str, frame.columns)) or "none"
        raise CandleError(f"{name}: missing column(s) {', '.join(missing)} (columns present: {have})")
    if not isinstance(frame.index, pd.DatetimeIndex):
        raise CandleError(f"{name}: the index must hold times (got {type(frame.index).__name__})")
    if len(frame) == 0:
        raise CandleError(f"{name}: no candles")
    out = pd.DataFrame(index=frame.index.copy())
    for col in CANDLE_COLUMNS:
        raw = frame[lower[col]]
        values = pd.to_numeric(raw, errors="coerce")
        bad = values.isna()
        if bad.any():
            first = frame.index[np.flatnonzero(bad.to_numpy())[0]]
            raise CandleError(
                f"{name}: column '{col}' has {int(bad.sum())} missing or non-numeric value(s), "
                f"first at {first} (value {raw[bad].iloc[0]!r})"
            )
        out[col] = values.astype("float64")
    prices = out[list(PRICE_COLUMNS)].to_numpy()
    if not np.isfinite(prices).all() or (prices <= 0).any():
        row = int(np.flatnonzero(~(np.isfinite(prices) & (prices > 0)).all(axis=1))[0])
        raise CandleError(f"{name}: prices must be positive and finite; row at {out.index[row]} is not")
    vol = out["volume"].to_numpy()
    if not np.isfinite(vol).all() or (vol < 0).any():
        row = int(np.flatnonzero(~(np.isfinite(vol) & (vol >= 0)))[0])
        raise CandleError(f"{name}: volume must be zero or more; row at {out.index[row]} is not")
    idx = out.index
    idx = idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")
    if idx.hasnans:
        raise CandleError(f"{name}: some times are missing")
    out.index = idx.as_unit("ns").rename("time")
    if idx.has_duplicates:
        dup = idx[idx.duplicated()][0]
        raise CandleError(f"{name}: duplicated time {dup.isoformat()}")
    if not idx.is_monotonic_increasing:
        pos = int(np.flatnonzero(np.diff(idx.as_unit("ns").asi8) < 0)[0])
        raise CandleError(
            f"{name}: times are not in order ({idx[pos].isoformat()} comes before {idx[pos + 1].isoformat()})"
        )
    return out


def normalize_candles(frame: pd.DataFrame, name: str = "data") -> pd.DataFrame:
    """Sort by time and drop duplicated times (keeping the last), then validate.

    For sources that legitimately deliver newest-first or overlapping pages.
    """
    if isinstance(frame.index, pd.DatetimeIndex):
        frame = frame[~frame.index.duplicated(keep="last")].sort_index()
    return validate_candles(frame, name)


def candle_step(index: pd.DatetimeIndex) -> pd.Timedelta:
    """The usual spacing of candles: the median difference between consecutive times."""
    if len(index) < 2:
        raise CandleError("need at least two candles to know their spacing")
    return pd.Timedelta(int(np.median(np.diff(index.as_unit("ns").asi8))), unit="ns")


def is_business_daily(index: pd.DatetimeIndex) -> bool:
    """True for daily candles that skip weekends (stock markets)."""
    if len(index) < 10 or candle_step(index) != pd.Timedelta(days=1):
        return False
    return bool((index.day_of_week < 5).all())


def find_gaps(frame: pd.DataFrame | pd.DatetimeIndex) -> list[Gap]:
    """Where candles are missing. Weekends of business-daily series are not gaps;
    for them a gap is a weekday hole of more than 3 weekdays (holidays are 1-2 days)."""
    index = frame.index if isinstance(frame, pd.DataFrame) else frame
    if len(index) < 3:
        return []
    gaps: list[Gap] = []
    if is_business_daily(index):
        days = index.normalize().tz_localize(None).values.astype("datetime64[D]")
        bdays = np.busday_count(days[:-1], days[1:])
        for i in np.flatnonzero(bdays > 4):
            gaps.append(Gap(index[i], index[i + 1], int(bdays[i]) - 1))
        return gaps
    step = candle_step(index).value
    diffs = np.diff(index.as_unit("ns").asi8)
    for i in np.flatnonzero(diffs > step * 1.5):
        gaps.append(Gap(index[i], index[i + 1], int(round(diffs[i] / step)) - 1))
    return gaps


# A stretch of this many consecutive candles all spaced alike, at least SWITCH_RATIO times as far
# apart (or as close) as the series' usual spacing, is another timeframe, not a run of gaps: gaps
# and market hours vary, a file that goes on from daily to hourly candles does not. (Longest such
# run in the bundled and shared series: 1 candle; a ratio of 2 or 3 can be an illiquid market.)
SWITCH_MIN_CANDLES = 10
SWITCH_RATIO = 4


@dataclass(frozen=True)
class TimeframeSwitch:
    """Candles ``first`` .. ``last`` are ``spacing`` apart; the rest of the series ``usual`` apart."""

    first: pd.Timestamp
    last: pd.Timestamp
    spacing: pd.Timedelta
    usual: pd.Timedelta

    def describe(self) -> str:
        return (f"the candles from {self.first.isoformat()} to {self.last.isoformat()} are {_span(self.spacing)} "
                f"apart, the others {_span(self.usual)} apart")


def _span(delta: pd.Timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return str(delta)


def timeframe_switch(index: pd.DatetimeIndex) -> TimeframeSwitch | None:
    """The first stretch of :data:`SWITCH_MIN_CANDLES` or more candles in another timeframe than
    the rest (a daily file continued with hourly candles), or None."""
    if len(index) <= SWITCH_MIN_CANDLES:
        return None
    step = candle_step(index).value
    diffs = np.diff(index.as_unit("ns").asi8)
    other = (diffs >= SWITCH_RATIO * step) | (diffs * SWITCH_RATIO <= step)
    starts = np.flatnonzero(np.concatenate(([True], diffs[1:] != diffs[:-1])))  # runs of equal spacing
    lengths = np.diff(np.append(starts, len(diffs)))
    for start, length in zip(starts, lengths):
        if length >= SWITCH_MIN_CANDLES - 1 and other[start]:
            return TimeframeSwitch(index[start], index[start + length], pd.Timedelta(int(diffs[start]), unit="ns"),
                                   pd.Timedelta(step, unit="ns"))
    return None


def date_remark(index: pd.DatetimeIndex, now: pd.Timestamp | None = None) -> str | None:
    """A remark on candles dated before 1900 (a spreadsheet's empty date reads as 1899-12-30) or
    in the future (a mistyped year, a wrong time unit): possible, but nearly always a mistake."""
    now = now if now is not None else pd.Timestamp.now(tz="UTC")
    early = index[index < pd.Timestamp("1900-01-01", tz="UTC")]
    late = index[index > now + pd.Timedelta(days=1)]
    parts = []
    if len(early):
        parts.append(f"{len(early):,} candle(s) dated before 1900 (first {early[0]:%Y-%m-%d}: a spreadsheet's empty "
                     "date reads as 1899-12-30)")
    if len(late):
        parts.append(f"{len(late):,} candle(s) dated in the future (last {late[-1]:%Y-%m-%d})")
    if not parts:
        return None
    return " and ".join(parts) + ": check the time column (its format or unit) or remove those rows"


def summarize(frame: pd.DataFrame) -> dict:
    """Rows, first and last time, spacing and gaps, as plain JSON-ready values."""
    gaps = find_gaps(frame)
    return {
        "rows": int(len(frame)),
        "first": frame.index[0].isoformat(),
        "last": frame.index[-1].isoformat(),
        "step": str(candle_step(frame.index)) if len(frame) > 1 else None,
        "gaps": len(gaps),
        "missing_candles": int(sum(g.missing for g in gaps)),
        "gap_list": [g.to_dict() for g in gaps[:20]],
    }


def to_utc(value: object, what: str) -> pd.Timestamp | None:
    """A UTC timestamp from a datetime or a string like ``2024-01-01`` (naive means UTC); None for nothing.
    ``what`` names the setting in the message (``since``, ``until``)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise CandleError(f"{what}: '{value}' is not a date or time (example: 2024-01-01 or 2024-01-01T12:00)") from None
    if ts is pd.NaT:
        raise CandleError(f"{what}: '{value}' is not a date or time")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
