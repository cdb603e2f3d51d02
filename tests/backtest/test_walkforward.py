"""Walk-forward backtest: leak-free refitting, metrics, cache, stop, recursive forecasts."""
from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pytest

import pricecast.backtest.walkforward as walkforward
from pricecast.backtest.spec import BacktestError, BacktestSpec
from pricecast.backtest.walkforward import run_backtest
from pricecast.events import Done, Epoch, Fold, FoldsPlanned
from pricecast.models.spec import ModelSpec
from pricecast.prep.windows import WindowSpec
from pricecast.specs import RunSpec, TrainSpec
from pricecast.training.fitting import FitResult

from ..conftest import make_candles

pytestmark = pytest.mark.slow  # (nearly) every test here trains a Keras model

TINY = RunSpec(data="unused", window=WindowSpec(n=10, k=3, features=("close",)), scaling="minmax",
               model=ModelSpec(arch="mlp", units=(8,), dropout=0.2, residual=True),
               train=TrainSpec(epochs=1, batch_size=64, patience=0, seed=1))
BT = BacktestSpec(folds=3, fold_size=40, epochs=1)


@pytest.fixture(scope="module")
def candles():
    return make_candles(400, freq="1D")


# ---- the walk (a fake model where the plumbing is tested) ---------------------------------------
def test_scaler_is_refitted_inside_each_training_window(candles, monkeypatch):
    seen = []
    real_fit = walkforward.Scaler.fit

    def spy(kind, values, target, features, target_name, rows):
        seen.append(rows)
        return real_fit(kind, values, target, features, target_name, rows)

    monkeypatch.setattr(walkforward.Scaler, "fit", staticmethod(spy))
    monkeypatch.setattr(walkforward, "fit", _fake_fit)
    result = run_backtest(TINY, BT, candles=candles, use_cache=False)
    plans = [f.plan for f in result.folds]
    # Every fit — the fold's scaler and the look-ahead check's recomputation — used training rows only.
    assert set(seen) == {p.model_train for p in plans}
    assert all(rows[1] <= p.val[0] < p.test[0] for rows, p in zip(seen, plans))


def _fake_fit(spec, train_part, val_part, scaler, *, epochs=None, stop=None, on_epoch=None, **_):
    """A 'model' that predicts no change — enough to test the plumbing without Keras."""
    class Flat:
        output_shape = (None, train_part.y.shape[1])

        def __call__(self, x, training=False):
            last = np.asarray(x)[:, -1:, 0]
            return np.repeat(last, self.output_shape[1], axis=1)

        def predict(self, x, batch_size=None, verbose=0):  # what fitting.predict calls on long parts
            return self(x)

        def save_weights(self, path):
            open(path, "wb").close()

    if on_epoch:
        on_epoch(1, {"loss": 0.0, "val_loss": 0.0})
    return FitResult(Flat(), pd.DataFrame({"epoch": [1], "loss": [0.0], "val_loss": [0.0]}), best_epoch=1,
                     best_val_loss=0.0)


# ---- real training (tiny) ---------------------------------------------------------------------
def test_backtest_scores_every_fold_and_a_rerun_trains_nothing(candles, monkeypatch):
    events = []
    bt = BacktestSpec(folds=3, fold_size=40, epochs=1, mc_samples=5)
    first = run_backtest(TINY, bt, candles=candles, progress=events.append)
    kinds = [type(e) for e in events]
    assert kinds[0] is FoldsPlanned and kinds[-1] is Done and kinds.count(Fold) == 3 and Epoch in kinds
    assert events[0].folds == 3 and events[0].models_to_train == 3
    steps = [e for e in events if isinstance(e, Epoch | Fold)]
    assert all(0 < e.fraction <= 1 and e.eta is not None for e in steps) and steps[-1].fraction == 1.0
    assert all(e.fold > 0 and e.folds == 3 for e in steps if isinstance(e, Epoch))  # a fold's model, not a run
    assert first.models_trained == 3 and first.folds_cached == 0 and not first.stopped
    for f in first.folds:
        r = f.report
        assert r["windows"] == 40 - 3 + 1  # targets fill the fold: inputs may read the history before it
        for name in ("model", "persistence", "drift", "moving_average"):
            assert {"rmse", "mae", "mape", "mase", "direction"} <= set(r[name])
        assert r["persistence"]["mase"] == pytest.approx(r["persistence"]["mae"] / f.scale)
    assert set(first.intervals) == {"conformal", "mc_dropout"}
    assert 0 <= first.intervals["conformal"][0.8]["coverage"] <= 1
    assert first.intervals["conformal"][0.8]["text"].startswith("80% conformal band covered")
    assert len(first.by_horizon["model_rmse"]) == 3 and len(first.by_horizon["persistence_rmse"]) == 3
    assert {f.code for f in first.findings} >= {"scaler", "windows"}
    assert not [f for f in first.findings if f.code in ("scaler_after_cut", "targets_straddle", "parts_overlap")]
    table = first.predictions()
    assert len(table) == 3 * 38 * 3 and "conformal_80_lo" in table and "mc_dropout_95_hi" in table

    def boom(*a, **k):
        raise AssertionError("a cached rerun must not train")

    monkeypatch.setattr(walkforward, "fit", boom)
    again = run_backtest(TINY, bt, candles=candles)
    assert again.models_trained == 0 and again.folds_cached == 3
    np.testing.assert_allclose(again.folds[2].predicted, first.folds[2].predicted)
    assert again.overall["rmse"] == pytest.approx(first.overall["rmse"])
    assert again.intervals["mc_dropout"][0.95]["coverage"] == first.intervals["mc_dropout"][0.95]["coverage"]


