"""Load the browser's chart and table code before a page needs it.

The charts' Plotly bundle (ui/charts.py, 1.3 MB) and Streamlit's data grid are loaded only when a page
first shows a chart or a table, and a new browser tab evaluates them again. Home and the other pages
without a chart leave the browser idle once they are drawn; this asks it, then, to load those scripts,
so the Data, Results, Runs and Experiments pages find them ready when the user goes there through the
menu (Streamlit switches pages without reloading the browser page, so what was loaded stays loaded).

On the server, the same idea for Python: :func:`warm_imports` imports, in the background, what the
chart pages import on their first run and the home page does not (SciPy's special functions for the
Experiments page's p-values alone take 0.5-1.5 s, as they pull in numpy.f2py and every text codec).

The data grid and the component code are Streamlit's own: found by name in its static folder (the file
names carry a hash that changes with each Streamlit version), imported from the same address Streamlit
imports them from, so the browser keeps one copy. With another Streamlit layout they are not found and
not asked for. Plotly
is loaded through the charts' own loader (``ui.plotly_loader.LOADER_JS``), so it too is loaded once.
"""
from __future__ import annotations

import functools
import importlib
import json
import threading
import time
from pathlib import Path

import streamlit as st

from ui import plotly_loader

# Streamlit's lazily loaded browser modules worth having early: the data grid, and the custom-component
# code the charts are mounted with (without it, a chart page opened from the menu drew its chart 0.2-0.3 s
# later than with st.plotly_chart: docs/BENCHMARKS.md section 4).
CHUNKS = ("DataFrame", "BidiComponent")
HIDDEN = "pc_preload"  # the sidebar container's key, hidden by CSS
DELAY_MS = 500  # after the page's own drawing has settled
# Imported by the Data, Results, Runs and Experiments pages on their first run, not by Home.
WARM_MODULES = ("pricecast.plots.figures", "pricecast.plots.runs", "plotly.subplots", "pricecast.plots.experiments",
                "scipy.special")
WARM_DELAY_S = 1.0  # the first page's own run goes first
_warm_lock = threading.Lock()
_warm_started = False


@functools.cache
def chunk_files() -> tuple[str, ...]:
    """The file names (``DataFrame.<hash>.js``, ...) of :data:`CHUNKS` in this Streamlit's static folder."""
    folder = Path(st.__file__).parent / "static" / "static" / "js"
    found = []
    for name in CHUNKS:
        matches = sorted(folder.glob(f"{name}.*.js"))
        if len(matches) == 1:  # more than one: not the layout this was written for, so leave it
            found.append(matches[0].name)
    return tuple(found)


def script(files: tuple[str, ...], delay_ms: int = DELAY_MS) -> str:
    """The ``<script>``: once the browser is idle, load the charts' Plotly bundle and import each file
    from the folder of Streamlit's own ``index.*.js`` (so the address matches the one Streamlit uses).
    Runs once per browser page."""
    return (
        f"<script>{plotly_loader.LOADER_JS}(() => {{"
        "if (window.__pcPreload) return; window.__pcPreload = true;"
        "const main = document.querySelector('script[type=module][src*=\"/static/js/index.\"]');"
        "const base = main ? new URL('.', main.src) : null;"
        f"const files = base ? {json.dumps(list(files))} : [];"
        "const go = () => { window.__pcPlotly().catch(() => {});"
        " files.forEach(f => import(new URL(f, base).href).catch(() => {})); };"
        f"setTimeout(() => (window.requestIdleCallback || setTimeout)(go), {int(delay_ms)});"
        "})();</script>"
    )


def preload_charts(delay_ms: int = DELAY_MS) -> None:
    """Ask the browser to load the charts' Plotly and the data grid once it has nothing else to do; call it last on
    a page, so the page itself is drawn first. (Asking first on a page that draws a chart itself did not
    make it open sooner: bench/dashboard.py, docs/BENCHMARKS.md section 4.)"""
    # In a hidden container, so the script takes no room in the sidebar; a style-only st.html goes to
    # Streamlit's event container and takes none either.
    st.html(f"<style>.st-key-{HIDDEN}, div:has(> .st-key-{HIDDEN}) {{display: none}}</style>")
    with st.sidebar.container(key=HIDDEN):
        st.html(script(chunk_files(), delay_ms), unsafe_allow_javascript=True)


def warm_imports(delay_s: float = WARM_DELAY_S) -> None:
    """Import :data:`WARM_MODULES` in a background thread, once per server process, ``delay_s`` after
    the first page's run started (so it does not compete with it). A page that needs one of them
    sooner imports it itself (Python's import lock makes the two wait for one import)."""
    global _warm_started
    with _warm_lock:
        if _warm_started:
            return
        _warm_started = True
    threading.Thread(target=_warm, args=(delay_s,), name="pricecast-warm-imports", daemon=True).start()


def _warm(delay_s: float) -> None:
    time.sleep(delay_s)
    for name in WARM_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:  # an optional part missing: its page says so when opened
            pass
