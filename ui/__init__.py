"""Streamlit-aware helpers for the dashboard pages (the library, ``pricecast``, never imports these)."""
