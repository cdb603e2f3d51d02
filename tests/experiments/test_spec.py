"""Experiment definitions: the grid, trials and seeds, overrides, --vary parsing, validation."""
from __future__ import annotations

import pytest

from pricecast.experiments.spec import ExperimentError, apply_overrides, expand, grid, parse_vary, validate

from .conftest import tiny


def test_grid_expansion_and_overrides():
    variations = grid(arch=["lstm", "gru"], dropout=[0.0, 0.2])
    assert [v.id for v in variations] == ["arch=lstm,dropout=0", "arch=lstm,dropout=0.2", "arch=gru,dropout=0",
                                          "arch=gru,dropout=0.2"]
    exp = tiny("grid", variations, repeats=3)
    trials = expand(exp)
    assert len(trials) == 12 and len({t.key for t in trials}) == 12
    assert [t.seed for t in trials[:4]] == [7] * 4 and trials[-1].seed == 9  # base_seed + repeat, same per setting
    assert trials[5].spec.model.arch == "lstm" and trials[5].spec.model.dropout == 0.2
    assert trials[5].spec.train.seed == 8 and trials[5].spec.model.units == (4,)
    spec = apply_overrides(exp.base, {"window.n": 20, "train.batch_size": 8, "scaling": "minmax", "l2": 0.01})
    assert (spec.window.n, spec.train.batch_size, spec.scaling, spec.model.l2) == (20, 8, "minmax", 0.01)
    with pytest.raises(ExperimentError, match="cannot vary 'seed'"):
        apply_overrides(exp.base, {"seed": 3})
    with pytest.raises(ExperimentError, match="cannot vary"):
        apply_overrides(exp.base, {"colour": "red"})
    assert parse_vary(["l2=0,0.01", "units=32,64/64", "arch=lstm"]) == {
        "l2": [0, 0.01], "units": [(32,), (64, 64)], "arch": ["lstm"]}
    with pytest.raises(ExperimentError):
        parse_vary(["l2"])
    with pytest.raises(ExperimentError, match="variation 'units=0'"):
        validate(tiny("bad", grid(units=[(0,)])))
    with pytest.raises(ExperimentError, match="name"):
        validate(tiny("bad name/.."))
