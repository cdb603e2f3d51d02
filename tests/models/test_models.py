import numpy as np
import pytest

from pricecast.models.builders import build_model
from pricecast.models.checks import check_model
from pricecast.models.classic import conv_lengths
from pricecast.models.common import ModelSpecError
from pricecast.models.spec import ModelSpec
from pricecast.presets import PRESETS, get_preset

SEED_CNN2 = ModelSpec(arch="cnn", units=(8, 1), kernel_sizes=(20, 16), strides=(3, 4), cnn_head="conv",
                      activation="relu", dropout=0.5, residual=False)


def test_seed_cnn_yields_16_outputs_only_for_n_256():
    assert conv_lengths(256, (20, 16), (3, 4)) == [79, 16]
    check_model(SEED_CNN2, 256, 16, ("close",))
    with pytest.raises(ModelSpecError) as err:
        check_model(SEED_CNN2, 200, 16, ("close",))
    text = str(err.value)
    assert "yields 12 outputs for N=200" in text and "K=16" in text and "N=" in text and "'dense'" in text


def test_options_are_validated_with_the_fix():
    with pytest.raises(ModelSpecError, match="needs 'close' among the input features"):
        check_model(ModelSpec(residual=True), 10, 2, ("open",))
    with pytest.raises(ModelSpecError, match="unknown architecture"):
        check_model(ModelSpec(arch="rnn"), 10, 2, ("close",))
    with pytest.raises(ModelSpecError, match="one kernel size and one stride per conv layer"):
        check_model(ModelSpec(arch="cnn", units=(8, 8), kernel_sizes=(3,), strides=(1, 1)), 10, 2, ("close",))
    with pytest.raises(ModelSpecError, match="conv layer 2 has nothing left"):
        check_model(ModelSpec(arch="cnn", units=(8, 8), kernel_sizes=(5, 9), strides=(1, 1)), 10, 2, ("close",))


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_builds_with_k_outputs(name):
    spec = get_preset(name).spec
    w = spec.window
    model = build_model(spec.model, w.n, w.k, w.features, w.target)
    out = model.predict(np.random.default_rng(0).random((3, w.n, len(w.features)), dtype=np.float32), verbose=0)
    assert out.shape == (3, w.k)


@pytest.mark.parametrize("arch", ["cnn", "lstm", "gru", "mlp"])
def test_untrained_residual_model_is_the_persistence_forecast(arch):
    spec = ModelSpec(arch=arch, units=(8, 8), kernel_sizes=(3, 3), strides=(1, 1), dropout=0.2, batch_norm=True,
                     l1=0.01, l2=0.01, regularize=("kernel", "bias"), residual=True)
    model = build_model(spec, 12, 4, ("open", "close"), "close")
    x = np.random.default_rng(1).random((5, 12, 2), dtype=np.float32)
    np.testing.assert_allclose(model.predict(x, verbose=0), np.repeat(x[:, -1, 1:2], 4, axis=1), atol=1e-6)


def test_residual_adds_each_rows_own_last_value_when_a_batch_holds_exactly_k_examples():
    # Keras' Add broadcast (batch, K) + (batch, 1) across rows when batch == K: every row got the
    # batch's K last values. The residual now adds a (batch, K) tensor.
    model = build_model(ModelSpec(arch="gru", units=(4,), residual=True), 6, 4, ("close",))
    x = np.random.default_rng(4).random((4, 6, 1), dtype=np.float32)
    np.testing.assert_allclose(model.predict(x, verbose=0), np.repeat(x[:, -1, :], 4, axis=1), atol=1e-6)


def test_regularizers_land_on_the_chosen_weights():
    model = build_model(ModelSpec(arch="lstm", units=(4,), l2=0.01, regularize=("bias", "recurrent"), residual=False),
                        5, 2, ("close",))
    lstm = model.get_layer(index=1)
    assert lstm.bias_regularizer is not None and lstm.recurrent_regularizer is not None
    assert lstm.kernel_regularizer is None


def test_saved_model_reloads(tmp_path):
    import keras

    model = build_model(ModelSpec(), 6, 2, ("close",))
    model.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras")
    x = np.random.default_rng(2).random((2, 6, 1), dtype=np.float32)
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0))


@pytest.mark.parametrize("spec", [
    *(get_preset(name).spec for name in sorted(PRESETS)),
    get_preset("default").spec.replace(model=ModelSpec(arch="gru", units=(16, 8), batch_norm=True, dense_units=(4,))),
    get_preset("default").spec.replace(model=ModelSpec(arch="mlp", units=(32, 16), batch_norm=True)),
    get_preset("default").spec.replace(model=ModelSpec(arch="cnn", units=(8, 4), kernel_sizes=(5, 3), strides=(2, 1),
                                                       batch_norm=True, dense_units=(6,))),
], ids=lambda s: f"{s.preset or 'custom'}-{s.model.arch}-{'-'.join(map(str, s.model.units))}")
def test_parameter_count_without_keras_matches_keras(spec):
    from pricecast.models.checks import count_params

    w = spec.window
    model = build_model(spec.model, w.n, w.k, w.features, w.target)
    assert count_params(spec.model, w.n, w.k, len(w.features)) == model.count_params()


def test_seed_gru_has_the_tutorials_layer_order():
    spec = get_preset("seed-gru").spec
    model = build_model(spec.model, spec.window.n, spec.window.k, spec.window.features)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["InputLayer", "GRU", "Activation", "Dropout", "Dense", "Activation"]
    assert model.get_layer("forecast").bias_regularizer is None  # penalties go on hidden layers only


def test_the_fitting_n_is_worded_plainly():
    from pricecast.models.common import values_text as _values

    assert _values([11]) == "11"  # not "from 11 to 11"
    assert _values([8, 9, 10, 11]) == "8 to 11"
    assert _values([8, 12, 16]) == "8, 12 or 16"
