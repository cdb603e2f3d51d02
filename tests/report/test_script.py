"""The exported script: standalone, same windows, same network, same result."""
from __future__ import annotations

import json
import subprocess
import sys
from types import SimpleNamespace

import pytest

from pricecast.cli.main import main
from pricecast.prep.windows import WindowSpec
from pricecast.report.script import ScriptError, check_supported, write_script
from pricecast.specs import RunSpec


def test_derived_inputs_are_refused_by_name():
    run = SimpleNamespace(spec=RunSpec(window=WindowSpec(features=("close", "log_return", "hour"))))
    with pytest.raises(ScriptError, match="log_return, hour_sin, hour_cos"):
        check_supported(run)


def test_export_needs_something_to_write(fake_run, capsys):
    folder, _ = fake_run
    assert main(["export", str(folder)]) == 2
    assert "--script" in capsys.readouterr().err


@pytest.mark.slow
def test_the_script_reproduces_the_run(default_run, tmp_path):
    script, csv = write_script(default_run, tmp_path / "train_again.py")
    assert csv == tmp_path / "train_again_data.csv" and csv.exists()
    text = script.read_text()
    assert "import pricecast" not in text and "from pricecast" not in text
    assert "layers.GRU(" in text and "layers.Dense(name='forecast'" in text  # plain Keras, from the graph
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=900, env={"PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "3",
                                            "HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    test = json.loads((default_run / "metrics.json").read_text())["test"]
    assert result["persistence_rmse"] == pytest.approx(test["persistence_rmse"], rel=1e-9, abs=1e-9)
    assert result["test_rmse"] == pytest.approx(test["rmse"], rel=0.03)  # the forecast the decision uses
    assert result["network_rmse"] == pytest.approx(test["network"]["rmse"], rel=0.03)


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["gru", "lstm", "cnn", "mlp", "tcn", "transformer", "nhits", "dlinear"])
def test_generated_network_code_is_the_same_network(arch):
    """The code generated from a model's graph builds a network that, given the original's weights,
    forecasts exactly what the original does."""
    import keras
    import numpy as np

    from pricecast.models.builders import build_model
    from pricecast.models.spec import ModelSpec
    from pricecast.presets import PRESETS
    from pricecast.report.script import network_code

    preset = next((p for p in PRESETS.values() if p.spec.model.arch == arch), None)
    model_spec = preset.spec.model if preset else ModelSpec(arch=arch)
    window = preset.spec.window if preset else WindowSpec(n=32, k=4)
    features = tuple(f for f in window.features if f in ("open", "high", "low", "close", "volume")) or ("close",)
    if arch == "cnn":
        model_spec = ModelSpec(arch="cnn", dropout=0.1, batch_norm=True, l2=0.001)
    original = build_model(model_spec, window.n, window.k, features, "close")
    code = "\n".join(network_code(keras.saving.serialize_keras_object(original), indent=""))
    scope = {"keras": keras, "layers": keras.layers}
    exec(code, scope)
    rebuilt = scope["model"]
    assert rebuilt.count_params() == original.count_params()
    rebuilt.set_weights(original.get_weights())
    x = np.random.default_rng(0).normal(size=(3, window.n, len(features))).astype("float32")
    np.testing.assert_allclose(rebuilt(x), original(x), rtol=1e-5, atol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("setup", [
    dict(scaling="minmax", arch="lstm", residual=False, features=("open", "high", "low", "close", "volume"), stride=2),
    dict(scaling="standard", arch="cnn", residual=True, features=("close", "volume"), stride=1),
])
def test_the_script_reproduces_other_scalings_inputs_and_strides(setup, tmp_path):
    from pricecast.models.spec import ModelSpec
    from pricecast.specs import TrainSpec
    from pricecast.training.pipeline import train
    from tests.conftest import make_candles

    csv = tmp_path / "candles.csv"
    make_candles(900, seed=3).to_csv(csv)
    spec = RunSpec(data=str(csv), scaling=setup["scaling"],
                   window=WindowSpec(n=12, k=3, stride=setup["stride"], features=setup["features"]),
                   model=ModelSpec(arch=setup["arch"], units=(8,), residual=setup["residual"]),
                   train=TrainSpec(epochs=2, batch_size=32, patience=0))
    run = train(spec, runs_root=tmp_path / "runs")
    (tmp_path / "again").mkdir()
    script, data = write_script(run.run_dir, tmp_path / "again" / "train_again.py")
    done = subprocess.run([sys.executable, str(script)], cwd=script.parent, capture_output=True, text=True,
                          timeout=900, env={"PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "3",
                                            "HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    test = run.metrics["test"]
    assert result["persistence_rmse"] == pytest.approx(test["persistence_rmse"], rel=1e-9, abs=1e-9)
    assert result["test_rmse"] == pytest.approx(test["rmse"], rel=0.03)  # the forecast the decision uses
    assert result["network_rmse"] == pytest.approx(test["network"]["rmse"], rel=0.03)
