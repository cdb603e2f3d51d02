"""The architecture registry: every architecture declared once, and everything reads it."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from pricecast.models.common import OPTIONS
from pricecast.models.registry import ARCHITECTURES, ARCHS, ENTRIES
from pricecast.models.spec import ModelSpec
from pricecast.presets import PRESETS

ROOT = Path(__file__).resolve().parents[2]


def test_the_cli_choices_are_the_registry():
    assert ARCHITECTURES == tuple(a.name for a in ENTRIES) == tuple(ARCHS)
    assert len(set(ARCHITECTURES)) == len(ARCHITECTURES)


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_each_entry_is_complete(arch):
    entry = ARCHS[arch]
    assert entry.label.startswith(entry.short) and entry.help.endswith(".")
    assert set(entry.options) <= set(OPTIONS) and len(entry.options) <= 3  # the Model page has three places
    assert entry.preset == "" or PRESETS[entry.preset].spec.model.arch == arch
    assert callable(entry.build) and callable(entry.count_params) and callable(entry.check)


def test_the_model_page_has_a_widget_for_every_option_an_architecture_may_take():
    """A new architecture that reuses the options needs no page change; a new option fails here."""
    tree = ast.parse((ROOT / "pages" / "2_Model.py").read_text(encoding="utf-8"))
    widgets = next(f for f in tree.body if isinstance(f, ast.FunctionDef) and f.name == "_option_widgets")
    handled = {c.value for c in ast.walk(widgets) if isinstance(c, ast.Constant) and isinstance(c.value, str)}
    assert set(OPTIONS) <= handled


def test_which_architectures_a_setting_applies_to_is_read_from_the_entries():
    from pricecast.catalogue import FIELDS
    from pricecast.models.registry import taking

    assert taking("recurrent_dropout") == ("lstm", "gru") and taking("strides") == ("cnn",)
    assert taking("kernel_sizes") == ("cnn", "tcn")  # the TCN's one kernel size is the same setting
    assert taking("l2") is None and "dlinear" not in taking("units")
    assert FIELDS["recurrent_dropout"].page_help().startswith("LSTM/GRU only: dropout on the memory")
    assert FIELDS["batch_norm"].page_help().startswith("Not for Transformer/DLinear: ")
    assert FIELDS["n"].page_help().startswith("N: how many past candles")  # no architecture named: all take it


def test_an_unknown_architecture_names_the_registry_choices():
    from pricecast.models.checks import check_model
    from pricecast.models.common import ModelSpecError

    with pytest.raises(ModelSpecError, match="choose from cnn, lstm, gru"):
        check_model(ModelSpec(arch="wavenet"), 30, 5, ("close",))
