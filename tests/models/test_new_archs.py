"""TCN, Transformer (patches), N-HiTS and DLinear: shapes, persistence at the start, the checks
that name the fix, the parameter count without Keras, and one tiny training each."""
import numpy as np
import pytest

from pricecast.models.builders import build_model
from pricecast.models.checks import check_model, count_params
from pricecast.models.common import ModelSpecError
from pricecast.models.registry import ARCHITECTURES, ARCHS
from pricecast.models.spec import ModelSpec
from pricecast.models.tcn import tcn_dilations
from pricecast.prep.windows import WindowSpec
from pricecast.specs import RunSpec, TrainSpec
from pricecast.training.pipeline import train

from ..conftest import make_candles

NEW = ("tcn", "transformer", "nhits", "dlinear")
# Each with every option it takes turned on, so the persistence and count tests cover them.
FULL = {
    "tcn": ModelSpec(arch="tcn", units=(4, 8), kernel_sizes=(2,), dropout=0.1, batch_norm=True, l1=0.01, l2=0.01,
                     regularize=("kernel", "bias"), dense_units=(5,), activation="leaky_relu"),
    "transformer": ModelSpec(arch="transformer", units=(8, 8), heads=3, dropout=0.1, l2=0.01, dense_units=(4,),
                             post_activation="tanh"),
    "nhits": ModelSpec(arch="nhits", units=(8, 6, 4), dropout=0.1, batch_norm=True, l2=0.01, activation="relu"),
    "dlinear": ModelSpec(arch="dlinear", dropout=0.1, l1=0.01, trend_window=5),
}
SHAPES = [(12, 4), (7, 1), (30, 5), (64, 16)]


def test_every_architecture_is_listed_with_a_label_and_a_sentence():
    assert set(NEW) <= set(ARCHITECTURES)
    assert tuple(ARCHS) == ARCHITECTURES
    assert all(a.label and a.help.endswith('.') for a in ARCHS.values())


@pytest.mark.parametrize("arch", NEW)
@pytest.mark.parametrize("n, k", SHAPES)
def test_builds_with_k_outputs_and_starts_as_persistence(arch, n, k):
    # the newest close is the second feature: the residual must add exactly that value to every output
    model = build_model(FULL[arch], n, k, ("open", "close"), "close")
    x = np.random.default_rng(n).random((4, n, 2), dtype=np.float32)
    out = model.predict(x, verbose=0)
    assert out.shape == (4, k)
    np.testing.assert_allclose(out, np.repeat(x[:, -1, 1:2], k, axis=1), atol=1e-5)
    assert count_params(FULL[arch], n, k, 2) == model.count_params()


@pytest.mark.parametrize("arch", NEW)
def test_without_residual_the_output_is_not_the_last_value(arch):
    model = build_model(FULL[arch].replace(residual=False), 12, 3, ("close",))
    x = np.random.default_rng(3).random((4, 12, 1), dtype=np.float32)
    assert not np.allclose(model.predict(x, verbose=0), np.repeat(x[:, -1, :], 3, axis=1), atol=1e-3)


def test_tcn_dilations_double_until_the_window_is_covered():
    assert tcn_dilations(48, 3) == [1, 2, 4, 8, 16]  # receptive field 1 + 2 * 31 = 63 >= 48
    assert tcn_dilations(8, 2) == [1, 2, 4]  # 1 + 7 = 8
    assert tcn_dilations(1, 3) == [1]
    model = build_model(ModelSpec(arch="tcn", units=(4,)), 48, 2, ("close",))
    rates = [layer.dilation_rate[0] for layer in model.layers if type(layer).__name__ == "Conv1D"
             and layer.kernel_size[0] > 1]
    assert rates == [1, 2, 4, 8, 16]


def test_tcn_is_causal_and_sees_the_whole_window():
    """Changing the oldest step changes the forecast (receptive field covers N); the conv stack pads
    on the left only, so the newest step's features never read past the window's end."""
    model = build_model(ModelSpec(arch="tcn", units=(4,), residual=False), 20, 2, ("close",))
    x = np.random.default_rng(0).random((1, 20, 1), dtype=np.float32)
    y = x.copy()
    y[0, 0, 0] += 5.0
    assert not np.allclose(model.predict(x, verbose=0), model.predict(y, verbose=0))


@pytest.mark.parametrize("spec, n, fix", [
    (ModelSpec(arch="tcn", kernel_sizes=(1,)), 10, "kernel size of at least 2"),
    (ModelSpec(arch="tcn", kernel_sizes=(3, 3)), 10, "one kernel size for all its blocks"),
    (ModelSpec(arch="tcn", kernel_sizes=(5,)), 4, "use a kernel of at most 4, or raise N"),
    (ModelSpec(arch="tcn", units=(4, 4, 4)), 3, "give at most 1 (the last repeats), or raise N"),
    (ModelSpec(arch="transformer", patch_len=12), 10, "use at most 10"),
    (ModelSpec(arch="transformer", units=(16, 8)), 16, "repeat one number, e.g. 16,16"),
    (ModelSpec(arch="transformer", units=(4,), heads=8), 16, "use fewer heads or more units"),
    (ModelSpec(arch="transformer", batch_norm=True), 16, "layer normalisation already): turn it off"),
    (ModelSpec(arch="nhits", dense_units=(8,)), 16, "leave them empty"),
    (ModelSpec(arch="dlinear", post_activation="tanh"), 16, "leave them empty"),
    (ModelSpec(arch="dlinear", batch_norm=True), 16, "turn it off"),
    (ModelSpec(arch="dlinear", trend_window=30), 20, "use at most 20"),
    (ModelSpec(arch="dlinear"), 1, "set it to 2 or more"),
])
def test_impossible_shapes_and_options_name_the_fix(spec, n, fix):
    with pytest.raises(ModelSpecError) as err:
        check_model(spec, n, 2, ("close",))
    assert fix in str(err.value)


@pytest.mark.slow
@pytest.mark.parametrize("arch", NEW)
def test_one_tiny_training_through_the_pipeline(arch, tmp_path):
    spec = RunSpec(data="test", window=WindowSpec(n=16, k=3, features=("high", "close"), split=(0.7, 0.15, 0.15)),
                   scaling="logratio", model=FULL[arch],
                   train=TrainSpec(epochs=1, batch_size=32, patience=0, seed=1))
    run = train(spec, candles=make_candles(300), runs_root=tmp_path)
    assert run.model.name == f"pricecast_{arch}"
    assert (run.run_dir / "model.keras").exists()
    assert len(run.history) == 1 and np.isfinite(run.history["loss"]).all()
    assert np.isfinite(run.predictions.select_dtypes("number").to_numpy(dtype=float)).all()
