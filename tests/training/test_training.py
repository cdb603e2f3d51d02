import json
import math
import threading

import h5py
import numpy as np
import pandas as pd
import pytest

from pricecast.events import Batch, Done, Epoch, Started
from pricecast.models.spec import ModelSpec
from pricecast.prep.windows import WindowSpec
from pricecast.specs import RunSpec, TrainSpec
from pricecast.training.pipeline import prepare, train
from pricecast.training.predicting import predict_with_run
from pricecast.training.runs import RUN_FILES, delete_run, export_windows_h5, list_runs, load_run

from ..conftest import make_candles

pytestmark = pytest.mark.slow  # (nearly) every test here trains a Keras model

TINY = RunSpec(
    data="sample:AAPL",
    window=WindowSpec(n=10, k=3, features=("close",)),
    scaling="logratio",
    model=ModelSpec(arch="gru", units=(8,), residual=True),
    train=TrainSpec(epochs=2, batch_size=64, patience=0, seed=7),
)


def test_train_streams_events_and_writes_a_complete_run_folder(tmp_path):
    events = []
    run = train(TINY, listener=events.append, runs_root=tmp_path)
    kinds = [type(e) for e in events]
    assert kinds[0] is Started and kinds[-1] is Done and kinds.count(Epoch) == 2
    epoch = [e for e in events if isinstance(e, Epoch)][0]
    assert epoch.epoch == 1 and epoch.epochs == 2 and epoch.fraction == 0.5 and epoch.fold == 0
    assert math.isfinite(epoch.loss) and math.isfinite(epoch.val_loss) and epoch.eta is not None and epoch.samples_per_s
    assert events[0].sizes["train"] > 0 and events[0].params and not events[-1].stopped
    for name in (*RUN_FILES, "scaler.json", "forecast.csv"):
        assert (run.run_dir / name).exists(), name
    metrics = json.loads((run.run_dir / "metrics.json").read_text())
    test = metrics["test"]
    assert test["persistence_rmse"] > 0 and test["skill"] == pytest.approx(1 - test["rmse"] / test["persistence_rmse"])
    assert metrics["scaler_fit_rows"] == [0, metrics["sizes"]["train"]["rows"]]
    assert metrics["device"].startswith(("CPU", "GPU"))
    preds = pd.read_csv(run.run_dir / "predictions.csv")
    assert set(preds["part"]) == {"train", "val", "test"}
    assert len(preds[preds.part == "test"]) == metrics["sizes"]["test"]["windows"] * 3
    assert len(run.forecast) == 3 and run.forecast["time"].iloc[0] > pd.Timestamp("2013-03-01", tz="UTC")
    # look-ahead checks ran with the training and passed for this honest setup
    codes = {f["code"]: f["level"] for f in metrics["lookahead"]}
    assert codes["scaler"] == "ok" and codes["windows"] == "ok"
    rows = list_runs(tmp_path)
    # the run list compares networks: their own skill, with the decision beside
    assert rows[0]["run_dir"] == str(run.run_dir) and rows[0]["skill"] == pytest.approx(test["network"]["skill"])
    assert rows[0]["decision"] == metrics["decision"]["choice"]


def test_a_min_max_run_on_prices_above_its_training_range_says_why_it_fails(tmp_path):
    # lecture-lstm on daily AAPL: every test price above the training range, skill -2,000%.
    spec = TINY.replace(data="sample:AAPL", scaling="minmax", model=TINY.model.replace(residual=False),
                        train=TrainSpec(epochs=1, batch_size=64, patience=0, seed=7))
    run = train(spec, runs_root=tmp_path)
    note = run.metrics["test"]["range_note"]
    assert "of the test prices" in note and "outside the training range" in note and "min-max scaling" in note
    assert run.metrics["train"]["range_note"] == ""


def test_same_seed_same_result(tmp_path):
    a = train(TINY, runs_root=tmp_path)
    b = train(TINY, runs_root=tmp_path)
    assert a.metrics["test"]["rmse"] == pytest.approx(b.metrics["test"]["rmse"], rel=1e-6)
    np.testing.assert_allclose(a.history["loss"], b.history["loss"], rtol=1e-6)


