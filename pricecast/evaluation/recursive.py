"""Recursive one-step forecasting: a K=1 model fed its own predictions K times.

Only for setups whose single input feature is the target (close in, close out): with more inputs
the model would also need tomorrow's open/high/low/volume, which it never predicts.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pricecast.prep.scaling import Scaler
from pricecast.prep.windows import WindowPart


def recursive_problem(window_spec) -> str | None:
    """None when recursive forecasting works for this window setup, else the reason and the fix."""
    if tuple(window_spec.features) != (window_spec.target,):
        return (f"recursive one-step forecasts need the target '{window_spec.target}' as the only input feature "
                f"(this setup uses {', '.join(window_spec.features)}): choose direct multi-step forecasts, or use "
                f"'{window_spec.target}' alone as input")
    return None


def recursive_forecast(call: Callable[[np.ndarray], np.ndarray], part: WindowPart, scaler: Scaler, k: int) -> np.ndarray:
    """(m, k) prices: step 1 from the real window, each later step from a window that ends with the
    model's own earlier forecasts. ``call`` maps scaled (m, n, 1) inputs to scaled (m, 1) outputs."""
    window = np.array(part.history, dtype=np.float64)  # (m, n) target == the single input feature
    m = window.shape[0]
    out = np.empty((m, k), dtype=np.float64)
    if m == 0:
        return out
    for step in range(k):
        scaled = np.asarray(call(scaler.transform_x(window[:, :, None]))).reshape(m, -1)[:, :1]
        price = scaler.inverse_y(scaled, window)  # log-ratio uses the current window's last value
        out[:, step] = price[:, 0]
        window = np.concatenate([window[:, 1:], price], axis=1)
    return out
