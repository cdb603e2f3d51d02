"""A run's ``model.keras`` (the Runs page download) loads in plain Keras, without pricecast."""
import json
import subprocess
import sys

import numpy as np
import pytest

from pricecast.models.spec import ModelSpec
from pricecast.prep.windows import WindowSpec
from pricecast.specs import RunSpec, TrainSpec
from pricecast.training.pipeline import train

from ..conftest import make_candles

# Two features with the target second, so the "last value" the residual adds must pick the right one.
SPEC = RunSpec(
    data="test",
    window=WindowSpec(n=8, k=3, features=("open", "close"), split=(0.7, 0.15, 0.15)),
    scaling="logratio",
    model=ModelSpec(arch="gru", units=(4,), residual=True),
    train=TrainSpec(epochs=1, batch_size=64, patience=0, seed=3),
)

LOADER = """
import json, sys
import numpy as np
import pytest
import keras
model = keras.models.load_model(sys.argv[1])
x = np.load(sys.argv[2])
print(json.dumps({"y": np.asarray(model.predict(x, verbose=0)).tolist(),
                  "pricecast_imported": any(m.split(".")[0] == "pricecast" for m in sys.modules)}))
"""


@pytest.mark.slow  # trains a Keras model
def test_downloaded_model_loads_in_plain_keras_in_a_fresh_process(tmp_path):
    run = train(SPEC, candles=make_candles(200), runs_root=tmp_path)
    x = np.random.default_rng(0).normal(0, 0.01, (5, 8, 2)).astype("float32")
    x[:, -1, 1] = [0.5, -0.5, 1.0, 2.0, -1.0]  # distinct last closes: the residual must add these
    expected = np.asarray(run.model.predict(x, verbose=0))
    np.save(tmp_path / "x.npy", x)
    # cwd outside the repository: pricecast cannot be imported there by accident.
    done = subprocess.run([sys.executable, "-c", LOADER, str(run.run_dir / "model.keras"), str(tmp_path / "x.npy")],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["pricecast_imported"] is False
    np.testing.assert_allclose(np.asarray(out["y"]), expected, rtol=1e-5, atol=1e-6)


MANY_LOADER = """
import json, sys
import numpy as np
import pytest
import keras
x = np.load(sys.argv[1])
print(json.dumps({"y": {path: np.asarray(keras.models.load_model(path).predict(x, verbose=0)).tolist()
                        for path in sys.argv[2:]},
                  "pricecast_imported": any(m.split(".")[0] == "pricecast" for m in sys.modules)}))
"""


@pytest.mark.slow  # trains a Keras model
def test_every_architecture_saves_to_a_file_plain_keras_loads(tmp_path):
    """Each architecture's ``.keras`` file loads in plain Keras in a fresh process and predicts the
    same: only built-in layers. Weights are randomised first so the residual's zero start does not
    hide a layer that reloads wrongly."""
    from pricecast.models.builders import build_model
    from pricecast.models.registry import ARCHITECTURES

    specs = {"cnn": ModelSpec(arch="cnn", units=(4,), kernel_sizes=(3,), strides=(1,)),
             "transformer": ModelSpec(arch="transformer", units=(8,), heads=2),
             "nhits": ModelSpec(arch="nhits", units=(8, 8)), "tcn": ModelSpec(arch="tcn", units=(4,), batch_norm=True)}
    x = np.random.default_rng(0).normal(0, 0.01, (5, 8, 2)).astype("float32")
    x[:, -1, 1] = [0.5, -0.5, 1.0, 2.0, -1.0]
    np.save(tmp_path / "x.npy", x)
    rng = np.random.default_rng(1)
    expected = {}
    for arch in ARCHITECTURES:
        model = build_model(specs.get(arch, ModelSpec(arch=arch, units=(4,))), 8, 3, ("open", "close"))
        model.set_weights([rng.uniform(0.05, 0.3, w.shape).astype("float32") for w in model.get_weights()])  # >0: BN variances
        path = str(tmp_path / f"{arch}.keras")
        model.save(path)
        expected[path] = np.asarray(model.predict(x, verbose=0))
    done = subprocess.run([sys.executable, "-c", MANY_LOADER, str(tmp_path / "x.npy"), *expected],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["pricecast_imported"] is False
    for path, y in expected.items():
        assert np.isfinite(y).all() and np.ptp(y) > 0, path
        np.testing.assert_allclose(np.asarray(out["y"][path]), y, rtol=1e-5, atol=1e-6, err_msg=path)
