"""Run folders for the report and script tests: a fake one built without Keras (fast) and a real
default run trained once per module (slow)."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pricecast.data.quality import quality_report, to_plain
from pricecast.evaluation.metrics import evaluate
from pricecast.prep.scaling import Scaler
from pricecast.prep.windows import WindowSpec, make_windows
from pricecast.specs import RunSpec
from pricecast.training.fitting import prediction_rows
from tests.conftest import make_candles

HOSTILE = '<script>alert("x")</script> & <b>bold</b>'

# A functional model's config.json as Keras writes it (two layers), so the layer table has something to read.
MODEL_CONFIG = {
    "module": "keras", "class_name": "Functional", "config": {
        "name": "pricecast_mlp", "trainable": True,
        "layers": [
            {"module": "keras.layers", "class_name": "InputLayer", "name": "window", "inbound_nodes": [],
             "config": {"batch_shape": [None, 10, 1], "dtype": "float32", "name": "window"}},
            {"module": "keras.layers", "class_name": "Flatten", "name": "flatten", "config": {"name": "flatten"},
             "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__",
                                          "config": {"keras_history": ["window", 0, 0]}}], "kwargs": {}}]},
            {"module": "keras.layers", "class_name": "Dense", "name": "forecast",
             "config": {"name": "forecast", "units": 3, "activation": "linear"},
             "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__",
                                          "config": {"keras_history": ["flatten", 0, 0]}}], "kwargs": {}}]},
        ],
        "input_layers": [["window", 0, 0]], "output_layers": [["forecast", 0, 0]]}}


def write_fake_run(folder: Path, candles: pd.DataFrame, data: str = "sample:AAPL") -> Path:
    """A complete run folder whose "model" forecasts persistence plus a little noise."""
    spec = RunSpec(data=data, window=WindowSpec(n=10, k=3))
    wset = make_windows(candles, spec.window)
    scaler = Scaler.fit("logratio", wset.values, wset.target, spec.window.features, "close", wset.train.rows)
    rng = np.random.default_rng(1)
    frames, metrics = [], {}
    for name, part in wset.parts.items():
        predicted = np.repeat(part.history[:, -1:], 3, axis=1) * (1 + rng.normal(0, 0.001, (len(part), 3)))
        metrics[name] = evaluate(np.asarray(part.y), predicted, np.asarray(part.history))
        frames.append(prediction_rows(wset.times, part.origin, part.y, predicted, part.history, {"part": name}))
    metrics.update({
        "device": "CPU (tensorflow)", "epochs_run": 2, "best_epoch": 1, "params": 33, "sizes": wset.sizes(),
        "learning_rate": 0.001, "warnings": [HOSTILE], "quality": to_plain(quality_report(candles)),
        "data": {"first": candles.index[0].isoformat(), "last": candles.index[-1].isoformat(), "rows": len(candles)},
        "persistence_floor": {"applies": True, "val_loss": 0.1, "gain_p": 0.01, "ended_as_persistence": False,
                              "note": "Epoch 1 beat persistence on validation."},
        "lookahead": [{"level": "ok", "code": "scaler", "message": "Scaler fitted on the training rows only.",
                       "details": {}}],
    })
    folder.mkdir(parents=True)
    (folder / "spec.json").write_text(json.dumps(spec.to_dict()))
    (folder / "metrics.json").write_text(json.dumps(metrics))
    (folder / "scaler.json").write_text(json.dumps(scaler.to_dict()))
    pd.DataFrame({"epoch": [1, 2], "loss": [0.2, 0.1], "val_loss": [0.15, 0.12]}).to_csv(folder / "history.csv",
                                                                                       index=False)
    pd.concat(frames).to_csv(folder / "predictions.csv", index=False)
    future = pd.date_range(candles.index[-1] + pd.Timedelta(hours=1), periods=3, freq="1h", tz="UTC", name="time")
    pd.DataFrame({"time": future, "step": [1, 2, 3], "predicted": [1.0, 2.0, 3.0],
                  "persistence": [1.5] * 3}).to_csv(folder / "forecast.csv", index=False)
    with zipfile.ZipFile(folder / "model.keras", "w") as archive:
        archive.writestr("config.json", json.dumps(MODEL_CONFIG))
    return folder


@pytest.fixture
def fake_run(tmp_path) -> tuple[Path, pd.DataFrame]:
    candles = make_candles(600)
    return write_fake_run(tmp_path / "20260101-000000-fake-run", candles), candles


@pytest.fixture(scope="module")
def default_run(tmp_path_factory) -> Path:
    """The default preset trained for 2 epochs on bundled AAPL (its own runs folder)."""
    from pricecast.presets import get_preset
    from pricecast.training.pipeline import train

    spec = get_preset("default").spec
    spec = spec.replace(train=spec.train.__class__(**{**spec.train.to_dict(), "epochs": 2}))
    with pytest.MonkeyPatch.context() as mp:  # module scope: the per-test home is not set yet
        mp.setenv("PRICECAST_HOME", str(tmp_path_factory.mktemp("home")))
        return train(spec, runs_root=tmp_path_factory.mktemp("runs")).run_dir
