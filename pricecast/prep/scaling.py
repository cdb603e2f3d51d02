"""Scalers fitted on the training part only, applied to window batches, inverted back to prices.

MinMax and Standard are per-column statistics of the training rows. Log-ratio (tutorial 002)
divides each price window by its own last input value, so it needs no statistics of prices at all;
volume and the derived inputs (returns, ranges, time of day: already unitless, and possibly 0 or
negative) are standardised with statistics of the training rows instead.

A target with a transform (``log1p`` for volume: heavy-tailed, with zero-volume candles; see
:mod:`pricecast.prep.targets`) is transformed before any statistic is fitted, as a target and as the
same column among the inputs, so a "plus the last value" model still starts at persistence. Targets
that are not prices (volume, range, log returns) are standardised under log-ratio too: there is no
last price to divide by, and a return can be 0 or negative.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pricecast.errors import PricecastError
from pricecast.prep.targets import TARGETS

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
    transform: str = "none"  # the target's transform (older runs: none)

    # ---- fitting -------------------------------------------------------------------------------
    @classmethod
    def fit(cls, kind: str, values: np.ndarray, target: np.ndarray, features: tuple[str, ...], target_name: str,
            rows: tuple[int, int]) -> Scaler:
        """Fit on ``values[rows[0]:rows[1]]`` only — the training part — and nothing else."""
        if kind not in SCALERS:
            raise PricecastError(f"unknown scaling '{kind}'; choose from {', '.join(SCALERS)}")
        a, b = rows
        transform = TARGETS[target_name].transform if target_name in TARGETS else "none"
        probe = cls(kind, tuple(features), target_name, {}, (int(a), int(b)), transform)
        v, t = probe._forward_x(values[a:b]), _forward(transform, target[a:b])
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
            if not probe._price_target():
                params.update({"t_mean": [float(t.mean())], "t_std": [float(t.std())]})
        return cls(kind, tuple(features), target_name, params, (int(a), int(b)), transform)

    # ---- transforms ----------------------------------------------------------------------------
    def _target_col(self) -> int:
        return self.features.index(self.target) if self.target in self.features else -1

    def _price_target(self) -> bool:
        return self.target in PRICE_COLUMNS

    def _forward_x(self, x: np.ndarray) -> np.ndarray:
        """Inputs with the target's transform applied to the target's own column (minmax/standard;
        log-ratio already takes log1p of volume)."""
        j = self._target_col()
        if self.transform == "none" or j < 0 or self.kind == "logratio":
            return x
        out = np.array(x, dtype=np.float64)
        out[..., j] = _forward(self.transform, out[..., j])
        return out

    def transform_x(self, x: np.ndarray) -> np.ndarray:
        """Scale raw input windows (m, n, features) -> float32 copy."""
        p = self.params
        x = self._forward_x(x)
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
        y = _forward(self.transform, y)
        if self.kind == "minmax":
            out = (y - p["t_lo"][0]) / _safe(p["t_hi"][0] - p["t_lo"][0])
        elif self.kind == "standard" or not self._price_target():
            out = (y - p["t_mean"][0]) / _safe(p["t_std"][0])
        else:
            out = np.log(y / history[:, -1:])
        return np.asarray(out, dtype=np.float32)

    def inverse_y(self, y_scaled: np.ndarray, history: np.ndarray) -> np.ndarray:
        """Back to the target's units: (m, k) scaled -> (m, k) float64 (prices, volume, ...)."""
        p = self.params
        y = np.asarray(y_scaled, dtype=np.float64)
        if self.kind == "minmax":
            return _inverse(self.transform, y * _safe(p["t_hi"][0] - p["t_lo"][0]) + p["t_lo"][0])
        if self.kind == "standard" or not self._price_target():
            return _inverse(self.transform, y * _safe(p["t_std"][0]) + p["t_mean"][0])
        return history[:, -1:] * np.exp(y)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "features": list(self.features), "target": self.target,
                "params": self.params, "fit_rows": list(self.fit_rows), "transform": self.transform}

    @classmethod
    def from_dict(cls, data: dict) -> Scaler:
        return cls(data["kind"], tuple(data["features"]), data["target"], data["params"], tuple(data["fit_rows"]),
                   data.get("transform", "none"))


def _forward(transform: str, values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    # a negative volume is a broken feed, not a value to take the log of: clipped at 0
    return np.log1p(np.maximum(values, 0.0)) if transform == "log1p" else values


def _inverse(transform: str, values: np.ndarray) -> np.ndarray:
    return np.expm1(values) if transform == "log1p" else values


def _safe(d):
    """Avoid dividing by zero on a constant column (the tutorial's MinMaxScaler does the same)."""
    d = np.asarray(d, dtype=np.float64)
    return np.where(d == 0, 1.0, d)
