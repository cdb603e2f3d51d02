"""The seed's experiment presets and scaling an experiment down."""
from __future__ import annotations

import pytest

from pricecast.catalogue import field_named
from pricecast.experiments.candles import check_data, load_candles
from pricecast.experiments.presets import (
    SEED_ARCHITECTURES,
    build_experiment,
    default_name,
    experiment_presets,
    min_rows,
    scale,
)
from pricecast.experiments.spec import ExperimentError, apply_overrides, validate
from pricecast.models.spec import ModelSpec


def test_seed_presets_and_size():
    presets = experiment_presets()
    bias = presets["bias-regularizers"].spec
    assert bias.repeats == 30 and bias.base.train.epochs == 30 and bias.base.train.batch_size == 8
    assert len(bias.variations) == 9
    assert [(v.overrides["l1"], v.overrides["l2"]) for v in bias.variations] == [
        (0.0, 0.0), (0.1, 0.0), (0.01, 0.0), (0.001, 0.0), (0.0001, 0.0), (0.0, 0.1), (0.0, 0.01), (0.0, 0.001),
        (0.0, 0.0001)]
    model = bias.base.model
    assert (model.arch, model.units, model.regularize, model.dropout, model.output_activation) == (
        "lstm", (50,), ("bias",), 0.2, "leaky_relu")
    small = scale(bias, 0.1, rows_available=3270)
    assert (small.repeats, small.base.train.epochs) == (3, 3)
    assert small.last_rows == max(min_rows(small.base), 327)
    arch = presets["architectures"].spec
    assert [v.id for v in arch.variations][:8] == ["cnn-2-relu", "cnn-2-leaky", "cnn-3-relu", "cnn-3-leaky",
                                                   "cnn-4-relu", "cnn-4-leaky", "lstm", "gru"]
    assert (arch.base.window.n, arch.base.window.k) == (256, 16)
    validate(arch)  # every seed CNN's conv head fits N=256 -> K=16
    validate(small)
    assert scale(arch, 0.1, rows_available=3270).last_rows is None  # N=256 needs all of daily AAPL
    candles = load_candles(arch)
    check_data(arch, candles)
    with pytest.raises(ExperimentError, match="cannot use this data"):
        check_data(arch, candles.iloc[-500:])
    named = build_experiment("bias-regularizers", size=0.1, data="sample:MSFT")
    assert named.name == "bias-regularizers-sample-MSFT-s0-1".replace("s0-1", "s0.1") and named.base.data == "sample:MSFT"


def test_the_architectures_preset_compares_every_architecture_the_models_offer():
    # The list comes from ModelSpec.arch's choices: an architecture added to the models package
    # joins the comparison (at its default settings) without a change in experiments/.
    preset = experiment_presets()["architectures"]
    arch = preset.spec
    offered = field_named("arch").choices
    assert {apply_overrides(arch.base, v.overrides).model.arch for v in arch.variations} == set(offered)
    extra = arch.variations[len(SEED_ARCHITECTURES):]  # after the seed's table: the ones it lacks
    assert {v.id for v in extra} == set(offered) - {"cnn", "lstm", "gru"}
    for v in extra:
        assert v.overrides == ModelSpec(arch=v.id).to_dict() and v.id.upper() in preset.title
    # runnable at a small size: fewer repeats and epochs, every variation builds and fits the data
    small = build_experiment("architectures", size=0.02)
    assert (small.repeats, small.base.train.epochs, len(small.variations)) == (2, 2, len(arch.variations))
    validate(small)
    check_data(small, load_candles(small))
    assert small.name == default_name("architectures", small, 0.02) == "architectures-sample-AAPL-s0.02"
