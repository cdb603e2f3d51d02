"""The backtest cache on disk (``<home>/backtests``): each fold's forecasts and each fold model's
weights, keyed by everything that changes them — the setup, the data's fingerprint and the fold's
rows — and nothing cosmetic, so a rerun of the same setup trains nothing.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pricecast.backtest.spec import BacktestSpec, FoldPlan
from pricecast.paths import home
from pricecast.prep.features import source_columns
from pricecast.specs import RunSpec
from pricecast.training.backend import configure_device
from pricecast.training.fitting import build

# Bump when cached fold contents change meaning. 2: fold models are fitted by fitting.fit, which
# honours the speed options, the seed's deterministic setting and the NaN-loss stop. 3: fold models
# are the networks (no longer zeroed to persistence by the floor), with the fold's decision beside.
BACKTEST_VERSION = 3


def data_fingerprint(candles: pd.DataFrame, columns: tuple[str, ...]) -> str:
    """A short hash of the candle times and the ``columns``' values."""
    h = hashlib.sha256()
    h.update(np.asarray(candles.index.asi8).tobytes())
    h.update(np.ascontiguousarray(candles[list(columns)].to_numpy(dtype=np.float64)).tobytes())
    return h.hexdigest()[:20]


def data_key(spec: RunSpec, candles: pd.DataFrame) -> str:
    """The fingerprint of what ``spec`` reads from ``candles``: their times and the candle columns its
    inputs and target come from (a derived input such as ``log_return`` by the columns it is computed
    from). The cache and the dashboard key a backtest's data with this one function."""
    window = spec.window
    return data_fingerprint(candles, source_columns((*window.features, window.target)))


def spec_hash(obj: Any) -> str:
    """A short stable hash of a JSON-able setup (keys sorted; anything else by its ``str``)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:24]


def cache_root() -> Path:
    return home() / "backtests"


class FoldStore:
    """One backtest's view of the cache: the key of each fold and of each fold's model. With
    ``enabled`` False nothing is read or written (every fold counts as not cached)."""

    def __init__(self, root: Path | None, enabled: bool, spec: RunSpec, bt: BacktestSpec, candles: pd.DataFrame,
                 plans: list[FoldPlan], mc: bool) -> None:
        self.root = Path(root) if root else cache_root()
        self.enabled = enabled
        model_common = {"v": BACKTEST_VERSION, "spec": {**spec.to_dict(), "preset": ""}, "data": data_key(spec, candles),
                        "method": bt.method}
        fold_common = {**model_common, "mc": bt.mc_samples if mc else 0, "levels": list(bt.levels) if mc else []}
        self.model_keys = {p.index: spec_hash({**model_common, "train": p.model_train, "val": p.model_val})
                           for p in plans}
        self.fold_keys = {p.index: spec_hash({**fold_common, "model": self.model_keys[p.index], "calib": p.val,
                                              "test": p.test}) for p in plans}

    def _fold_file(self, plan: FoldPlan, suffix: str) -> Path:
        return self.root / "folds" / f"{self.fold_keys[plan.index]}{suffix}"

    def _model_file(self, plan: FoldPlan, suffix: str) -> Path:
        return self.root / "models" / f"{self.model_keys[plan.index]}{suffix}"

    def has_fold(self, plan: FoldPlan) -> bool:
        return self.enabled and self._fold_file(plan, ".npz").exists()

    def has_model(self, plan: FoldPlan) -> bool:
        return self.enabled and self._model_file(plan, ".weights.h5").exists()

    def save_fold(self, plan: FoldPlan, stored: dict) -> None:
        if not self.enabled:
            return
        self._fold_file(plan, "").parent.mkdir(parents=True, exist_ok=True)
        arrays = {name: np.asarray(v) for name, v in stored.items() if name != "info"}
        tmp = self._fold_file(plan, ".tmp.npz")
        np.savez(tmp, **arrays)
        self._fold_file(plan, ".json").write_text(json.dumps({"info": stored["info"], "plan": asdict(plan)}))
        tmp.replace(self._fold_file(plan, ".npz"))  # the .npz appears last: its presence means the fold is complete

    def load_fold(self, plan: FoldPlan) -> dict:
        with np.load(self._fold_file(plan, ".npz")) as data:
            stored = {name: np.asarray(data[name]) for name in data.files}
        meta = self._fold_file(plan, ".json")
        stored["info"] = json.loads(meta.read_text())["info"] if meta.exists() else {}
        return stored

    def save_model(self, plan: FoldPlan, model, info: dict) -> None:
        if not self.enabled:
            return
        self._model_file(plan, "").parent.mkdir(parents=True, exist_ok=True)
        model.save_weights(self._model_file(plan, ".weights.h5"))
        self._model_file(plan, ".json").write_text(json.dumps(info))

    def load_model(self, plan: FoldPlan, spec: RunSpec, k_model: int) -> tuple[Any, dict]:
        """The fold's model rebuilt from its cached weights, and how it was trained."""
        model = build(spec, k_model, configure_device(), [])  # the layers fit() built (mixed precision adds one)
        model.load_weights(self._model_file(plan, ".weights.h5"))
        return model, json.loads(self._model_file(plan, ".json").read_text())
