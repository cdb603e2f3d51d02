"""Every chart on the dashboard is drawn here, with Plotly's finance bundle instead of ``st.plotly_chart``.

Why: ``st.plotly_chart`` draws with Streamlit's own Plotly chunk (4.7 MB, every Plotly trace type), and a
browser opening a chart page by its address spends 1-2 s of one core evaluating it before the first chart
(issue 15, item 8; docs/BENCHMARKS.md section 4). The pages only draw scatter lines, bars and candlesticks,
which Plotly's "finance" partial bundle holds in 1.3 MB (`static/plotly-finance.min.js`, provenance in
`static/README.md`): evaluated in about a quarter of the time. It is loaded once per browser page, from
Streamlit's static file serving (``server.enableStaticServing``), and shared by every chart, including those
of pages opened later from the menu.

The chart is a Streamlit custom component (``st.components.v2``, mounted in the page itself, not an
iframe): Python sends the figure's JSON, a few lines of JavaScript draw it with ``Plotly.react`` (so a
live chart that is sent again each second is updated in place, not rebuilt).
"""
from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable

import plotly.graph_objects as go
import plotly.io as pio
import streamlit as st

from ui import plotly_loader

# The trace types that bundle holds (its registered modules); any other type would draw nothing.
TRACES = frozenset({"bar", "candlestick", "funnel", "funnelarea", "histogram", "indicator", "ohlc", "pie",
                    "scatter", "waterfall"})
DEFAULT_HEIGHT = 450  # Plotly's own default, kept so pages look as before
CONFIG = {"displaylogo": False, "responsive": True}


def _template() -> go.layout.Template:
    """The look st.plotly_chart gave the charts: the page's font and text colour, Streamlit's colours, axes
    that make room for their labels. (Importing Streamlit makes its own template Plotly's default, but
    that one holds placeholder colours only Streamlit's chart code replaces, so every figure gets this
    one instead.)"""
    template = go.layout.Template(pio.templates["plotly_white"])
    font = '"Source Sans", "Source Sans Pro", sans-serif'
    template.layout.update(
        font={"family": font, "color": "#1f2937", "size": 13},  # .streamlit/config.toml's textColor
        title={"font": {"size": 16, "weight": "bold"}, "x": 0, "xanchor": "left", "xref": "paper"},
        colorway=["#0068c9", "#83c9ff", "#ff2b2b", "#ffabab", "#29b09d", "#7defa1", "#ff8700", "#ffd16a",
                  "#6d3fc0", "#d5dae5"],
        hoverlabel={"font": {"family": font}},
        xaxis={"automargin": True}, yaxis={"automargin": True},
    )
    template.data.candlestick = [go.Candlestick(increasing={"line": {"color": "#29b09d"}},
                                                decreasing={"line": {"color": "#ff2b2b"}})]
    return template


TEMPLATE = _template()

# A ResizeObserver redraws the chart when its column changes width (the sidebar opening), which a window
# resize event does not tell.
_JS = plotly_loader.LOADER_JS + """
export default function (component) {
  const { data, parentElement } = component;
  let chart = parentElement.querySelector('.pc-chart');
  if (!chart) {
    chart = document.createElement('div');
    chart.className = 'pc-chart';
    parentElement.appendChild(chart);
  }
  const figure = JSON.parse(data);
  chart.style.height = figure.layout.height + 'px';  // the room is kept while Plotly loads
  window.__pcPlotly().then((Plotly) => {
    Plotly.react(chart, figure.data, figure.layout, @CONFIG@);
    if (!chart.__pcResize) {
      chart.__pcResize = new ResizeObserver(() => Plotly.Plots.resize(chart));
      chart.__pcResize.observe(chart);
    }
  }).catch((error) => { chart.textContent = String(error); });
}
"""

_CSS = ".pc-chart { width: 100%; }"

_component = st.components.v2.component(
    "pricecast_chart",
    js=_JS.replace("@CONFIG@", json.dumps(CONFIG)),
    css=_CSS,
    isolate_styles=False,  # Plotly styles its hover labels and menu bar through the document's stylesheet
)


def figure_json(fig: go.Figure) -> str:
    """The figure as the browser draws it: the dashboard's look (:data:`TEMPLATE`), a fixed height, only
    drawable traces.

    Raises ``ValueError`` for a trace type the bundle does not hold, so a new chart that needs one fails
    in the tests instead of drawing an empty frame in the browser."""
    missing = sorted({trace.type for trace in fig.data} - TRACES)
    if missing:
        raise ValueError(f"{', '.join(missing)} traces are not in {plotly_loader.BUNDLE}; draw with {sorted(TRACES)}")
    fig = go.Figure(fig)  # a copy: the caller's figure (often cached) is left as it was
    fig.update_layout(template=TEMPLATE, height=fig.layout.height or DEFAULT_HEIGHT, autosize=True)
    return fig.to_json()


def show(fig: go.Figure, key: str) -> None:
    """Draw ``fig`` where the page is, full width. ``key`` keeps the chart (and its zoom) across reruns."""
    show_json(figure_json(fig), key)


def show_json(data: str, key: str) -> None:
    """Draw a figure already turned into JSON (:func:`figure_json`, e.g. through :data:`SHARED`)."""
    _component(data=data, key=key, width="stretch", height="content")


class SharedFigures:
    """Figure JSON built once per key in this server process and shared by every session and rerun
    that asks for the same key (a live chart: the job and its event count). Building it (Plotly's
    validation and ``to_json``) was a fifth of the server's CPU with a few tabs watching trainings."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, str] = OrderedDict()
        self._lock = threading.Lock()
        self.builds = 0

    def json(self, key: Hashable, build: Callable[[], go.Figure]) -> str:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        data = figure_json(build())  # outside the lock: two sessions may build the same one once each
        with self._lock:
            self.builds += 1
            self._items[key] = data
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return data


SHARED = SharedFigures()


class LiveBudget:
    """Live-chart redraws counted across every session of this server, not per session: each redraw
    costs the server, and here also the browsers, CPU time that trainings on the same cores would
    otherwise have. With ``per_second`` redraws a second for all of them together, a session's charts
    are redrawn every ``watchers / per_second`` seconds at the least."""

    def __init__(self, per_second: float = 1.0) -> None:
        self.per_second = per_second
        self._seen: dict[str, tuple[float, float]] = {}  # session -> (last redraw, its interval)
        self._lock = threading.Lock()

    def watching(self, session: str, every: float) -> None:
        """``session`` redrew its live charts now, and will again in ``every`` seconds."""
        with self._lock:
            self._seen[session] = (time.monotonic(), every)

    def done(self, session: str) -> None:
        with self._lock:
            self._seen.pop(session, None)

    def watchers(self) -> int:
        """Sessions redrawing live charts (seen within twice their interval, plus a few seconds)."""
        now = time.monotonic()
        with self._lock:
            gone = [s for s, (seen, every) in self._seen.items() if now - seen > 2 * every + 5]
            for session in gone:
                del self._seen[session]
            return len(self._seen)

    def every(self, wanted: float, session: str | None = None) -> float:
        """Seconds between one session's redraws: what it wants, or longer when many sessions watch."""
        others = self.watchers() - (1 if session is not None and session in self._seen else 0)
        return max(wanted, (others + 1) / self.per_second)


LIVE = LiveBudget()