def test_stop_request_ends_within_a_batch_and_keeps_best_weights(tmp_path):
    stop = threading.Event()
    batches = []

    def listener(event):
        if isinstance(event, Batch):
            batches.append(event)
            stop.set()

    # fallback off: the run uses the partial epoch's network (the decision is tests/training/test_decision_fallback.py's)
    spec = TINY.replace(train=TrainSpec(epochs=50, batch_size=8, patience=0, per_batch_updates=True,
                                        persistence_floor=False))
    run = train(spec, listener=listener, stop=stop, runs_root=tmp_path)
    assert run.metrics["stopped_by_user"] is True
    assert run.metrics["epochs_run"] == 1 and len(batches) == 1
    # the partial epoch's weights are kept and saved: the saved model reproduces the saved metrics
    assert run.metrics["best_epoch"] == 1 and (run.run_dir / "model.keras").exists()


def test_best_weights_are_restored(tmp_path):
    spec = TINY.replace(train=TrainSpec(epochs=6, batch_size=32, patience=0, persistence_floor=False),
                        model=ModelSpec(arch="mlp", units=(16,), learning_rate=0.05))
    run = train(spec, runs_root=tmp_path)
    best = int(run.history["val_loss"].idxmin())
    prep = prepare(spec)
    from pricecast.training.feeding import scaled_arrays

    x, y = scaled_arrays(prep.windows.val, prep.scaler)
    val_loss = float(run.model.evaluate(x, y, verbose=0))
    assert val_loss == pytest.approx(run.history["val_loss"].iloc[best], rel=1e-3)
    assert run.metrics["best_epoch"] == best + 1


def test_reload_predict_and_export(tmp_path):
    run = train(TINY, runs_root=tmp_path)
    again = load_run(run.run_dir)
    assert again.spec == TINY
    frame = make_candles(120, freq="1D")
    result = predict_with_run(again, frame)
    assert len(result["forecast"]) == 3 and result["evaluation"]["windows"] == 120 - 13 + 1
    # the run's own scaler is reused, not refitted on new data
    assert again.scaler.params == run.scaler.params

    prep = prepare(TINY)
    path = export_windows_h5(prep.windows, prep.scaler, tmp_path / "w.h5")
    with h5py.File(path) as h5:
        m = sum(len(p) for p in prep.windows.parts.values())
        assert h5["inputs"].shape == (m, 10, 1) and h5["outputs"].shape == (m, 3, 1)
        np.testing.assert_allclose(h5["original_inputs"][0, :, 0], prep.windows.train.x[0, :, 0])
        assert h5["output_times"][0, 0] == h5["input_times"][0, -1] + 86400 * 1  # next trading day after 2000-03-01
        assert set(h5["part"][:].astype(str)) == {"train", "val", "test"}
    delete_run(run.run_dir, tmp_path)
    assert not run.run_dir.exists()


def test_bad_settings_fail_before_tensorflow_loads():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from pricecast.specs import RunSpec\nfrom pricecast.prep.windows import WindowSpec\n"
        "from pricecast.training.pipeline import train\n"
        "try:\n    train(RunSpec(window=WindowSpec(n=5000, k=5)))\nexcept ValueError as e:\n    print(e)\n"
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "longer than the training part" in out and out.strip().endswith("False False")


def test_live_validation_forecasts_stay_within_their_time_budget():
    """On fast epochs the live chart's forecasts come after the first and the last epoch only (each
    one here costs as much as ten epochs); with a budget that allows it, after every epoch."""
    import time

    from pricecast.training.callbacks import LiveHistory

    def forecasts_after(budget: float) -> list[int]:
        events: list = []

        def slow_forecast():
            time.sleep(0.02)
            return np.zeros((3, 2))

        live = LiveHistory(events.append, epochs=12, samples=10, val_predict=slow_forecast, val_budget=budget)
        for epoch in range(12):
            live.on_epoch_begin(epoch)
            time.sleep(0.002)
            live.on_epoch_end(epoch, {"loss": 1.0, "val_loss": 1.0})
        return [e.epoch for e in events if e.val_pred is not None]

    assert forecasts_after(0.03) == [1, 12]
    assert forecasts_after(10.0) == list(range(1, 13))
