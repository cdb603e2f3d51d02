"""Links to this server's pages as the browser sees them (for "copy link" and the reports' links)."""
from __future__ import annotations

from urllib.parse import urlsplit

import streamlit as st

from pricecast.report.document import DEFAULT_BASE_URL, run_link


def base_url() -> str:
    """The app's address in the user's browser, without the page path (``http://host:8501``)."""
    try:
        url = st.context.url or ""
    except (AttributeError, RuntimeError):  # outside a browser session (AppTest)
        url = ""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else DEFAULT_BASE_URL


def result_link(run_dir: str) -> str:
    """The address that opens Results on ``run_dir`` on this server (``?run=<run id>``)."""
    return run_link(run_dir, base_url())
