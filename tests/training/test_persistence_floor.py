"""The persistence floor: with residual output the untrained model is "no change"; scored on
validation it is the epoch-0 candidate for the best weights, so training that does not help ends
as persistence (and says so) instead of something worse."""
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

from ..conftest import make_candles

pytestmark = pytest.mark.slow  # every test here trains a Keras model

# A random walk cannot be forecast better than "no change"; a learning rate this large makes the
# trained model clearly worse on validation, so only the floor can end it as persistence.
HOPELESS = RunSpec(data="unused", window=WindowSpec(n=10, k=2, features=("close",)), scaling="logratio",
                   model=ModelSpec(arch="gru", units=(8,), residual=True, learning_rate=0.5),
                   train=TrainSpec(epochs=2, batch_size=32, patience=0, seed=3))


def _test_rmse(run) -> tuple[float, float]:
    test = run.metrics["test"]
    return test["rmse"], test["persistence_rmse"]


def test_training_that_cannot_help_ends_exactly_as_persistence(tmp_path):
    candles = make_candles(400)
    run = train(HOPELESS, candles=candles, runs_root=tmp_path)
    m = run.metrics
    assert m["best_epoch"] == 0 and m["ended_as_persistence"] is True
    floor = m["persistence_floor"]
    assert floor["applies"] and "ends as persistence" in floor["note"]
    assert m["best_val_loss"] == pytest.approx(floor["val_loss"], rel=1e-12)
    assert (run.history["val_loss"] > floor["val_loss"]).all()  # every epoch lost to it
    rmse, persistence = _test_rmse(run)
    assert abs(rmse - persistence) <= 1e-9 * persistence
    preds = run.predictions
    np.testing.assert_allclose(preds["predicted"], preds["persistence"], rtol=1e-12)
    # the same run without the floor ends with the (worse) trained weights
    off = train(HOPELESS.replace(train=replace(HOPELESS.train, persistence_floor=False)), candles=candles,
                runs_root=tmp_path)
    assert off.metrics["best_epoch"] >= 1 and not off.metrics["ended_as_persistence"]
    assert not off.metrics["persistence_floor"]["applies"] and "off" in off.metrics["persistence_floor"]["note"]
    assert _test_rmse(off)[0] > persistence * (1 + 1e-6)


def test_a_learnable_series_beats_the_floor(tmp_path):
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
    assert m["best_epoch"] >= 1 and not m["ended_as_persistence"]
    assert m["persistence_floor"]["applies"] and m["best_val_loss"] < m["persistence_floor"]["val_loss"]
    assert "beat persistence" in m["persistence_floor"]["note"] and "paired test p = " in m["persistence_floor"]["note"]
    assert m["persistence_floor"]["gain_p"] < 0.05  # a real gain, kept
    rmse, persistence = _test_rmse(run)
    assert rmse < persistence


def test_a_model_without_residual_output_says_no_floor_applies(tmp_path):
    spec = HOPELESS.replace(model=replace(HOPELESS.model, residual=False, learning_rate=0.001),
                            train=replace(HOPELESS.train, epochs=1))
    run = train(spec, candles=make_candles(300), runs_root=tmp_path)
    floor = run.metrics["persistence_floor"]
    assert not floor["applies"] and floor["val_loss"] is None and "residual output off" in floor["note"]
    assert run.metrics["best_epoch"] == 1 and not run.metrics["ended_as_persistence"]


def test_every_backtest_fold_gets_the_floor(tmp_path):
    spec = HOPELESS.replace(scaling="minmax")  # the floor holds through other scalers too
    result = run_backtest(spec, BacktestSpec(folds=2, fold_size=40, epochs=2), candles=make_candles(400),
                          use_cache=False, root=tmp_path)
    assert len(result.folds) == 2
    for fold in result.folds:
        assert fold.model_info["ended_as_persistence"] is True and fold.model_info["best_epoch"] == 0
        report = fold.report
        assert report["model"]["rmse"] == pytest.approx(report["persistence"]["rmse"], rel=1e-5)


@pytest.mark.parametrize("scaling,model", [
    ("logratio", ModelSpec(arch="mlp", units=(8,), residual=True, learning_rate=0.5)),
    ("minmax", ModelSpec(arch="mlp", units=(8,), dense_units=(4,), residual=True, learning_rate=0.5)),
    ("standard", ModelSpec(arch="cnn", units=(4, 4), kernel_sizes=(5, 5), strides=(1, 1), cnn_head="conv",
                           residual=True, learning_rate=0.5)),
])
def test_the_floor_is_persistence_in_price_units_and_scored_like_val_loss(scaling, model):
    from pricecast.training import fitting
    from pricecast.training.feeding import scaled_arrays
    from pricecast.training.pipeline import prepare

    spec = HOPELESS.replace(scaling=scaling, model=model)
    prep = prepare(spec, make_candles(400))
    val = prep.windows.val
    result = fitting.fit(spec, prep.windows.train, val, prep.scaler)
    assert result.ended_as_persistence and result.kept_best and result.info()["ended_as_persistence"]
    predicted = fitting.predict(result.model, val, prep.scaler)
    np.testing.assert_allclose(predicted, np.repeat(val.history[:, -1:], 2, axis=1), rtol=1e-6)
    x, y = scaled_arrays(val, prep.scaler)  # the floor's score is what Keras reports as val_loss
    assert result.floor.val_loss == pytest.approx(float(result.model.evaluate(x, y, batch_size=32, verbose=0)), rel=1e-6)


def test_a_gain_over_the_floor_within_noise_does_not_replace_it():
    """judge_gain: a best epoch whose validation gain over "no change" a paired test cannot tell from
    noise gives the win back to the floor (its weights restored); floor_p = 1 keeps any gain."""
    from pricecast.training.callbacks import BestWeights
    from pricecast.training.feeding import scaled_arrays
    from pricecast.training.fitting import Floor, build, judge_gain, output_layer
    from pricecast.training.pipeline import prepare

    prep = prepare(HOPELESS, make_candles(400))
    model = build(HOPELESS, 2, "CPU", [])
    val = scaled_arrays(prep.windows.val, prep.scaler)
    layer = output_layer(model)
    layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])
    floor_weights = model.get_weights()
    # "trained": the floor nudged by a hair, so any gain or loss is noise
    kernel, bias = layer.get_weights()
    layer.set_weights([kernel + 1e-7, bias])
    nudged = model.get_weights()
    for floor_p, kept in ((0.05, False), (1.0, True)):
        best = BestWeights()
        best.set_model(model)
        best.start(floor_weights, 1.0)
        best.best_epoch, best.weights = 3, nudged
        model.set_weights(nudged)
        spec = HOPELESS.replace(train=replace(HOPELESS.train, floor_p=floor_p))
        judged = judge_gain(model, spec, val, Floor(True, 1.0, "scored"), best)
        assert judged.gain_kept is kept and judged.p_needed == floor_p
        want = nudged if kept else floor_weights
        assert best.best_epoch == (3 if kept else 0)
        for got, expected in zip(model.get_weights(), want):
            np.testing.assert_array_equal(got, expected)
