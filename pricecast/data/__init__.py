"""Data in: bundled series, CSV files, exchanges and Yahoo (``market/``), uploads, one naming scheme
(``datasets``) and the quality report. Everything here produces or checks the canonical candle frame
(``candles``).
"""
