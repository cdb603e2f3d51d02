"""Rebuild the bundled series from bokeh-sampledata's copy of the Quandl WIKI prices.

Run by hand, not at run time:
    pip download --no-deps bokeh-sampledata==2026.1 -d /tmp/bk
    python -m pricecast.sample_data.build /tmp/bk/bokeh_sampledata-2026.1-py3-none-any.whl
"""
from __future__ import annotations

import gzip
import io
import sys
import zipfile
from pathlib import Path

import pandas as pd

TICKERS = ("AAPL", "MSFT", "IBM", "GOOG")


def build(wheel: Path, out_dir: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        raw = zf.read("bokeh_sampledata/_data/stocks.csv.gz")
    table = pd.read_csv(io.BytesIO(gzip.decompress(raw)), parse_dates=["Date"])
    for ticker in TICKERS:
        rows = table[table["Ticker"] == ticker].sort_values("Date")
        # Raw prices jump at stock splits (AAPL 2005, MSFT 2003), which a model would read as
        # crashes; scale OHLC by the source's own adjustment factor so the series is continuous.
        factor = rows["Adj Close"] / rows["Close"]
        out = pd.DataFrame(
            {
                "time": rows["Date"].dt.strftime("%Y-%m-%d"),
                "open": (rows["Open"] * factor).round(6),
                "high": (rows["High"] * factor).round(6),
                "low": (rows["Low"] * factor).round(6),
                "close": rows["Adj Close"].round(6),
                "volume": rows["Volume"].astype("int64"),
            }
        )
        with gzip.open(out_dir / f"{ticker}.csv.gz", "wt", compresslevel=9) as fh:
            out.to_csv(fh, index=False)


if __name__ == "__main__":
    build(Path(sys.argv[1]), Path(__file__).parent)