def test_cache_key_changes_with_the_data(candles, monkeypatch):
    monkeypatch.setattr(walkforward, "fit", _fake_fit)
    run_backtest(TINY, BT, candles=candles)
    changed = candles.copy()
    changed.iloc[-1, changed.columns.get_loc("close")] *= 1.01
    calls = []

    def count(*args, **kwargs):
        calls.append(1)
        return _fake_fit(*args, **kwargs)

    monkeypatch.setattr(walkforward, "fit", count)
    result = run_backtest(TINY, BT, candles=changed)
    assert len(calls) == 3 and result.folds_cached == 0


def test_never_retrain_trains_one_model(candles):
    result = run_backtest(TINY, BacktestSpec(folds=3, fold_size=40, retrain_every=0, epochs=1), candles=candles,
                          use_cache=False)
    assert result.models_trained == 1
    assert [f.retrained for f in result.folds] == [True, False, False]


def test_stop_keeps_finished_folds_and_the_rest_resumes_from_cache(candles):
    stop = threading.Event()

    def progress(event):
        if isinstance(event, Fold) and event.fold == 1:
            stop.set()

    stopped = run_backtest(TINY, BT, candles=candles, progress=progress, stop=stop)
    assert stopped.stopped and len(stopped.folds) == 1
    resumed = run_backtest(TINY, BT, candles=candles)
    assert resumed.folds_cached == 1 and resumed.models_trained == 2 and len(resumed.folds) == 3


def test_recursive_forecasts_use_a_one_step_model(candles):
    result = run_backtest(TINY, BacktestSpec(folds=2, fold_size=40, method="recursive", epochs=1), candles=candles,
                          use_cache=False)
    assert result.folds[0].predicted.shape == (38, 3)
    assert any("recursive" in note for note in result.notes)
    multi = TINY.replace(window=WindowSpec(n=10, k=3, features=("open", "close")))
    with pytest.raises(BacktestError, match="only input feature"):
        run_backtest(multi, BacktestSpec(folds=2, fold_size=40, method="recursive"), candles=candles)


def test_mc_dropout_without_dropout_says_so(candles, monkeypatch):
    monkeypatch.setattr(walkforward, "fit", _fake_fit)
    spec = TINY.replace(model=TINY.model.replace(dropout=0.0))
    result = run_backtest(spec, BacktestSpec(folds=2, fold_size=40, mc_samples=5), candles=candles, use_cache=False)
    assert "mc_dropout" not in result.intervals
    assert any("need a model with dropout" in note for note in result.notes)


def test_eval_figures_draw_the_result(candles, monkeypatch):
    from pricecast.plots import backtest as ef

    monkeypatch.setattr(walkforward, "fit", _fake_fit)
    result = run_backtest(TINY, BT, candles=candles, use_cache=False)
    assert len(ef.fold_error_figure(result).data) == 3
    assert len(ef.horizon_error_figure(result).data) == 2
    band = ef.interval_figure(result, "conformal", 0.8, step=2)
    assert any(getattr(t, "fill", None) == "tonexty" for t in band.data) and "covered" in band.layout.title.text
    assert [t.name for t in band.data[-2:]] == ["Predicted (2 step ahead)", "Actual"]  # actual drawn on top
    assert len(ef.residual_figure(result).data) == 2


# ---- one training path: every TrainSpec option reaches the fold models ---------------------------
def test_fold_models_follow_the_linear_learning_rate_rule(candles):
    spec = TINY.replace(train=TrainSpec(epochs=1, batch_size=64, base_batch_size=16, patience=0, seed=1))
    result = run_backtest(spec, BacktestSpec(folds=2, fold_size=40, epochs=1), candles=candles, use_cache=False)
    assert [f.model_info["learning_rate"] for f in result.folds] == pytest.approx([TINY.model.learning_rate * 4] * 2)


def test_nan_loss_in_a_fold_stops_with_the_plain_message_and_caches_nothing(candles, tmp_path):
    from pricecast.training.fitting import NonFiniteLossError

    spec = TINY.replace(model=TINY.model.replace(optimizer="sgd", learning_rate=1e30),
                        train=TrainSpec(epochs=3, batch_size=64, patience=0, seed=1))
    with pytest.raises(NonFiniteLossError, match="fold 1: training diverged: the loss became NaN or infinite at "
                                                 "epoch 1") as err:
        run_backtest(spec, BacktestSpec(folds=2, fold_size=40), candles=candles, root=tmp_path)
    assert "Lower the learning rate" in str(err.value)
    assert not list(tmp_path.glob("*/*"))  # no fold model, no fold


def test_prediction_table_matches_a_training_runs_layout(candles, monkeypatch):
    monkeypatch.setattr(walkforward, "fit", _fake_fit)
    table = run_backtest(TINY, BT, candles=candles, use_cache=False).predictions()
    assert list(table.columns[:9]) == ["fold", "origin_time", "step", "time", "actual", "predicted", "persistence",
                                       "drift", "moving_average"]
    assert str(table["time"].dt.tz) == "UTC" and str(table["origin_time"].dt.tz) == "UTC"
    first = table.iloc[0]
    assert first["time"] == candles.index[candles.index.get_loc(first["origin_time"]) + 1]
