"""RunSpec's one-line headline, the one every page builds its setup line from."""
from __future__ import annotations

from pricecast.models.spec import ModelSpec
from pricecast.prep.windows import WindowSpec
from pricecast.specs import RunSpec


def test_headline_names_window_and_network():
    spec = RunSpec(window=WindowSpec(n=60, k=5), model=ModelSpec(arch="gru", units=(64, 32)))
    assert spec.headline() == "N=60 → K=5 · GRU 64, 32"


def test_headline_uses_the_registry_name_and_leaves_out_units_an_architecture_ignores():
    assert RunSpec(model=ModelSpec(arch="nhits", units=(32,))).headline().endswith("· N-HiTS 32")
    assert RunSpec(model=ModelSpec(arch="dlinear")).headline().endswith("· DLinear")


def test_headline_of_an_unknown_architecture_from_an_old_run_folder():
    spec = RunSpec.from_dict({"model": {"arch": "wavenet", "units": [8]}})
    assert spec.headline().endswith("· WAVENET 8")
