"""What a page makes the browser load when it opens (issue 15, slow pages): the chart code is asked for
ahead of need, and tables that nobody opened are not sent (a closed expander's table still loads the
data grid). Timings are in bench/dashboard.py; these check the mechanisms."""
from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from ui import preload

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("PRICECAST_HOME", str(tmp_path))
    monkeypatch.chdir(ROOT)
    return tmp_path


def _preload_scripts(at: AppTest) -> list[str]:
    return [h.proto.body for h in at.get("html") if "__pcPreload" in h.proto.body]


def test_the_grid_and_component_scripts_are_found_in_this_streamlit():
    """If Streamlit renames its chunks, preloading silently stops: this says so."""
    files = preload.chunk_files()
    assert [f.split(".")[0] for f in files] == ["DataFrame", "BidiComponent"]
    folder = Path(st.__file__).parent / "static" / "static" / "js"
    assert all((folder / f).is_file() for f in files)


def test_every_page_asks_the_browser_for_the_chart_code_once():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    for page in ("pages/0_Home.py", "pages/1_Data.py", "pages/2_Model.py", "pages/4_Results.py"):
        at.switch_page(page).run()
        assert not at.exception, page
        scripts = _preload_scripts(at)
        assert len(scripts) == 1, page
        assert all(f in scripts[0] for f in preload.chunk_files())
        assert "window.__pcPlotly().catch" in scripts[0]  # the charts' Plotly bundle, through their loader
        assert "requestIdleCallback" in scripts[0]  # after the page is drawn, when the browser is idle
        # Last in the sidebar, after the page's own elements (the hidden container holding it).
        last = list(at.sidebar.children.values())[-1]
        assert [h.proto.body for h in last.get("html")] == scripts, page


def test_data_page_sends_gap_and_quality_tables_only_when_opened():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()  # bundled AAPL: 1 gap, 1 jump
    at.switch_page("pages/1_Data.py").run()
    assert not at.exception and not at.error
    assert [e.label for e in at.expander] == ["Where the 1 gap(s) are (4 candles missing)",
                                              "Where they are (also marked on the chart below)"]
    assert not at.dataframe  # both closed: no data grid for the browser to load
    at.session_state["data_gaps_open"] = True
    at.run()
    assert len(at.dataframe) == 1 and list(at.dataframe[0].value.columns) == [
        "Last candle before", "First candle after", "Missing candles"]
    at.session_state["data_quality_open"] = True
    at.run()
    assert len(at.dataframe) == 3  # the gaps again, and the quality expander's gaps and jumps
    assert {m.value for m in at.markdown} >= {"**Gaps**", "**Jumps**"}
