"""The network and the decision, apart: every run keeps its network's best-validation weights and
forecasts; separately, validation decides whether the run uses them or falls back to 'no change'."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from pricecast.backtest.walkforward import BacktestSpec, run_backtest
from pricecast.models.spec import ModelSpec
from pricecast.prep.windows import WindowSpec
from pricecast.specs import RunSpec, TrainSpec
from pricecast.training.pipeline import train
from pricecast.training.predicting import predict_with_run

from ..conftest import make_candles

pytestmark = pytest.mark.slow  # every test here trains a Keras model

# A random walk cannot be forecast better than "no change"; a learning rate this large makes the
# trained network clearly worse on validation, so the run falls back.
HOPELESS = RunSpec(data="unused", window=WindowSpec(n=10, k=2, features=("close",)), scaling="logratio",
                   model=ModelSpec(arch="gru", units=(8,), residual=True, learning_rate=0.5),
                   train=TrainSpec(epochs=2, batch_size=32, patience=0, seed=3))


def test_a_run_that_falls_back_keeps_its_network_and_says_so(tmp_path):
    candles = make_candles(400)
    run = train(HOPELESS, candles=candles, runs_root=tmp_path)
    m = run.metrics
    assert m["best_epoch"] >= 1  # the network's own best epoch, never a zeroed 'epoch 0'
    d = m["decision"]
    assert set(d) == {"choice", "baseline", "p_value", "p_needed", "note"}
    assert d["choice"] == "persistence" and d["baseline"] == "persistence" and d["p_needed"] == 0.05
    assert d["note"].startswith("Using 'no change' (persistence), not the network")
    for part in ("val", "test"):
        report = m[part]
        assert report["decision"] == "persistence" and report["decision_p"] == d["p_value"]
        # the decision's numbers are persistence's; the network's own differ
        assert report["rmse"] == pytest.approx(report["persistence_rmse"], rel=1e-12)
        assert {"rmse", "mae", "mape", "direction", "skill"} <= report["network"].keys()
        assert abs(report["network"]["rmse"] - report["persistence_rmse"]) > 1e-6 * report["persistence_rmse"]
    preds = run.predictions
    np.testing.assert_allclose(preds["predicted"], preds["persistence"], rtol=1e-12)
    assert not np.allclose(preds["network"], preds["persistence"])
    # the forecast one would use is the decision's, the network's beside it; the same on new data
    np.testing.assert_allclose(run.forecast["predicted"], run.forecast["persistence"])
    assert not np.allclose(run.forecast["network"], run.forecast["persistence"])
    again = predict_with_run(run, candles)
    np.testing.assert_allclose(again["forecast"]["predicted"], again["forecast"]["persistence"])
    assert again["evaluation"]["decision"] == "persistence"
    # with the fallback off the run uses its network whatever it scores
    off = train(HOPELESS.replace(train=replace(HOPELESS.train, persistence_floor=False)), candles=candles,
                runs_root=tmp_path)
    assert off.metrics["decision"]["choice"] == "network" and "off" in off.metrics["decision"]["note"]
    assert off.metrics["test"]["rmse"] == pytest.approx(off.metrics["test"]["network"]["rmse"])
    assert off.metrics["test"]["rmse"] > off.metrics["test"]["persistence_rmse"]


def test_a_learnable_series_uses_its_network(tmp_path):
    rows = 600
    index = pd.date_range("2024-01-01", periods=rows, freq="1h", tz="UTC", name="time")
    close = 100 + 10 * np.sin(np.arange(rows) * 2 * np.pi / 20)
    candles = pd.DataFrame({"open": close, "high": close * 1.001, "low": close * 0.999, "close": close,
                            "volume": np.ones(rows)}, index=index)
    spec = RunSpec(data="unused", window=WindowSpec(n=10, k=1, features=("close",)), scaling="logratio",
                   model=ModelSpec(arch="mlp", units=(16,), residual=True, learning_rate=0.01),
                   train=TrainSpec(epochs=4, batch_size=16, patience=0, seed=1))
    run = train(spec, candles=candles, runs_root=tmp_path)
    m = run.metrics
    assert m["decision"]["choice"] == "network" and m["decision"]["p_value"] < 0.05
    assert "paired test p = " in m["decision"]["note"]
    assert m["test"]["rmse"] == pytest.approx(m["test"]["network"]["rmse"]) and m["test"]["rmse"] < m["test"]["persistence_rmse"]
    np.testing.assert_allclose(run.predictions["predicted"], run.predictions["network"])


def test_backtest_folds_score_their_networks_with_the_decision_beside(tmp_path):
    spec = HOPELESS.replace(scaling="minmax")
    result = run_backtest(spec, BacktestSpec(folds=2, fold_size=40, epochs=2), candles=make_candles(400),
                          use_cache=False, root=tmp_path)
    assert len(result.folds) == 2
    for fold, row in zip(result.folds, result.fold_rows()):
        assert fold.model_info["best_epoch"] >= 1 and fold.model_info["decision"] == "persistence"
        assert row["decision"] == "persistence"
        report = fold.report  # the network's own score, not persistence's
        assert abs(report["model"]["rmse"] - report["persistence"]["rmse"]) > 1e-6 * report["persistence"]["rmse"]
