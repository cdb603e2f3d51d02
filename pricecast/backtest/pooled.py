"""Model against persistence pooled over a walk's folds: one RMSE each over every test point, a
paired test on the per-window squared errors, the folds won. What ``bench/quality.py`` reports per
(preset, series) and what an experiment's walk-forward trial records. The same against the best naive
baseline of the target, chosen on each fold's validation rows (a moving average or "same hour
yesterday" for volume, where persistence is the wrong yardstick).
"""
from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pricecast.backtest.result import BacktestResult
from pricecast.evaluation.leakage import paired_test


@dataclass
class FoldScore:
    """One fold's test windows, in price units: actual (m, K), predicted (m, K), last known price (m,)."""

    actual: np.ndarray
    predicted: np.ndarray
    last: np.ndarray
    train_seconds: float | None = None
    epochs_run: int | None = None
    best_naive: np.ndarray | None = None  # (m, K) the fold's best naive forecasts (chosen on its validation)
    best_naive_name: str = "persistence"


def fold_size_for(rows: int, folds: int, test_share: float, k: int) -> int:
    """Candles per test fold so that the folds cover the newest ``test_share`` of the series (at least K)."""
    return max(k, int(rows * test_share) // folds)


def fold_scores(result: BacktestResult) -> list[FoldScore]:
    """A finished walk's folds as scores (persistence = each window's last known price)."""
    return [FoldScore(f.actual, f.predicted, f.history[:, -1], f.model_info.get("train_seconds"),
                      f.model_info.get("epochs_run"), f.naive.get(f.report.get("best_naive", "persistence")),
                      f.report.get("best_naive", "persistence"))
            for f in result.folds]


def decision_scores(result: BacktestResult) -> list[FoldScore]:
    """The folds as their runs would forecast: the network's where the fold's decision kept it, the
    naive baseline it fell back to where not ('no change' for prices; :func:`fold_scores` are the
    networks' own)."""
    out = []
    for score, fold in zip(fold_scores(result), result.folds):
        choice = fold.model_info.get("decision", "network")
        if choice != "network":
            fallback = fold.naive.get(choice)
            score.predicted = (np.asarray(fallback, dtype=np.float64) if fallback is not None else
                               np.repeat(np.asarray(score.last, dtype=np.float64).reshape(-1, 1),
                                         np.shape(score.actual)[1], axis=1))
        out.append(score)
    return out


def pool_folds(folds: Sequence[FoldScore]) -> dict:
    """Model vs persistence pooled over ``folds`` (consecutive in time, oldest first): RMSE ratio over
    every test point, the paired test on per-window mean squared errors (Newey-West over K-1 lags:
    overlapping K-step windows share errors), folds won, median training time."""
    actual = np.concatenate([np.asarray(f.actual, dtype=np.float64) for f in folds])
    predicted = np.concatenate([np.asarray(f.predicted, dtype=np.float64) for f in folds])
    last = np.concatenate([np.asarray(f.last, dtype=np.float64).reshape(-1) for f in folds])[:, None]
    k = actual.shape[1]
    se_model = ((predicted - actual) ** 2).mean(axis=1)
    se_pers = ((last - actual) ** 2).mean(axis=1)
    rmse, prmse = math.sqrt(se_model.mean()), math.sqrt(se_pers.mean())
    t, p = paired_test(se_model - se_pers, lag=max(k - 1, 1))
    wins = 0
    for f in folds:
        a = np.asarray(f.actual, dtype=np.float64)
        fold_model = np.mean((np.asarray(f.predicted, dtype=np.float64) - a) ** 2)
        fold_pers = np.mean((np.asarray(f.last, dtype=np.float64).reshape(-1, 1) - a) ** 2)
        wins += int(fold_model < fold_pers)
    # against each fold's best naive baseline (persistence where a fold has none)
    naive = np.concatenate([np.asarray(f.best_naive, dtype=np.float64) if f.best_naive is not None
                            else np.repeat(np.asarray(f.last, dtype=np.float64).reshape(-1, 1), k, axis=1)
                            for f in folds])
    se_naive = ((naive - actual) ** 2).mean(axis=1)
    nrmse = math.sqrt(se_naive.mean())
    t_naive, p_naive = paired_test(se_model - se_naive, lag=max(k - 1, 1))
    names = [f.best_naive_name for f in folds]
    seconds = [f.train_seconds for f in folds if f.train_seconds is not None]
    epochs = [f.epochs_run for f in folds if f.epochs_run is not None]
    return {"forecasts": int(actual.shape[0]), "points": int(actual.size), "rmse": rmse, "persistence_rmse": prmse,
            "ratio": rmse / prmse if prmse > 0 else math.nan, "t": t, "p_value": p, "folds_done": len(folds),
            "fold_wins": wins, "win_share": wins / len(folds) if folds else math.nan,
            "train_seconds_median": float(statistics.median(seconds)) if seconds else math.nan,
            "epochs_run_median": float(statistics.median(epochs)) if epochs else math.nan,
            "best_naive": max(set(names), key=names.count) if names else "persistence", "best_naive_per_fold": names,
            "best_naive_rmse": nrmse, "skill_vs_best_naive": 1 - rmse / nrmse if nrmse > 0 else math.nan,
            "t_vs_best_naive": t_naive, "p_vs_best_naive": p_naive}
