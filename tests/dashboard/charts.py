"""Reading the charts a page drew, in AppTest: each is a ``pricecast_chart`` component (ui/charts.py)
carrying its Plotly figure as JSON."""
from __future__ import annotations

import json

from streamlit.testing.v1 import AppTest


def figures(at: AppTest) -> list[dict]:
    """The Plotly figures (``{"data": [...], "layout": {...}}``) of every chart on the page, in order."""
    return [json.loads(json.loads(element.proto.json)) for element in at.get("bidi_component")
            if element.proto.component_name.endswith("pricecast_chart")]
