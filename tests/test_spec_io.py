"""RunSpec <-> URL query parameters and YAML."""
from __future__ import annotations

import pytest

from pricecast.presets import PRESETS
from pricecast.spec_io import (
    PARAM_NAMES,
    SpecError,
    spec_from_params,
    spec_from_yaml,
    spec_to_params,
    spec_to_yaml,
    validate_spec,
)
from pricecast.specs import RunSpec


@pytest.mark.parametrize("name", list(PRESETS))
def test_presets_round_trip_through_params_and_yaml(name):
    spec = PRESETS[name].spec
    params = spec_to_params(spec)
    assert all(isinstance(v, str) for v in params.values())
    back, ignored = spec_from_params(params)
    assert back == spec and ignored == []
    assert spec_from_yaml(spec_to_yaml(spec)) == spec


def test_defaults_give_empty_params_and_lists_are_comma_separated():
    assert spec_to_params(RunSpec()) == {}
    spec = RunSpec().replace(model=RunSpec().model.replace(units=(64, 32), learning_rate=3e-4, batch_norm=True))
    params = spec_to_params(spec)
    assert params == {"units": "64,32", "learning_rate": "0.0003", "batch_norm": "1"}


def test_params_accept_lists_of_values_and_report_unknown_names():
    spec, ignored = spec_from_params({"n": ["5", "12"], "k": "3", "features": "open,close", "embed": "true"})
    assert spec.window.n == 12 and spec.window.k == 3 and spec.window.features == ("open", "close")
    assert ignored == ["embed"]


@pytest.mark.parametrize("params, fragment", [
    ({"n": "ten"}, "n: 'ten' is not a whole number"),
    ({"units": "32,x"}, "comma-separated list of whole numbers"),
    ({"dropout": "lots"}, "dropout: 'lots' is not a number"),
    ({"batch_norm": "maybe"}, "yes/no"),
    ({"arch": "xgboost"}, "arch: 'xgboost' is not one of cnn, lstm, gru, mlp, tcn, transformer, nhits, dlinear"),
    ({"split": "0.5,0.2,0.2"}, "add up to 1"),
    ({"scaling": "zscore"}, "scaling: 'zscore' is not one of minmax, standard, logratio"),
    ({"epochs": "0"}, "epochs"),
])
def test_bad_params_say_what_is_wrong(params, fragment):
    with pytest.raises(SpecError, match=fragment):
        spec_from_params(params)


def test_validation_can_be_deferred():
    spec, _ = spec_from_params({"arch": "cnn", "units": "8,1", "kernel_sizes": "20", "strides": "3"}, validate=False)
    with pytest.raises(SpecError, match="one kernel size and one stride per conv layer"):
        validate_spec(spec)


def test_param_names_are_unique():
    assert len(PARAM_NAMES) == len(set(PARAM_NAMES))


@pytest.mark.parametrize("text, fragment", [
    ("data: [unclosed", "not valid YAML"),
    ("- just a list", "mapping"),
    ("modle: {}", "unknown key"),
    ("model: {unitz: [3]}", "unknown setting"),
    ("window: {n: abc}", "n: 'abc' is not a whole number"),
    (b"\xff\xfe", "UTF-8"),
])
def test_bad_yaml_says_what_is_wrong(text, fragment):
    with pytest.raises(SpecError, match=fragment):
        spec_from_yaml(text)


def test_hand_written_yaml_fills_in_defaults():
    spec = spec_from_yaml("data: sample:IBM\nwindow: {n: 12, k: 2}\nmodel: {arch: lstm, units: [16, 8]}\n")
    assert spec.data == "sample:IBM" and spec.window.n == 12 and spec.model.units == (16, 8)
    assert spec.train == RunSpec().train


def _alias_bomb(depth: int) -> str:
    """The issue's YAML: each level a list of nine aliases of the level below (9**depth items)."""
    names = "abcdefghi"
    levels = ["&a [x, x, x, x, x, x, x, x, x]"]
    levels += [f"&{names[i]} [" + ", ".join([f"*{names[i - 1]}"] * 9) + "]" for i in range(1, depth)]
    return "window: {features: [" + ", ".join(levels) + "]}\n"


@pytest.mark.parametrize("depth", [4, 9])
def test_yaml_aliases_are_refused_before_they_expand(depth):
    # depth 9 is the 345-byte file that took the server down (minutes, >15 GB); depth 4
    # expanded to 6,561 items and an error message joining them all
    bomb = _alias_bomb(depth)
    assert len(bomb) < 400
    with pytest.raises(SpecError, match="YAML alias") as err:
        spec_from_yaml(bomb)
    assert len(str(err.value)) < 300


def test_yaml_long_lists_and_values_give_short_messages():
    with pytest.raises(SpecError, match="5,000 values; a setting takes at most 100"):
        spec_from_yaml("window: {features: [" + ", ".join(["close"] * 5000) + "]}\n")
    with pytest.raises(SpecError) as err:
        spec_from_yaml("window: {features: " + "x" * 50_000 + "}\n")
    assert "is not one of" in str(err.value) and len(str(err.value)) < 400
    with pytest.raises(SpecError, match="a setup is at most"):
        spec_from_yaml("# " + "x" * 70_000 + "\n")
