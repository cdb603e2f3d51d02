"""Metrics in the target's units for the model and the naive baselines it must beat.

Every report carries the persistence forecast (tomorrow = today), because a price model whose
error is close to persistence's has learned to repeat the last price and nothing else. Other
targets (volume, volatility) bring their own baselines (:mod:`pricecast.evaluation.baselines`);
the strongest on validation is named in every report (``best_naive``) with the skill against it.
MAPE divides by the actual value: where that is 0 (a candle without volume) it is None ("n/a").
"""
from __future__ import annotations

import numpy as np

BASELINES: tuple[str, ...] = ("persistence", "drift", "moving_average")
MA_WINDOW = 20
# Skill divides by persistence's error; where the price never moves that error is zero and a ratio
# means nothing, so every place that shows skill says this instead of "nan%".
NO_MOVEMENT = "no price movement in this part (persistence's error is zero): skill cannot be judged"
NO_MOVEMENT_SHORT = "no price movement: cannot judge"


def baseline_forecasts(history: np.ndarray, k: int) -> dict[str, np.ndarray]:
    """The price baselines' K-step forecasts from each window's target history (m, n) -> name: (m, k)
    (other targets: :func:`pricecast.evaluation.baselines.naive_forecasts`)."""
    last = history[:, -1:]
    steps = np.arange(1, k + 1)[None, :]
    n = history.shape[1]
    slope = (history[:, -1:] - history[:, :1]) / max(n - 1, 1)
    ma = history[:, -min(MA_WINDOW, n):].mean(axis=1, keepdims=True)
    return {
        "persistence": np.repeat(last, k, axis=1),
        "drift": last + slope * steps,
        "moving_average": np.repeat(ma, k, axis=1),
    }


def forecast_metrics(actual: np.ndarray, predicted: np.ndarray, last: np.ndarray) -> dict:
    """RMSE, MAE, MAPE (%), direction accuracy — overall and per horizon step.

    ``last`` (m,) is the last known price of each window; direction compares the predicted and the
    actual move from it. A forecast that never moves has no direction: reported as None.
    """
    actual = np.asarray(actual, dtype=np.float64)
    predicted = np.asarray(predicted, dtype=np.float64)
    err = predicted - actual
    last = np.asarray(last, dtype=np.float64).reshape(-1, 1)
    pred_move = np.sign(predicted - last)
    real_move = np.sign(actual - last)
    moving = pred_move != 0

    def direction(axis=None):
        hits = (pred_move == real_move) & moving
        count = moving.sum(axis=axis)
        with np.errstate(invalid="ignore", divide="ignore"):
            value = hits.sum(axis=axis) / count
        return value

    zero = actual == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        ape = np.abs(err) / np.abs(actual) * 100.0
    mape_steps = [None if zero[:, j].any() else float(ape[:, j].mean()) for j in range(actual.shape[1])] \
        if actual.ndim == 2 else []
    out = {
        "rmse": float(np.sqrt(np.mean(err**2))),
        "mae": float(np.mean(np.abs(err))),
        "mape": None if zero.any() or not actual.size else float(ape.mean()),  # n/a where an actual is 0
        "direction": _none_if_nan(direction()),
        "per_step": {
            "rmse": np.sqrt(np.mean(err**2, axis=0)).tolist(),
            "mae": np.mean(np.abs(err), axis=0).tolist(),
            "mape": mape_steps,
            "direction": [_none_if_nan(v) for v in np.atleast_1d(direction(axis=0))],
        },
    }
    return out


def skill(rmse: float | None, reference_rmse: float | None) -> float:
    """1 - rmse / reference: above 0 beats the reference, 0 ties it, below 0 loses to it. NaN when
    either is missing (a saved run stores NaN metrics as null)."""
    if rmse is None or reference_rmse is None or not reference_rmse > 0:
        return float("nan")
    return float(1.0 - rmse / reference_rmse)


def evaluate(actual: np.ndarray, predicted: np.ndarray, history: np.ndarray,
             baselines: dict[str, np.ndarray] | None = None) -> dict:
    """Model and baselines on the same windows: ``{"model": ..., "persistence": ..., ...,
    "rmse", "persistence_rmse", "skill", "windows", "baselines"}``. ``baselines`` (name -> (m, k)
    forecasts, persistence among them) defaults to the price baselines."""
    k = actual.shape[1]
    last = history[:, -1]
    forecasts = baselines if baselines is not None else baseline_forecasts(history, k)
    report: dict = {"windows": int(actual.shape[0]), "model": forecast_metrics(actual, predicted, last),
                    "baselines": list(forecasts)}
    for name, forecast in forecasts.items():
        report[name] = forecast_metrics(actual, forecast, last)
    report["rmse"] = report["model"]["rmse"]
    report["persistence_rmse"] = report["persistence"]["rmse"]
    report["skill"] = skill(report["rmse"], report["persistence_rmse"])
    report["skill_note"] = "" if np.isfinite(report["skill"]) else NO_MOVEMENT
    report["skill_per_step"] = [
        skill(m, p) for m, p in zip(report["model"]["per_step"]["rmse"], report["persistence"]["per_step"]["rmse"])
    ]
    return report


def with_best_naive(report: dict, name: str) -> dict:
    """``report`` plus the naive baseline chosen on validation (``best_naive``, its RMSE, and the
    model's ``skill_vs_best_naive``); the name is chosen by
    :func:`pricecast.evaluation.baselines.best_on_validation`, never on this part."""
    best = report.get(name) or report["persistence"]
    report["best_naive"] = name if name in report else "persistence"
    report["best_naive_rmse"] = best["rmse"]
    report["skill_vs_best_naive"] = skill(report["rmse"], best["rmse"])
    if isinstance(report.get("network"), dict):  # the network's own, beside the forecast the run uses
        report["network"]["skill_vs_best_naive"] = skill(report["network"].get("rmse"), best["rmse"])
    return report


def skill_text(value: float | None, digits: int = 1, short: bool = False) -> str:
    """``+12.3%``, or the plain statement that skill cannot be judged where it is NaN or missing
    (a part whose prices never move)."""
    if value is None or not np.isfinite(value):
        return NO_MOVEMENT_SHORT if short else NO_MOVEMENT
    return f"{value:+.{digits}%}"


def metrics_table(report: dict, labels: dict[str, str] | None = None) -> list[dict]:
    """Rows for a table: one per forecaster with RMSE, MAE, MAPE (None: n/a, the target has zeros),
    direction, skill vs persistence and ``used`` (the forecast the run uses). A report with the network
    kept apart (``network``) shows the network's own row first, whether or not the run fell back to a
    baseline; older reports show ``model``. The naive baseline chosen on validation is marked."""
    rows = []
    own = report.get("network")
    choice = report.get("decision", "network")
    best = report.get("best_naive")
    first = [("network", own)] if own else [("model", report["model"])]
    for name, m in first + [(b, report[b]) for b in report.get("baselines") or BASELINES]:
        rows.append({
            "forecaster": (labels or {}).get(name, name) + (" (best naive)" if name == best else ""),
            "rmse": m["rmse"],
            "mae": m["mae"],
            "mape_%": m["mape"],
            "direction": m["direction"],
            "skill_vs_persistence": skill(m["rmse"], report["persistence_rmse"]),
            "used": "yes" if name == choice or name == "model" else "",
        })
    return rows


def _none_if_nan(value) -> float | None:
    value = float(value)
    return None if np.isnan(value) else value
