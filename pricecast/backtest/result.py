"""What a walk-forward backtest returns: each fold's scores (:class:`FoldResult`) and the whole
walk (:class:`BacktestResult`: folds pooled, error by horizon, interval coverage, residual
diagnostics, look-ahead findings), with the tables and the JSON summary read from it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pricecast.backtest.spec import BacktestSpec, FoldPlan
from pricecast.evaluation.diagnostics import diagnose
from pricecast.evaluation.leakage import Finding, check_predictions, problems
from pricecast.evaluation.metrics import BASELINES, baseline_forecasts, evaluate
from pricecast.evaluation.uncertainty import coverage, coverage_text
from pricecast.prep.targets import target_label
from pricecast.specs import RunSpec
from pricecast.training.fitting import prediction_rows

FORECASTERS: tuple[str, ...] = ("model", *BASELINES)


@dataclass
class FoldResult:
    index: int
    plan: FoldPlan
    cached: bool
    model_info: dict
    origin: np.ndarray  # (m,) row of each test window's last input
    actual: np.ndarray  # (m, k)
    predicted: np.ndarray  # (m, k)
    history: np.ndarray  # (m, n)
    report: dict  # evaluate() + MASE
    scale: float  # MASE denominator: mean |naive-1 error| over this fold's training window
    bands: dict = field(default_factory=dict)  # method -> level -> (lower, upper)
    coverage: dict = field(default_factory=dict)  # method -> level -> coverage()
    findings: list[Finding] = field(default_factory=list)
    calib_windows: int = 0
    naive: dict = field(default_factory=dict)  # name -> (m, k) test forecasts of the target's naive baselines

    @property
    def retrained(self) -> bool:
        return self.plan.retrain


@dataclass
class BacktestResult:
    spec: RunSpec
    bt: BacktestSpec
    times: pd.DatetimeIndex
    folds: list[FoldResult]
    overall: dict
    by_horizon: dict
    intervals: dict  # method -> level -> {coverage, per_step, mean_width, points, text}
    diagnostics: dict
    findings: list[Finding]
    notes: list[str]
    stopped: bool
    seconds: float
    models_trained: int
    folds_cached: int
    models_loaded: int = 0  # models rebuilt from cached weights (their folds' forecasts were not cached)

    def fold_rows(self) -> list[dict]:
        """One row per fold for a table: dates, windows, model and persistence errors, skill."""
        rows = []
        for f in self.folds:
            r = f.report
            rows.append({
                "fold": f.index + 1, "test_from": _date(self.times, f.plan.test[0]),
                "test_to": _date(self.times, f.plan.test[1] - 1), "train_from": _date(self.times, f.plan.model_train[0]),
                "train_to": _date(self.times, f.plan.model_train[1] - 1), "windows": r["windows"],
                "retrained": f.retrained, "cached": f.cached, "epochs": f.model_info.get("epochs_run"),
                "rmse": r["model"]["rmse"], "persistence_rmse": r["persistence"]["rmse"], "skill": r["skill"],
                "mae": r["model"]["mae"], "mape_%": r["model"]["mape"], "mase": r["model"]["mase"],
                "persistence_mase": r["persistence"]["mase"], "direction": r["model"]["direction"],
                # what a training run on this fold would use; the scores above are the network's own
                "decision": f.model_info.get("decision") or ("persistence" if f.model_info.get("ended_as_persistence")
                                                              else "network"),
            })
        return rows

    def predictions(self) -> pd.DataFrame:
        """Long table: fold, origin_time, step, time, actual, predicted, the baselines, and
        ``<method>_<level>_lo/hi`` band columns."""
        frames = []
        for f in self.folds:
            if len(f.actual) == 0:
                continue
            cols = prediction_rows(self.times, f.origin, f.actual, f.predicted, f.history, {"fold": f.index + 1})
            for method, by_level in f.bands.items():
                for level, (lo, hi) in by_level.items():
                    cols[f"{method}_{pct(level)}_lo"] = lo.reshape(-1)
                    cols[f"{method}_{pct(level)}_hi"] = hi.reshape(-1)
            frames.append(cols)
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def to_dict(self) -> dict:
        """A JSON-ready summary (the CLI's ``--json`` output)."""
        def metrics(report: dict) -> dict:
            return {name: {m: report[name][m] for m in ("rmse", "mae", "mape", "mase", "direction")} for name in FORECASTERS}

        return {
            "spec": self.spec.to_dict(), "backtest": self.bt.to_dict(), "stopped": self.stopped,
            "seconds": self.seconds, "models_trained": self.models_trained, "models_loaded": self.models_loaded,
            "folds_cached": self.folds_cached,
            "folds": [{**row, **{"metrics": metrics(f.report)},
                       "coverage": {m: {pct(lv): c["coverage"] for lv, c in by.items()} for m, by in f.coverage.items()}}
                      for row, f in zip(self.fold_rows(), self.folds)],
            "overall": {"windows": self.overall.get("windows", 0), "skill": self.overall.get("skill"),
                        **(metrics(self.overall) if self.folds else {})},
            "by_horizon": self.by_horizon, "intervals": {m: {pct(lv): v for lv, v in by.items()}
                                                         for m, by in self.intervals.items()},
            "diagnostics": self.diagnostics, "findings": [f.to_dict() for f in self.findings], "notes": self.notes,
        }


def pct(level: float) -> str:
    """A level as a column/key label: 0.8 -> "80"."""
    return f"{level * 100:g}"


def _date(times: pd.DatetimeIndex, row: int) -> str:
    t = times[row]
    return str(t.date()) if (t.hour, t.minute, t.second) == (0, 0, 0) else t.isoformat()


def assemble(spec: RunSpec, bt: BacktestSpec, times: pd.DatetimeIndex, folds: list[FoldResult], notes: list[str],
             stopped: bool, seconds: float, models_trained: int, folds_cached: int) -> BacktestResult:
    """The walk's result from its scored folds: pooled metrics (overall MASE on each fold's own
    scale), error by horizon, interval coverage per method and level, diagnostics and findings."""
    if not folds:
        return BacktestResult(spec, bt, times, [], {}, {}, {}, {}, [], notes + ["No fold finished."], stopped, seconds,
                              models_trained, folds_cached)
    actual = np.concatenate([f.actual for f in folds])
    predicted = np.concatenate([f.predicted for f in folds])
    history = np.concatenate([f.history for f in folds])
    overall = evaluate(actual, predicted, history)
    # Overall MASE: every test point's absolute error over its own fold's scale, averaged.
    base = baseline_forecasts(history, actual.shape[1])
    scales = np.concatenate([np.full(len(f.actual), f.scale) for f in folds])[:, None]
    for name in FORECASTERS:
        fc = predicted if name == "model" else base[name]
        scaled = np.abs(fc - actual) / scales
        overall[name]["mase"] = float(scaled.mean())
        overall[name]["per_step"]["mase"] = scaled.mean(axis=0).tolist()
    k = actual.shape[1]
    by_horizon = {"step": list(range(1, k + 1)), "skill": overall["skill_per_step"]}
    for name in FORECASTERS:
        for metric in ("rmse", "mae", "mase"):
            by_horizon[f"{name}_{metric}"] = overall[name]["per_step"][metric]
    intervals: dict = {}
    for method in folds[0].bands:
        intervals[method] = {}
        for level in bt.levels:
            lo = np.concatenate([f.bands[method][level][0] for f in folds])
            hi = np.concatenate([f.bands[method][level][1] for f in folds])
            c = coverage(actual, lo, hi)
            intervals[method][level] = {**c, "text": coverage_text(level, c["coverage"], method)}
    findings = merge_findings(folds) + check_predictions(actual, predicted, history[:, -1],
                                                             target_label(spec.window.target))
    if bt.method == "recursive":
        notes.append("Forecasts are recursive: a one-step model fed its own predictions for steps 2..K.")
    return BacktestResult(spec, bt, times, folds, overall, by_horizon, intervals, diagnose(actual, predicted), findings,
                          notes, stopped, seconds, models_trained, folds_cached)


def merge_findings(folds: list[FoldResult]) -> list[Finding]:
    """Problems per fold (prefixed with the fold); one ok line per check when every fold passed."""
    out: list[Finding] = []
    for f in folds:
        out += [Finding(p.level, p.code, f"Fold {f.index + 1}: {p.message}", p.details) for p in problems(f.findings)]
    if not out:
        out += [Finding("ok", "scaler", f"Scalers refitted on each training window's training rows only "
                                        f"({len(folds)} folds checked)."),
                Finding("ok", "windows", f"No training or validation window's targets reach into the test fold "
                                         f"({len(folds)} folds checked).")]
    return out
