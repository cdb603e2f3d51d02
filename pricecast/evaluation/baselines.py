"""The naive forecasts each target must beat, and the choice of the strongest one on validation.

Persistence ("the next K values equal the last one") is the right yardstick for prices, which move
almost like a random walk. For volume and volatility it is the wrong one: they follow a daily cycle
and cluster, so a plain moving average or "the same hour yesterday" beats persistence by far, and a
model that beats only persistence may have learned nothing a one-liner doesn't know. Each target
(:mod:`pricecast.prep.targets`) lists its baselines; :func:`best_on_validation` picks the strongest
on the validation part (never test), and the metrics report skill against it too.

The seasonal naive forecast ("same time one day / one week earlier", intraday data only) looks the
value up by time, not by row offset: on a series with gaps, 24 rows back is not one day back. Where
that earlier candle is missing (a gap), the forecast falls back to the last known value.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from pricecast.evaluation.metrics import MA_WINDOW, baseline_forecasts, evaluate
from pricecast.prep.features import is_intraday
from pricecast.prep.targets import get_target
from pricecast.prep.windows import WindowPart, WindowSet

SEASONS: dict[str, pd.Timedelta] = {"seasonal_day": pd.Timedelta(days=1), "seasonal_week": pd.Timedelta(days=7)}
LABELS: dict[str, str] = {
    "persistence": "persistence (last value)", "drift": "drift", "moving_average": "moving average",
    "seasonal_day": "same time yesterday", "seasonal_week": "same time last week", "ewma": "EWMA",
    "zero": "zero (no change)",
}


def day_candles(times: pd.DatetimeIndex | None) -> int | None:
    """Candles per day on intraday data (24 on hourly), else None."""
    if times is None or not is_intraday(times):
        return None
    step = pd.Series(times[1:] - times[:-1]).median()
    return max(1, int(round(pd.Timedelta(days=1) / step)))


def seasonal_naive(times: pd.DatetimeIndex, series: np.ndarray, origin: np.ndarray, k: int,
                   period: pd.Timedelta, future: pd.DatetimeIndex | None = None) -> np.ndarray:
    """(m, k): for the target at time T (the window's step h), the value at T - j * period, with the
    smallest j >= 1 that is known at the window's origin time. Looked up by time, so gaps are
    respected; where that time is missing from the series, the last known value instead. ``future``
    (k times after the last row): the times of a forecast beyond the series (one window, the last row)."""
    stamps = _ns(times)
    origin = np.asarray(origin, dtype=np.int64)
    if future is not None:
        wanted_time = _ns(future)[None, :k].repeat(len(origin), axis=0)
    else:
        out_rows = origin[:, None] + np.arange(1, k + 1)[None, :]
        wanted_time = stamps[np.minimum(out_rows, len(stamps) - 1)]
    origin_time = stamps[origin][:, None]
    p = int(period.value)
    periods = np.maximum(1, -((origin_time - wanted_time) // p))  # ceil((T - origin) / period)
    source = wanted_time - periods * p
    pos = np.searchsorted(stamps, source.ravel()).reshape(source.shape)
    found = (pos < len(stamps)) & (stamps[np.minimum(pos, len(stamps) - 1)] == source)
    last = np.repeat(np.asarray(series, dtype=np.float64)[origin][:, None], k, axis=1)
    return np.where(found, np.asarray(series, dtype=np.float64)[np.minimum(pos, len(stamps) - 1)], last)


def ewma(history: np.ndarray, span: int) -> np.ndarray:
    """(m,): the exponentially weighted mean of each history row (newest weighs most), over its n values."""
    n = history.shape[1]
    alpha = 2.0 / (span + 1.0)
    weights = (1.0 - alpha) ** np.arange(n - 1, -1, -1, dtype=np.float64)
    return history @ (weights / weights.sum())


def naive_forecasts(target: str, history: np.ndarray, k: int, times: pd.DatetimeIndex | None = None,
                    series: np.ndarray | None = None, origin: np.ndarray | None = None,
                    future: pd.DatetimeIndex | None = None) -> dict[str, np.ndarray]:
    """The target's naive K-step forecasts, name -> (m, k), from each window's history (m, n) and, for
    the seasonal ones, the series with its times and each window's origin row (left out without them,
    or on daily data); ``future``: the K times after the series' end, for the next forecast.
    Prices keep persistence, drift and a 20-step moving average."""
    history = np.asarray(history, dtype=np.float64)
    spec = get_target(target)
    if spec.is_price:
        return baseline_forecasts(history, k)
    m, n = history.shape
    per_day = day_candles(times)
    window = min(n, per_day or MA_WINDOW)
    out: dict[str, np.ndarray] = {}
    for name in spec.baselines:
        if name == "persistence":
            out[name] = np.repeat(history[:, -1:], k, axis=1)
        elif name == "zero":
            out[name] = np.zeros((m, k))
        elif name == "moving_average":
            out[name] = np.repeat(history[:, -window:].mean(axis=1, keepdims=True), k, axis=1)
        elif name == "ewma":
            out[name] = np.repeat(ewma(history, per_day or MA_WINDOW)[:, None], k, axis=1)
        elif name == "drift":
            out[name] = baseline_forecasts(history, k)[name]
        elif name in SEASONS and per_day and series is not None and origin is not None:
            out[name] = seasonal_naive(times, series, origin, k, SEASONS[name], future)
    return out


def fallback_candidates(target: str, forecasts: dict[str, np.ndarray] | None, k: int) -> dict[str, np.ndarray]:
    """The naive forecasts a run may fall back to (the decision takes the best of them on validation):
    every baseline of the target, persistence alone for prices ("no change" is the floor there).
    ``forecasts`` None (no validation windows): an empty persistence forecast."""
    if forecasts is None:
        return {"persistence": np.empty((0, k))}
    return {"persistence": forecasts["persistence"]} if get_target(target).is_price else dict(forecasts)


def next_forecasts(target: str, times: pd.DatetimeIndex, series: np.ndarray, n: int,
                   future: pd.DatetimeIndex) -> dict[str, np.ndarray]:
    """Every naive baseline's forecast of the K steps after the series' last row (each (1, K)), from
    its last ``n`` values: what a run that falls back to a baseline forecasts next."""
    series = np.asarray(series, dtype=np.float64)
    last = np.array([len(series) - 1])
    return naive_forecasts(target, series[-n:][None, :], len(future), times, series, last, future)


def part_forecasts(target: str, times: pd.DatetimeIndex, series: np.ndarray, part: WindowPart,
                   k: int | None = None) -> dict[str, np.ndarray]:
    """:func:`naive_forecasts` for one window part of ``series`` (its windows' history and origins)."""
    k = k or part.y.shape[1]
    return naive_forecasts(target, np.asarray(part.history), k, times, series, part.origin)


def best_on_validation(val_report: dict, names: tuple[str, ...] | None = None) -> str:
    """The naive baseline with the lowest RMSE on the VALIDATION report (``evaluate``'s output for the
    validation part); ties go to the one listed first (persistence before the others). Pass the test
    report's name to the decision and the tables; the test part never chooses."""
    names = names or tuple(val_report.get("baselines") or ("persistence",))
    scored = [(val_report[n]["rmse"], i, n) for i, n in enumerate(names)
              if n in val_report and val_report[n].get("rmse") is not None and np.isfinite(val_report[n]["rmse"])]
    return min(scored)[2] if scored else "persistence"


def choose_on_validation(wset: WindowSet) -> tuple[str, dict[str, np.ndarray]]:
    """The target's best naive baseline, chosen on the validation part alone (RMSE, no model needed),
    and its (m, k) forecasts for every part: what a run falls back to when its network does not beat
    it (the decision takes the validation forecasts; persistence for prices unless another baseline
    is better on validation)."""
    target = wset.spec.target
    forecasts = {name: part_forecasts(target, wset.times, wset.target, part)
                 for name, part in wset.parts.items() if len(part)}
    best = "persistence"
    if "val" in forecasts:
        val = wset.parts["val"]
        report = evaluate(np.asarray(val.y), forecasts["val"]["persistence"], np.asarray(val.history), forecasts["val"])
        best = best_on_validation(report)
    return best, {name: by_name[best] for name, by_name in forecasts.items()}


def _ns(times: pd.DatetimeIndex) -> np.ndarray:
    index = pd.DatetimeIndex(times)
    if index.tz is not None:
        index = index.tz_convert("UTC").tz_localize(None)
    return index.to_numpy(dtype="datetime64[ns]").astype(np.int64)
