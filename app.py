"""pricecast dashboard. Run: ``streamlit run app.py``.

The entry point only routes: each page is a script in ``pages/``, shared helpers are in ``ui/``,
and every page draws the same sidebar menu (``ui.common.PAGES``). Opening the app loads no
TensorFlow: Keras is imported only when a model is trained or its summary is asked for.
"""
import streamlit as st

from ui.common import PAGES
from ui.preload import warm_imports

warm_imports()  # once per server process: what the chart pages import, while the user reads the first page

st.navigation(
    [st.Page(path, title=title, icon=icon, default=(i == 0)) for i, (path, title, icon) in enumerate(PAGES)],
    position="hidden",
).run()
