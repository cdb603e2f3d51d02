"""The backtest cache's keys and files: what changes a key, and a store that is off touches nothing (no Keras)."""
from __future__ import annotations

import numpy as np

from pricecast.backtest.spec import BacktestSpec, plan_folds
from pricecast.backtest.store import FoldStore, cache_root, spec_hash
from pricecast.models.spec import ModelSpec
from pricecast.prep.windows import WindowSpec
from pricecast.specs import RunSpec, TrainSpec

from ..conftest import make_candles

SPEC = RunSpec(data="unused", window=WindowSpec(n=10, k=3, features=("close",)), scaling="minmax",
               model=ModelSpec(arch="mlp", units=(8,)), train=TrainSpec(epochs=1, patience=0, seed=1))
BT = BacktestSpec(folds=3, fold_size=40)
CANDLES = make_candles(400, freq="1D")
PLANS = plan_folds(len(CANDLES), BT, 10, 3)


def store(spec=SPEC, bt=BT, candles=CANDLES, mc=False, enabled=True, root=None) -> FoldStore:
    return FoldStore(root, enabled, spec, bt, candles, PLANS, mc)


def test_spec_hash_ignores_key_order():
    assert spec_hash({"a": 1, "b": [1, 2]}) == spec_hash({"b": [1, 2], "a": 1}) != spec_hash({"a": 2, "b": [1, 2]})


def test_keys_follow_what_changes_the_forecasts_and_not_the_preset_label():
    base = store()
    assert len(set(base.fold_keys.values())) == 3 and len(set(base.model_keys.values())) == 3
    assert store(spec=SPEC.replace(preset="default")).fold_keys == base.fold_keys  # a label, not a setup
    changed = CANDLES.copy()
    changed.iloc[-1, changed.columns.get_loc("close")] *= 1.01
    other_data = store(candles=changed)
    assert not set(other_data.fold_keys.values()) & set(base.fold_keys.values())
    assert not set(other_data.model_keys.values()) & set(base.model_keys.values())
    other_model = store(spec=SPEC.replace(model=SPEC.model.replace(units=(16,))))
    assert not set(other_model.model_keys.values()) & set(base.model_keys.values())
    # MC-dropout samples change a fold's bands, not the model trained for it
    with_mc = store(bt=BacktestSpec(folds=3, fold_size=40, mc_samples=5), mc=True)
    assert with_mc.model_keys == base.model_keys and with_mc.fold_keys != base.fold_keys


def test_a_fold_round_trips_and_a_disabled_store_reads_and_writes_nothing(tmp_path):
    on = store(root=tmp_path)
    plan = PLANS[1]
    stored = {"calib_pred": np.arange(6.0).reshape(2, 3), "test_pred": np.ones((4, 3)), "info": {"epochs_run": 2}}
    assert not on.has_fold(plan)
    on.save_fold(plan, stored)
    assert on.has_fold(plan) and not on.has_fold(PLANS[0])
    back = on.load_fold(plan)
    np.testing.assert_array_equal(back["calib_pred"], stored["calib_pred"])
    assert back["info"] == {"epochs_run": 2}

    off = store(root=tmp_path, enabled=False)
    assert not off.has_fold(plan)  # the file is there, but a run without the cache must recompute
    files = sorted(tmp_path.rglob("*"))
    off.save_fold(PLANS[0], stored)
    assert sorted(tmp_path.rglob("*")) == files


def test_the_cache_lives_under_the_home_folder(pricecast_home):
    assert cache_root() == pricecast_home / "backtests"
    assert store().root == pricecast_home / "backtests"
