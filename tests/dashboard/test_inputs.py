"""``ui.inputs.widget``: every catalogued setting (a run's, a backtest's, an experiment's) drawn from its
description, with its label and long help, giving back its value in the setting's own type."""
from __future__ import annotations

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest

from pricecast.backtest.spec import BACKTEST_FIELDS
from pricecast.catalogue import FIELDS
from pricecast.experiments.spec import EXPERIMENT_FIELDS

TABLES = {"run": FIELDS, "backtest": BACKTEST_FIELDS, "experiment": EXPERIMENT_FIELDS}
# Drawn their own way by the pages (three shares as two percentages; levels as a pick of percentages).
OWN_INPUTS = {"floats", "fractions"}


def _every_setting() -> None:
    import streamlit as st

    from pricecast.backtest.spec import BACKTEST_FIELDS
    from pricecast.catalogue import FIELDS
    from pricecast.experiments.spec import EXPERIMENT_FIELDS
    from ui.inputs import widget

    out = {}
    for table, fields in (("run", FIELDS), ("backtest", BACKTEST_FIELDS), ("experiment", EXPERIMENT_FIELDS)):
        for f in fields.values():
            if f.kind not in ("floats", "fractions"):
                out[f"{table}.{f.name}"] = widget(f, f.default, f"w_{table}_{f.name}")
    st.session_state["out"] = out


def _drawn() -> dict:
    return {w.key: w for kind in ("number_input", "slider", "checkbox", "toggle", "selectbox", "radio", "multiselect",
                                  "text_input") for w in getattr(_app, kind)}


_app: AppTest


def test_every_setting_is_drawn_with_its_label_and_help_and_gives_its_value_back():
    global _app
    _app = AppTest.from_function(_every_setting, default_timeout=30).run()
    assert not _app.exception
    drawn, out = _drawn(), _app.session_state["out"]
    for table, fields in TABLES.items():
        for f in fields.values():
            if f.kind in OWN_INPUTS:
                continue
            w = drawn[f"w_{table}_{f.name}"]
            assert w.label == f.label and w.help == f.page_help(), f.name
            expected = "" if f.default is None and f.kind == "str" else f.default  # an unset text is empty
            assert out[f"{table}.{f.name}"] == expected, f.name
            assert type(out[f"{table}.{f.name}"]) is type(expected), f.name
    # the kind and the hints choose the input
    assert type(drawn["w_run_dropout"]).__name__ == "Slider" and type(drawn["w_experiment_size"]).__name__ == "Slider"
    assert type(drawn["w_run_persistence_floor"]).__name__ == "Toggle"
    assert type(drawn["w_backtest_window"]).__name__ == "Radio"
    assert type(drawn["w_run_arch"]).__name__ == "Selectbox" and type(drawn["w_run_regularize"]).__name__ == "Multiselect"
    assert drawn["w_run_l2"].format == "%.6f" and drawn["w_run_floor_p"].format == "%.2f"
    assert (drawn["w_run_n"].min, drawn["w_run_n"].max) == tuple(int(v) for v in FIELDS["n"].limits)


def _units_and_xla() -> None:
    import streamlit as st

    from pricecast.catalogue import FIELDS
    from pricecast.errors import PricecastError
    from ui.inputs import widget

    st.session_state["out_xla"] = widget(FIELDS["jit_compile"], None, "xla")
    try:
        st.session_state["out_units"] = widget(FIELDS["units"], (32,), "units", label="Filters per conv layer")
    except PricecastError as exc:  # as the Model page shows it
        st.error(str(exc))


def test_a_list_of_whole_numbers_is_read_as_the_cli_reads_it_and_a_bad_one_named_by_its_label():
    at = AppTest.from_function(_units_and_xla, default_timeout=30).run()
    assert at.session_state["out_units"] == (32,) and at.session_state["out_xla"] is None  # unticked: Keras decides
    at.text_input(key="units").set_value("64; 32").run()
    assert not at.error and at.session_state["out_units"] == (64, 32)
    at.checkbox(key="xla").check().run()
    assert at.session_state["out_xla"] is True
    at.text_input(key="units").set_value("64, x").run()
    assert at.error[0].value.startswith("Filters per conv layer: '64, x' is not a comma-separated list of whole")
    at.text_input(key="units").set_value("0").run()
    assert at.error[0].value == "Filters per conv layer: must be 1 or more (got 0)"


def test_a_settings_page_help_is_written_once_on_the_setting():
    from ui.common import HELP

    assert not set(HELP) & {name for table in TABLES.values() for name in table}
    assert all(f.explain for f in FIELDS.values() if f.flag is not None and f.name not in ("pipeline", "workers", "loss"))
