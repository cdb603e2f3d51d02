"""Input columns derived from the candles, each computed without look-ahead.

Every value at row t uses rows <= t only (trailing windows, previous rows). Where a feature is not
defined yet (the first row has no previous close; a 20-row volatility has fewer than 20 returns
in its first rows) it is filled from the past only, never dropped and never back-filled: the
first return and volume change are 0 ("no change known yet"), a rolling volatility uses the returns
there are so far (0 on the first row). Dropping those rows instead would shift the train /
validation / test cut and the rows every window and prediction refers to. Because nothing reads
ahead, computing a feature on ``candles[:t]`` gives the same values up to t as on the whole
series; :func:`truncation_leaks` checks exactly that (the look-ahead checks run it with every
training) and :func:`pricecast.evaluation.leakage.check_features` reports it.

Time-of-day and day-of-week are encoded as sine/cosine pairs (23:00 is next to 00:00, Sunday next
to Monday) in UTC. Time of day is only meaningful on intraday candles and is refused on daily ones.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pricecast.data.candles import CANDLE_COLUMNS, CandleError, candle_step

VOLATILITY_WINDOWS: tuple[int, ...] = (5, 20)


class FeatureError(CandleError):
    """A derived input that does not fit the data (e.g. time of day on daily candles)."""


@dataclass(frozen=True)
class Feature:
    """One derived column: ``compute(candles) -> (rows,) float64``; ``uses`` the candle columns it reads."""

    name: str
    help: str
    compute: Callable[[pd.DataFrame], np.ndarray]
    uses: tuple[str, ...]
    intraday: bool = False  # only meaningful on candles shorter than a day


def log_return(candles: pd.DataFrame) -> np.ndarray:
    close = candles["close"].to_numpy(dtype=np.float64)
    out = np.zeros(len(close))
    out[1:] = np.log(close[1:] / close[:-1])
    return out


def high_low_range(candles: pd.DataFrame) -> np.ndarray:
    high, low, close = (candles[c].to_numpy(dtype=np.float64) for c in ("high", "low", "close"))
    return (high - low) / close


def volume_change(candles: pd.DataFrame) -> np.ndarray:
    # log1p: a candle without trades (volume 0) gives a finite change, not log(0)
    lv = np.log1p(np.maximum(candles["volume"].to_numpy(dtype=np.float64), 0.0))
    out = np.zeros(len(lv))
    out[1:] = lv[1:] - lv[:-1]
    return out


def volatility(window: int) -> Callable[[pd.DataFrame], np.ndarray]:
    def compute(candles: pd.DataFrame) -> np.ndarray:
        # population std of the trailing `window` returns (fewer at the start: those there are)
        returns = pd.Series(log_return(candles))
        return returns.rolling(window, min_periods=1).std(ddof=0).to_numpy(dtype=np.float64)
    return compute


def _utc(candles: pd.DataFrame) -> pd.DatetimeIndex:
    index = pd.DatetimeIndex(candles.index)
    return index.tz_convert("UTC") if index.tz is not None else index


def _day_fraction(candles: pd.DataFrame) -> np.ndarray:
    index = _utc(candles)
    seconds = index.hour * 3600 + index.minute * 60 + index.second
    return np.asarray(seconds, dtype=np.float64) / 86400.0


def _week_fraction(candles: pd.DataFrame) -> np.ndarray:
    return np.asarray(_utc(candles).day_of_week, dtype=np.float64) / 7.0


def _cycle(fraction: Callable[[pd.DataFrame], np.ndarray], fn: Callable) -> Callable[[pd.DataFrame], np.ndarray]:
    return lambda candles: fn(2 * np.pi * fraction(candles))


DERIVED: dict[str, Feature] = {f.name: f for f in (
    Feature("log_return", "log return of the close: log(close / previous close); 0 on the first row",
            log_return, ("close",)),
    Feature("range", "high-low range relative to the close: (high - low) / close", high_low_range,
            ("high", "low", "close")),
    Feature("volume_change", "change of volume as a log ratio, log(1 + volume) - log(1 + previous volume)",
            volume_change, ("volume",)),
    *(Feature(f"vol_{w}", f"volatility: standard deviation of the last {w} log returns", volatility(w), ("close",))
      for w in VOLATILITY_WINDOWS),
    Feature("hour_sin", "time of day (UTC), sine", _cycle(_day_fraction, np.sin), (), intraday=True),
    Feature("hour_cos", "time of day (UTC), cosine", _cycle(_day_fraction, np.cos), (), intraday=True),
    Feature("dow_sin", "day of the week (UTC), sine", _cycle(_week_fraction, np.sin), ()),
    Feature("dow_cos", "day of the week (UTC), cosine", _cycle(_week_fraction, np.cos), ()),
)}
# One name for a sine/cosine pair: ``--features close,hour`` means close, hour_sin, hour_cos.
PAIRS: dict[str, tuple[str, str]] = {"hour": ("hour_sin", "hour_cos"), "weekday": ("dow_sin", "dow_cos")}
INPUT_COLUMNS: tuple[str, ...] = (*CANDLE_COLUMNS, *DERIVED)
# What WindowSpec.features accepts (the pairs' short names are expanded when the spec is made).
FEATURE_CHOICES: tuple[str, ...] = (*INPUT_COLUMNS, *PAIRS)
# What the Model page offers: candle columns, single derived columns and the pairs by their short names.
PAGE_CHOICES: tuple[str, ...] = (*CANDLE_COLUMNS, *(n for n in DERIVED if not any(n in p for p in PAIRS.values())),
                                 *PAIRS)
PAGE_HELP: dict[str, str] = {
    **{c: f"the candles' {c}" for c in CANDLE_COLUMNS},
    **{n: f.help for n, f in DERIVED.items()},
    "hour": "time of day (UTC) as a sine/cosine pair: intraday patterns such as market opens (intraday data only)",
    "weekday": "day of the week (UTC) as a sine/cosine pair: weekly patterns",
}


def expand(names: Iterable[str]) -> tuple[str, ...]:
    """Input column names with each pair's short name (``hour``, ``weekday``) replaced by its two columns."""
    return tuple(c for n in names for c in PAIRS.get(n, (n,)))


