"""Rebuild the bundled series from the project's shared real data (see PROVENANCE.md).

Run by hand, not at run time, from the repository root:
    python -m pricecast.data.sample_data.build ../shared/data

The stocks can also be rebuilt from the bokeh-sampledata wheel they came from:
    pip download --no-deps bokeh-sampledata==2026.1 -d /tmp/bk
    python -m pricecast.data.sample_data.build ../shared/data /tmp/bk/bokeh_sampledata-2026.1-py3-none-any.whl

Every crypto and TSLA file is inspected with :mod:`pricecast.data.quality` and cut to its longest clean
stretch; the build stops if what it would write is not clean.
"""
from __future__ import annotations

import gzip
import io
import json
import sys
import zipfile
from pathlib import Path

import pandas as pd

from pricecast.data.candles import validate_candles
from pricecast.data.csv_import import read_candles_csv
from pricecast.data.quality import cut_to_clean, quality_report

TICKERS = ("AAPL", "MSFT", "IBM", "GOOG")
OUT_DIR = Path(__file__).parent


def _write(frame: pd.DataFrame, path: Path, time_format: str, price_decimals: int, volume_decimals: int) -> None:
    out = pd.DataFrame({"time": frame.index.strftime(time_format)})
    for col in ("open", "high", "low", "close"):
        out[col] = frame[col].round(price_decimals).to_numpy()
    out["volume"] = frame["volume"].round(volume_decimals).to_numpy()
    if volume_decimals == 0:
        out["volume"] = out["volume"].astype("int64")
    # mtime=0: the same data gives the same bytes, so a rebuild shows no spurious change
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0) as gz:
        gz.write(out.to_csv(index=False).encode())


def build_stocks(table: pd.DataFrame, out_dir: Path) -> None:
    """AAPL, MSFT, IBM, GOOG from the Quandl WIKI table (columns Ticker, Date, Open, ..., Adj Close)."""
    table = table.assign(Date=pd.to_datetime(table["Date"]))
    for ticker in TICKERS:
        rows = table[table["Ticker"] == ticker].sort_values("Date")
        # Raw prices jump at stock splits (AAPL 2005, MSFT 2003), which a model would read as
        # crashes; scale OHLC by the source's own adjustment factor so the series is continuous.
        factor = rows["Adj Close"] / rows["Close"]
        frame = pd.DataFrame({"open": rows["Open"] * factor, "high": rows["High"] * factor,
                              "low": rows["Low"] * factor, "close": rows["Adj Close"],
                              "volume": rows["Volume"]}).set_index(pd.DatetimeIndex(rows["Date"], name="time"))
        _write(frame, out_dir / f"{ticker}.csv.gz", "%Y-%m-%d", 6, 0)


def _clean(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    cut = cut_to_clean(frame)
    report = quality_report(cut)
    if not report.is_clean:
        raise SystemExit(f"{name}: still not clean after the cut: {'; '.join(report.lines())}")
    return cut


def build_btc_5m(shared: Path, out_dir: Path) -> pd.DataFrame:
    # Bitstamp 2016: out of order, two gaps in March and a feed frozen for days (zero-volume
    # candles at one price); the longest stretch free of all of it is January.
    frame = _clean(read_candles_csv(shared / "btc_usd_5m_2016_bitstamp.csv"), "BTC 5m")
    _write(frame, out_dir / "BTC-USD-5M.csv.gz", "%Y-%m-%d %H:%M", 2, 8)
    return frame


def build_btc_1h(shared: Path, out_dir: Path) -> pd.DataFrame:
    # CryptoDataDownload's Coinbase file: banner line, newest first, "2019-10-17 09-AM" times, and
    # a block on 2017-11-12 replayed five hours later. Volume is the BTC column (base asset), as
    # for every other source; the file's "volume" column is in USD.
    path = shared / "btc_usd_1h_2017_2019_coinbase.csv"
    table = pd.read_csv(path, skiprows=1)
    table = table.assign(time=pd.to_datetime(table["date"], format="%Y-%m-%d %I-%p", utc=True))
    frame = read_candles_csv(table[["time", "open", "high", "low", "close", "volume_btc"]]
                             .rename(columns={"volume_btc": "volume"}).to_csv(index=False).encode(), name=path.name)
    frame = _clean(frame, "BTC 1h")
    _write(frame, out_dir / "BTC-USD-1H.csv.gz", "%Y-%m-%d %H:%M", 2, 8)
    return frame


def build_tsla(shared: Path, out_dir: Path) -> pd.DataFrame:
    # A recorded Yahoo chart API response. Bars are stamped at the 09:30 New York open (13:30 or
    # 14:30 UTC with daylight saving); the date is what a daily candle means. Prices are
    # split-adjusted by Yahoo (adjclose equals close: TSLA pays no dividends).
    doc = json.loads((shared / "api-samples" / "yahoo_chart_TSLA_1d_2010_2023.json").read_text())
    result = doc["response"]["bodyJson"]["chart"]["result"][0]
    quote = result["indicators"]["quote"][0]
    times = pd.to_datetime(result["timestamp"], unit="s", utc=True).normalize().rename("time")
    frame = validate_candles(pd.DataFrame({k: quote[k] for k in ("open", "high", "low", "close", "volume")},
                                          index=times), "TSLA")
    frame = _clean(frame, "TSLA")
    _write(frame, out_dir / "TSLA.csv.gz", "%Y-%m-%d", 6, 0)
    return frame


def build(shared: Path, out_dir: Path = OUT_DIR, wheel: Path | None = None) -> None:
    if wheel is not None:
        with zipfile.ZipFile(wheel) as zf:
            raw = zf.read("bokeh_sampledata/_data/stocks.csv.gz")
        stocks = pd.read_csv(io.BytesIO(gzip.decompress(raw)))
    else:
        stocks = pd.read_csv(shared / "stocks_daily_2000_2013_quandl_wiki.csv.gz")
    build_stocks(stocks, out_dir)
    for frame, name in ((build_btc_5m(shared, out_dir), "BTC-USD-5M"), (build_btc_1h(shared, out_dir), "BTC-USD-1H"),
                        (build_tsla(shared, out_dir), "TSLA")):
        print(f"{name}: {len(frame):,} rows, {frame.index[0]} .. {frame.index[-1]}")


if __name__ == "__main__":
    build(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data"),
          wheel=Path(sys.argv[2]) if len(sys.argv) > 2 else None)
