"""Where trials run: a missing Ray says how to install it."""
from __future__ import annotations

import sys

import pytest

from pricecast.experiments.spec import ExperimentError
from pricecast.service import trials


def test_ray_missing_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ExperimentError, match="requirements-ray.txt"):
        trials.import_ray()
