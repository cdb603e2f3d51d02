"""Prediction intervals and their measured coverage.

- Split-conformal: the absolute residuals of the validation part, one quantile per horizon step,
  laid around each test forecast — in price units, or relative to the window's last price so the
  band scales with the price level (better for series that trend over years).
- Monte-Carlo dropout: the model called S times with dropout active; the spread of its forecasts.
  It only measures the model's own uncertainty, so it is usually too narrow — the measured
  coverage on the test part says by how much.

Keras is imported only inside :func:`mc_dropout_samples`.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np


def conformal_quantiles(actual: np.ndarray, predicted: np.ndarray, last: np.ndarray, levels: tuple[float, ...],
                        relative: bool = True) -> dict[float, np.ndarray]:
    """level -> (k,) absolute-residual quantile per horizon step, from calibration windows.

    Uses the finite-sample corrected rank ceil((m+1)·level) of m residuals, which guarantees
    at least ``level`` coverage when test errors behave like calibration errors."""
    resid = np.abs(np.asarray(predicted, dtype=np.float64) - np.asarray(actual, dtype=np.float64))
    if relative:
        resid = resid / np.abs(np.asarray(last, dtype=np.float64).reshape(-1, 1))
    m = resid.shape[0]
    out: dict[float, np.ndarray] = {}
    for level in levels:
        if m == 0:
            out[level] = np.full(resid.shape[1], np.nan)
            continue
        rank = min(math.ceil((m + 1) * level), m)  # 1-based; capped: with few windows the band is the max
        out[level] = np.sort(resid, axis=0)[rank - 1]
    return out


def conformal_band(predicted: np.ndarray, last: np.ndarray, q: np.ndarray, relative: bool = True
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper), each (m, k): forecast ± quantile (× last price when relative)."""
    predicted = np.asarray(predicted, dtype=np.float64)
    half = np.asarray(q, dtype=np.float64)[None, :]
    if relative:
        half = half * np.abs(np.asarray(last, dtype=np.float64).reshape(-1, 1))
    return predicted - half, predicted + half


def has_dropout(model_spec) -> bool:
    """Whether MC dropout can say anything: the model needs a dropout or recurrent dropout rate."""
    return bool(getattr(model_spec, "dropout", 0) or getattr(model_spec, "recurrent_dropout", 0))


def no_dropout_message() -> str:
    return ("Monte-Carlo dropout intervals need a model with dropout (set a dropout rate on the Model page); "
            "this one has none, so only conformal intervals are shown.")


def mc_dropout_samples(model, x_scaled: np.ndarray, samples: int, seed: int = 0,
                       call: Callable | None = None) -> np.ndarray:
    """(S, m, k) scaled forecasts with dropout active. BatchNormalization layers are kept in
    inference mode (``trainable=False`` makes Keras 3 use their moving statistics) so that only
    dropout varies and the model's stored statistics are not touched."""
    import keras

    keras.utils.set_random_seed(int(seed))
    frozen = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)
              and layer.trainable]
    for layer in frozen:
        layer.trainable = False
    try:
        fn = call or (lambda x: np.asarray(model(x, training=True)))
        return np.stack([np.asarray(fn(x_scaled)).reshape(x_scaled.shape[0], -1) for _ in range(int(samples))])
    finally:
        for layer in frozen:
            layer.trainable = True


def sample_band(samples: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Central ``level`` interval of (S, m, k) price samples -> (lower, upper) (m, k)."""
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(samples, [alpha, 1.0 - alpha], axis=0)
    return lo, hi


def coverage(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> dict:
    """Share of test points inside the band, overall and per horizon step, and the mean width."""
    actual = np.asarray(actual, dtype=np.float64)
    inside = (actual >= lower) & (actual <= upper)
    width = np.asarray(upper) - np.asarray(lower)
    return {
        "coverage": float(inside.mean()) if inside.size else math.nan,
        "per_step": inside.mean(axis=0).tolist() if inside.size else [],
        "mean_width": float(width.mean()) if width.size else math.nan,
        "points": int(inside.size),
    }


def coverage_text(level: float, covered: float, method: str = "") -> str:
    """'80% band covered 77% of test points' (+ the method)."""
    name = {"conformal": "conformal ", "mc_dropout": "MC-dropout "}.get(method, "")
    if not np.isfinite(covered):
        return f"{level:.0%} {name}band: no test points"
    return f"{level:.0%} {name}band covered {covered:.0%} of test points"