def collapse(columns: Iterable[str]) -> tuple[str, ...]:
    """The reverse of :func:`expand` where both columns of a pair are there (the Model page's labels)."""
    cols = tuple(columns)
    out: list[str] = []
    for c in cols:
        pair = next((short for short, pc in PAIRS.items() if c in pc and all(p in cols for p in pc)), None)
        name = pair or c
        if name not in out:
            out.append(name)
    return tuple(out)


def is_intraday(index: pd.DatetimeIndex) -> bool:
    return len(index) >= 2 and candle_step(pd.DatetimeIndex(index)) < pd.Timedelta(days=1)


def source_columns(names: Iterable[str]) -> tuple[str, ...]:
    """The candle columns that ``names`` (candle or derived columns) are read from, in order, once each."""
    out: list[str] = []
    for n in names:
        out += [c for c in (DERIVED[n].uses if n in DERIVED else (n,)) if c not in out]
    return tuple(out)


def column(candles: pd.DataFrame, name: str) -> np.ndarray:
    """The input column ``name`` as (rows,) float64: a candle column, or the derived feature computed here.
    Raises :class:`FeatureError` for an intraday-only feature on daily (or coarser) candles."""
    if name in candles.columns:
        return candles[name].to_numpy(dtype=np.float64, copy=False)
    feature = DERIVED.get(name)
    if feature is None:
        raise FeatureError(f"unknown input feature '{name}'; choose from {', '.join(FEATURE_CHOICES)}")
    if feature.intraday and len(candles) >= 2 and not is_intraday(candles.index):
        raise FeatureError(f"time of day ('hour', column {name}) needs intraday candles; these are "
                           f"{candle_step(pd.DatetimeIndex(candles.index))} apart: drop 'hour' from the input features")
    return np.asarray(feature.compute(candles), dtype=np.float64)


def truncation_leaks(candles: pd.DataFrame, values: np.ndarray, names: tuple[str, ...],
                     cut: int) -> dict[str, tuple[int, float, float]]:
    """Derived columns whose values in rows ``[0, cut)`` of ``values`` (what the windows hold) differ
    from the same feature recomputed on ``candles[:cut]`` — a feature that changes when later rows
    are removed reads the future. ``{name: (first row that differs, value held, value recomputed)}``."""
    out: dict[str, tuple[int, float, float]] = {}
    head = candles.iloc[:cut]
    for j, name in enumerate(names):
        if name not in DERIVED or name in candles.columns or cut < 1:
            continue
        held = np.asarray(values[:cut, j], dtype=np.float64)
        honest = column(head, name)
        same = np.isclose(held, honest, rtol=1e-9, atol=1e-12, equal_nan=True)
        if not same.all():
            row = int(np.argmin(same))
            out[name] = (row, float(held[row]), float(honest[row]))
    return out
