"""One fold of a walk-forward backtest: its windows, its forecasts (direct or recursive, with
MC-dropout bands) and its score (model and baselines, MASE, conformal bands, look-ahead checks).

Windows are cut per segment with :mod:`pricecast.prep.windows`: training windows lie wholly inside the
training rows; validation and test windows may *read* the N candles before their segment (history
that is known at forecast time) but their targets stay inside it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from pricecast.backtest.result import FORECASTERS, FoldResult
from pricecast.backtest.spec import BacktestSpec, FoldPlan
from pricecast.evaluation.baselines import best_on_validation, part_forecasts
from pricecast.evaluation.leakage import check_scaler, check_windows
from pricecast.evaluation.metrics import baseline_forecasts, evaluate, with_best_naive
from pricecast.evaluation.recursive import recursive_forecast
from pricecast.evaluation.uncertainty import (
    conformal_band,
    conformal_quantiles,
    coverage,
    mc_dropout_samples,
    sample_band,
)
from pricecast.prep.scaling import Scaler
from pricecast.prep.targets import get_target
from pricecast.prep.windows import WindowPart, WindowSet, WindowSpec, window_segment
from pricecast.training.fitting import model_call, predict


def segment_part(name: str, values: np.ndarray, target: np.ndarray, rows: tuple[int, int], window: WindowSpec,
                 k: int, stride: int, context: bool) -> WindowPart:
    """Windows whose targets lie in ``rows``. With ``context`` the inputs may start up to N rows
    earlier (known history), so the first target is the segment's first row."""
    a, b = rows
    start = max(a - window.n, 0) if context else a
    spec = replace(window, k=k, stride=stride)
    part = window_segment(name, values, target, start, b, spec)
    part.rows = (a, b)
    return part


@dataclass
class FoldWindows:
    windows: WindowSet  # train/val as the model was trained, test = this fold's test windows
    calib: WindowPart  # this fold's validation windows with K-step targets, for conformal calibration


def fold_windows(times: pd.DatetimeIndex, values: np.ndarray, target: np.ndarray, window: WindowSpec,
                 plan: FoldPlan, k_model: int) -> FoldWindows:
    wset = WindowSet(window, times, values, target)
    wset.parts["train"] = segment_part("train", values, target, plan.model_train, window, k_model, window.stride, False)
    wset.parts["val"] = segment_part("val", values, target, plan.model_val, window, k_model, 1, True)
    wset.parts["test"] = segment_part("test", values, target, plan.test, window, window.k, 1, True)
    calib = segment_part("calibration", values, target, plan.val, window, window.k, 1, True)
    return FoldWindows(wset, calib)


def forecast_part(model, part: WindowPart, scaler: Scaler, method: str, k: int, training: bool = False) -> np.ndarray:
    if method == "recursive":
        return recursive_forecast(model_call(model, training), part, scaler, k)
    return predict(model, part, scaler, training=training)


def mc_bands(model, part: WindowPart, scaler: Scaler, method: str, k: int, samples: int, levels: tuple[float, ...],
             seed: int) -> dict[float, tuple[np.ndarray, np.ndarray]]:
    """MC-dropout bands per level from ``samples`` stochastic forecasts (price units)."""
    if len(part) == 0:
        return {lv: (np.empty((0, k)), np.empty((0, k))) for lv in levels}
    draws = mc_dropout_samples(model, np.empty((len(part), 1)), samples, seed,
                               call=lambda _x: forecast_part(model, part, scaler, method, k, training=True))
    return {lv: sample_band(draws, lv) for lv in levels}


def predict_fold(model, fw: FoldWindows, scaler: Scaler, bt: BacktestSpec, k: int, mc: bool, seed: int) -> dict:
    """The fold's forecasts as arrays (what the fold cache stores): calibration and test windows,
    and the MC-dropout bands when asked for."""
    stored: dict[str, Any] = {
        "calib_pred": forecast_part(model, fw.calib, scaler, bt.method, k),
        "test_pred": forecast_part(model, fw.windows.test, scaler, bt.method, k),
    }
    if mc:
        for i, (lo, hi) in enumerate(mc_bands(model, fw.windows.test, scaler, bt.method, k, bt.mc_samples,
                                              bt.levels, seed).values()):
            stored[f"mc_lo_{i}"], stored[f"mc_hi_{i}"] = lo, hi
    return stored


def add_mase(report: dict, scale: float) -> dict:
    """MASE = MAE / scale for the model and each baseline, overall and per step."""
    for name in FORECASTERS:
        m = report[name]
        m["mase"] = m["mae"] / scale if scale > 0 else math.nan
        m["per_step"]["mase"] = [v / scale if scale > 0 else math.nan for v in m["per_step"]["mae"]]
    return report


def naive_scale(target: np.ndarray, rows: tuple[int, int]) -> float:
    """In-sample mean absolute error of the naive one-step forecast over ``rows``."""
    seg = target[rows[0]:rows[1]]
    return float(np.mean(np.abs(np.diff(seg)))) if seg.size > 1 else math.nan


def score_fold(plan: FoldPlan, fw: FoldWindows, scaler: Scaler, target: np.ndarray, stored: dict,
               bt: BacktestSpec, was_cached: bool) -> FoldResult:
    """Score the fold's ``stored`` forecasts: model and baselines (the price ones, which the tables
    show, plus the target's own; the best naive one chosen on this fold's validation rows), MASE on
    this fold's own scale, conformal bands calibrated on its validation rows, and the scaler/window checks."""
    test, calib = fw.windows.test, fw.calib
    actual, history = np.asarray(test.y), np.asarray(test.history)
    predicted = np.asarray(stored["test_pred"], dtype=np.float64)
    scale = naive_scale(target, (plan.train[0], plan.val[1]))
    name, times = fw.windows.spec.target, fw.windows.times
    naive = {**baseline_forecasts(history, actual.shape[1]), **part_forecasts(name, times, target, test)}
    calib_naive = {**baseline_forecasts(np.asarray(calib.history), actual.shape[1]),
                   **part_forecasts(name, times, target, calib)}
    best = best_on_validation(evaluate(np.asarray(calib.y), np.asarray(stored["calib_pred"], dtype=np.float64),
                                       np.asarray(calib.history), calib_naive)) if len(calib) else "persistence"
    report = with_best_naive(add_mase(evaluate(actual, predicted, history, naive), scale), best)
    bands: dict = {"conformal": {}}
    # relative to the last value only for prices: a volume of 0 or a negative return has no scale
    relative = bt.relative and get_target(name).is_price
    qs = conformal_quantiles(np.asarray(calib.y), stored["calib_pred"], np.asarray(calib.history)[:, -1], bt.levels,
                             relative)
    for level, q in qs.items():
        bands["conformal"][level] = conformal_band(predicted, history[:, -1], q, relative)
    if "mc_lo_0" in stored:
        bands["mc_dropout"] = {lv: (stored[f"mc_lo_{i}"], stored[f"mc_hi_{i}"]) for i, lv in enumerate(bt.levels)}
    cov = {m: {lv: coverage(actual, lo, hi) for lv, (lo, hi) in by.items()} for m, by in bands.items()}
    findings = check_scaler(scaler, fw.windows) + check_windows(fw.windows)
    return FoldResult(plan.index, plan, was_cached, dict(stored.get("info", {})), np.asarray(test.origin), actual,
                      predicted, history, report, scale, bands, cov, findings, len(calib), naive)
