"""ui/charts.py: the dashboard's charts are drawn with the Plotly finance bundle in static/, so what the
pages send must be drawable by it and must not carry Streamlit's placeholder colours. (Browser side:
tests/dashboard/test_browser.py checks the bundle is loaded once and Streamlit's own Plotly never.)"""
from __future__ import annotations

import hashlib
import json
import re
import tomllib
from pathlib import Path

import plotly.graph_objects as go
import pytest

from ui import charts, plotly_loader

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "static" / plotly_loader.BUNDLE


def test_the_bundle_is_the_one_the_readme_names_and_holds_exactly_the_traces_we_allow():
    data = BUNDLE.read_bytes()
    readme = (ROOT / "static" / "README.md").read_text()
    assert hashlib.sha256(data).hexdigest() in readme
    registered = set(re.findall(rb'moduleType:"trace",name:"([a-z0-9]+)"', data))
    assert {name.decode() for name in registered} == charts.TRACES


def test_streamlit_serves_the_static_folder_the_loader_asks():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["enableStaticServing"] is True
    assert f"'app/static/{plotly_loader.BUNDLE}'" in plotly_loader.LOADER_JS


def test_a_trace_the_bundle_lacks_is_refused_in_python_with_what_it_has():
    with pytest.raises(ValueError, match=r"box traces are not in plotly-finance.min.js; draw with \['bar'"):
        charts.figure_json(go.Figure(go.Box(y=[1, 2, 3])))


def test_figures_get_the_dashboards_look_and_the_callers_figure_is_left_alone():
    import streamlit  # noqa: F401 - importing Streamlit makes its placeholder template Plotly's default

    fig = go.Figure(go.Candlestick(x=[1, 2], open=[1, 2], high=[2, 3], low=[0, 1], close=[2, 1]))
    assert "#000032" in fig.to_json()  # Streamlit's placeholder for the rising candle colour
    sent = charts.figure_json(fig)
    assert not re.search(r'"#0000[0-9]{2}"', sent)  # no placeholder left to be drawn as near-black
    layout = json.loads(sent)["layout"]
    assert layout["height"] == charts.DEFAULT_HEIGHT and layout["template"]["layout"]["yaxis"]["automargin"]
    assert json.loads(sent)["layout"]["template"]["data"]["candlestick"][0]["increasing"]["line"]["color"] == "#29b09d"
    assert fig.layout.height is None and "#000032" in fig.to_json()  # a copy was changed, not the caller's


def test_a_set_height_is_kept():
    assert json.loads(charts.figure_json(go.Figure(layout={"height": 300})))["layout"]["height"] == 300
