"""Where the browser gets Plotly from, and the one piece of JavaScript that loads it once per browser page.

Kept apart from ui/charts.py, which imports Plotly's Python package, so that ui/preload.py can ask for the
bundle on pages that draw no chart (Home) without the server importing Plotly for them.
"""
from __future__ import annotations

BUNDLE = "plotly-finance.min.js"  # in static/ (provenance in static/README.md), served at app/static/

# One promise per browser page loads the bundle (``window.__pcPlotly()``); each chart waits on it, and
# ui/preload.py calls it on pages without a chart once they are drawn. The bundle's address is found from
# Streamlit's own index script, so it holds behind a base path too.
LOADER_JS = """
window.__pcPlotly = window.__pcPlotly || (() => {
  let loading = null;
  return () => loading || (loading = new Promise((resolve, reject) => {
    if (window.Plotly) return resolve(window.Plotly);
    const main = document.querySelector('script[type=module][src*="/static/js/index."]');
    const base = main ? new URL('../../', main.src) : new URL('./', document.baseURI);
    const tag = document.createElement('script');
    tag.src = new URL('app/static/@BUNDLE@', base).href;
    tag.onload = () => resolve(window.Plotly);
    tag.onerror = () => { loading = null; reject(new Error('could not load ' + tag.src)); };
    document.head.appendChild(tag);
  }));
})();
""".replace("@BUNDLE@", BUNDLE)

