"""Plotly figures for the pages and notebooks (no Streamlit here)."""
