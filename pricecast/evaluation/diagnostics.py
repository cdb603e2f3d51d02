"""Residual diagnostics: are the test errors centred, and are they still predictable from the past?

Residuals that correlate with their own past (bars outside the ±1.96/√n bounds) mean the model left
pattern on the table — or, for K > 1, that overlapping windows share errors (steps 2..K).
"""
from __future__ import annotations

import math

import numpy as np


def residuals(actual: np.ndarray, predicted: np.ndarray, step: int = 1) -> np.ndarray:
    """Actual − predicted at horizon ``step`` (1-based), in window (= time) order."""
    return np.asarray(actual, dtype=np.float64)[:, step - 1] - np.asarray(predicted, dtype=np.float64)[:, step - 1]


def histogram(res: np.ndarray, bins: int = 40) -> dict:
    """Counts and bin edges plus mean, std, skew and excess kurtosis."""
    res = np.asarray(res, dtype=np.float64)
    res = res[np.isfinite(res)]
    if res.size == 0:
        return {"counts": [], "edges": [], "mean": math.nan, "std": math.nan, "skew": math.nan, "kurtosis": math.nan, "n": 0}
    counts, edges = np.histogram(res, bins=bins)
    mean, std = float(res.mean()), float(res.std())
    z = (res - mean) / std if std > 0 else np.zeros_like(res)
    return {"counts": counts.tolist(), "edges": edges.tolist(), "mean": mean, "std": std,
            "skew": float((z**3).mean()), "kurtosis": float((z**4).mean() - 3.0), "n": int(res.size)}


def autocorrelation(res: np.ndarray, lags: int = 20) -> dict:
    """ACF at lags 1..``lags`` with the ±1.96/√n white-noise bound, and which lags exceed it."""
    x = np.asarray(res, dtype=np.float64)
    x = x[np.isfinite(x)]
    n = x.size
    lags = int(min(lags, max(n - 1, 0)))
    if n < 3 or lags < 1:
        return {"lags": [], "acf": [], "bound": math.nan, "outside": [], "n": n}
    c = x - x.mean()
    denom = float(c @ c)
    acf = [float(c[j:] @ c[:-j]) / denom if denom > 0 else 0.0 for j in range(1, lags + 1)]
    bound = 1.96 / math.sqrt(n)
    return {"lags": list(range(1, lags + 1)), "acf": acf, "bound": bound,
            "outside": [j + 1 for j, v in enumerate(acf) if abs(v) > bound], "n": n}


def summary_text(hist: dict, acf: dict) -> str:
    """One or two plain sentences about the residuals."""
    if not hist.get("n"):
        return "No test residuals."
    parts = [f"Residuals average {hist['mean']:.4g} (std {hist['std']:.4g})"]
    if acf.get("lags"):
        out = acf["outside"]
        expected = 0.05 * len(acf["lags"])
        if len(out) > max(1, 2 * expected):
            parts.append(f"{len(out)} of {len(acf['lags'])} autocorrelation lags exceed the ±{acf['bound']:.3f} bound "
                         f"(lags {', '.join(map(str, out[:6]))}{'…' if len(out) > 6 else ''}): errors follow each other, "
                         f"so some pattern is left unmodelled")
        else:
            parts.append("their autocorrelation stays within the noise bounds")
    return "; ".join(parts) + "."


def diagnose(actual: np.ndarray, predicted: np.ndarray, step: int = 1, bins: int = 40, lags: int = 20) -> dict:
    res = residuals(actual, predicted, step)
    hist, acf = histogram(res, bins), autocorrelation(res, lags)
    return {"step": step, "histogram": hist, "acf": acf, "text": summary_text(hist, acf)}


def range_note(train_target: np.ndarray, part_target: np.ndarray, part: str, bounded_by: str,
               min_share: float = 0.1) -> str:
    """One sentence when the ``part``'s target prices leave the range of the training targets and the
    setup cannot forecast outside it (``bounded_by``: what bounds it, e.g. "min-max scaling"; ``""``
    when nothing does): the known cause of a model far off the prices. ``""`` when it does not apply."""
    train = np.asarray(train_target, dtype=np.float64)
    values = np.asarray(part_target, dtype=np.float64)
    train, values = train[np.isfinite(train)], values[np.isfinite(values)]
    if not bounded_by or train.size == 0 or values.size == 0:
        return ""
    lo, hi = float(train.min()), float(train.max())
    share = float(np.mean((values < lo) | (values > hi)))
    if share < min_share:
        return ""
    return (f"{share:.0%} of the {part} prices ({values.min():.4g} to {values.max():.4g}) lie outside the training "
            f"range ({lo:.4g} to {hi:.4g}), and with {bounded_by} a network can hardly forecast beyond the range "
            f"it was trained on (log-ratio scaling with 'Predict the change' can).")
