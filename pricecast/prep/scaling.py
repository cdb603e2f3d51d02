"""Scalers fitted on the training part only, applied to window batches, inverted back to prices.

MinMax and Standard are per-column statistics of the training rows. Log-ratio (tutorial 002)
divides each price window by its own last input value, so it needs no statistics of prices at all;
volume and the derived inputs (returns, ranges, time of day: already unitless, and possibly 0 or
negative) are standardised with statistics of the training rows instead.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pricecast.errors import PricecastError

SCALERS: tuple[str, ...] = ("minmax", "standard", "logratio")
PRICE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close")  # log-ratio scales these by their last value


@dataclass
class Scaler:
    """``kind`` plus the statistics fitted on the training rows (per input column and target)."""

    kind: str
    features: tuple[str, ...]
    target: str
    params: dict[str, list[float]] = field(default_factory=dict)
    fit_rows: tuple[int, int] = (0, 0)

    # ---- fitting -------------------------------------------------------------------------------
    @classmethod
    def fit(cls, kind: str, values: np.ndarray, target: np.ndarray, features: tuple[str, ...], target_name: str,
            rows: tuple[int, int]) -> Scaler:
        """Fit on ``values[rows[0]:rows[1]]`` only — the training part — and nothing else."""
        if kind not in SCALERS:
            raise PricecastError(f"unknown scaling '{kind}'; choose from {', '.join(SCALERS)}")
        a, b = rows
        v, t = values[a:b], target[a:b]
        if kind == "minmax":
            lo, hi = v.min(axis=0), v.max(axis=0)
            params = {"lo": lo.tolist(), "hi": hi.tolist(), "t_lo": [float(t.min())], "t_hi": [float(t.max())]}
        elif kind == "standard":
            params = {"mean": v.mean(axis=0).tolist(), "std": v.std(axis=0).tolist(),
                      "t_mean": [float(t.mean())], "t_std": [float(t.std())]}
        else:
            # Volume has no "last price" to divide by; its log is standardised on the training rows.
            derived = np.array([f not in (*PRICE_COLUMNS, "volume") for f in features])
            lv = np.log1p(np.where(derived, 0.0, v))  # returns can be -1 or below: no log of them
            params = {"log_mean": lv.mean(axis=0).tolist(), "log_std": lv.std(axis=0).tolist()}
            if derived.any():  # derived inputs, standardised (older runs have none, so no such params)
                params.update({"mean": v.mean(axis=0).tolist(), "std": v.std(axis=0).tolist()})
        return cls(kind, tuple(features), target_name, params, (int(a), int(b)))

    # ---- transforms ----------------------------------------------------------------------------
    def _target_col(self) -> int:
        return self.features.index(self.target) if self.target in self.features else -1

    def transform_x(self, x: np.ndarray) -> np.ndarray:
        """Scale raw input windows (m, n, features) -> float32 copy."""
        p = self.params
        if self.kind == "minmax":
            lo, hi = np.asarray(p["lo"]), np.asarray(p["hi"])
            out = (x - lo) / _safe(hi - lo)
        elif self.kind == "standard":
            out = (x - np.asarray(p["mean"])) / _safe(np.asarray(p["std"]))
        else:
            out = np.empty(x.shape, dtype=np.float64)
            last = x[:, -1:, :]
            for j, name in enumerate(self.features):
                if name == "volume":
                    out[..., j] = (np.log1p(x[..., j]) - p["log_mean"][j]) / _safe(p["log_std"][j])
                elif name in PRICE_COLUMNS:
                    out[..., j] = np.log(x[..., j] / last[..., j])
                else:
                    out[..., j] = (x[..., j] - p["mean"][j]) / _safe(p["std"][j])
        return out.astype(np.float32, copy=False)

    def transform_y(self, y: np.ndarray, history: np.ndarray) -> np.ndarray:
        """Scale raw targets (m, k); ``history`` (m, n) is the target over the input steps."""
        p = self.params
        if self.kind == "minmax":
            out = (y - p["t_lo"][0]) / _safe(p["t_hi"][0] - p["t_lo"][0])
        elif self.kind == "standard":
            out = (y - p["t_mean"][0]) / _safe(p["t_std"][0])
        else:
            out = np.log(y / history[:, -1:])
        return np.asarray(out, dtype=np.float32)

    def inverse_y(self, y_scaled: np.ndarray, history: np.ndarray) -> np.ndarray:
        """Back to price units: (m, k) scaled -> (m, k) float64 prices."""
        p = self.params
        y = np.asarray(y_scaled, dtype=np.float64)
        if self.kind == "minmax":
            return y * _safe(p["t_hi"][0] - p["t_lo"][0]) + p["t_lo"][0]
        if self.kind == "standard":
            return y * _safe(p["t_std"][0]) + p["t_mean"][0]
        return history[:, -1:] * np.exp(y)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "features": list(self.features), "target": self.target,
                "params": self.params, "fit_rows": list(self.fit_rows)}

    @classmethod
    def from_dict(cls, data: dict) -> Scaler:
        return cls(data["kind"], tuple(data["features"]), data["target"], data["params"], tuple(data["fit_rows"]))


def _safe(d):
    """Avoid dividing by zero on a constant column (the tutorial's MinMaxScaler does the same)."""
    d = np.asarray(d, dtype=np.float64)
    return np.where(d == 0, 1.0, d)
