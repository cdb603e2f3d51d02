"""Each TrainSpec speed option trains one epoch of a tiny model on CPU and gives a finite loss."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from pricecast.models.spec import ModelSpec
from pricecast.prep.windows import WindowSpec
from pricecast.specs import RunSpec, TrainSpec

pytestmark = pytest.mark.slow  # (nearly) every test here trains a Keras model


def _candles(rows: int = 240) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, rows)))
    return pd.DataFrame({"open": close, "high": close * 1.01, "low": close * 0.99, "close": close,
                         "volume": np.full(rows, 1000.0)},
                        index=pd.date_range("2020-01-01", periods=rows, freq="D", tz="UTC", name="time"))


def _spec(**train) -> RunSpec:
    return RunSpec(data="test", window=WindowSpec(n=12, k=3), scaling="logratio",
                   model=ModelSpec(arch="gru", units=(4,)),
                   train=TrainSpec(**{"epochs": 1, "batch_size": 16, "patience": 0, **train}))


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("PRICECAST_HOME", str(tmp_path))


@pytest.mark.parametrize("options", [
    {},
    {"pipeline": "batches"},
    {"pipeline": "prefetch", "workers": 2},
    {"jit_compile": True},
    {"jit_compile": False},
    {"batch_size": 64, "base_batch_size": 16},
], ids=["plain", "batches", "prefetch", "xla", "no-xla", "scaled-lr"])
def test_option_trains_one_epoch(options, tmp_path):
    from pricecast.training.pipeline import train

    run = train(_spec(**options), candles=_candles(), runs_root=tmp_path / "runs")
    assert len(run.history) == 1
    assert math.isfinite(run.history["loss"].iloc[0])
    assert math.isfinite(run.metrics["test"]["rmse"])
    if options.get("jit_compile") and not run.model.jit_compile:
        assert any("XLA" in w for w in run.metrics["warnings"])  # refused, and said so


def test_scaled_learning_rate_follows_the_linear_rule(tmp_path):
    from pricecast.training.pipeline import train

    run = train(_spec(batch_size=64, base_batch_size=16), candles=_candles(), runs_root=tmp_path / "runs")
    assert run.metrics["learning_rate"] == pytest.approx(1e-3 * 64 / 16)


def test_mixed_precision_is_ignored_on_cpu_with_a_message(tmp_path):
    from pricecast.training.backend import configure_device
    from pricecast.training.pipeline import train

    if configure_device().startswith("GPU"):
        pytest.skip("this test is about CPU-only machines")
    events: list = []
    run = train(_spec(mixed_precision=True), listener=events.append, candles=_candles(), runs_root=tmp_path / "runs")
    message = "mixed precision needs a GPU"
    assert any(message in w for w in run.metrics["warnings"])
    assert any(message in w for w in events[0].warnings)
    assert math.isfinite(run.history["loss"].iloc[0])
    import keras

    assert keras.mixed_precision.global_policy().name == "float32"  # nothing leaks to later runs
    assert run.model.dtype_policy.name == "float32"


def test_mixed_precision_path_builds_a_float32_output(tmp_path, monkeypatch):
    """The GPU path, exercised on CPU by pretending the device is a GPU (float16 runs on CPU too)."""
    import keras

    from pricecast.training import pipeline as training

    monkeypatch.setattr("pricecast.training.fitting.configure_device", lambda: "GPU: pretend (tensorflow)")
    run = training.train(_spec(mixed_precision=True), candles=_candles(), runs_root=tmp_path / "runs")
    assert run.model.dtype_policy.name == "mixed_float16"
    assert run.model.outputs[0].dtype == "float32"
    assert math.isfinite(run.history["loss"].iloc[0])
    assert keras.mixed_precision.global_policy().name == "float32"


def test_unknown_pipeline_is_refused(tmp_path):
    from pricecast.training.pipeline import train

    with pytest.raises(ValueError, match="unknown pipeline"):
        train(_spec(pipeline="turbo"), candles=_candles(), runs_root=tmp_path / "runs")


def test_defaults_keep_todays_behaviour():
    spec = TrainSpec()
    assert (spec.pipeline, spec.jit_compile, spec.mixed_precision, spec.base_batch_size) == ("auto", None, False, 0)
    assert TrainSpec.from_dict(spec.to_dict()) == spec
    assert TrainSpec.from_dict({"epochs": 3}).pipeline == "auto"  # older run folders still load
