"""Experiment folders: the definition round trip and the guard against a different setup."""
from __future__ import annotations

import json

import pytest

from pricecast.experiments.spec import ExperimentError, ExperimentSpec
from pricecast.experiments.storage import prepare_folder

from .conftest import tiny


def test_spec_round_trip_and_definition_guard(tmp_path):
    exp = tiny("guard")
    again = ExperimentSpec.from_dict(json.loads(json.dumps(exp.to_dict())))
    assert again.identity() == exp.identity() and again.variations[0].overrides["units"] == [4]
    prepare_folder(exp, tmp_path)
    prepare_folder(exp.replace(repeats=5), tmp_path)  # more repeats extend the same experiment
    with pytest.raises(ExperimentError, match="already exists with a different setup"):
        prepare_folder(exp.replace(base_seed=1), tmp_path)
