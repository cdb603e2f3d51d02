"""CSV layouts people have, read into the canonical candle frame."""
from __future__ import annotations

import gzip
import io
from pathlib import Path

import pandas as pd
import pytest

from pricecast.data.candles import CandleError
from pricecast.data.csv_import import read_candles_csv, read_candles_csv_info

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def shared(name: str) -> Path:
    path = SHARED / name
    if not path.exists():
        pytest.skip(f"{path} is absent")
    return path


def test_investing_export():
    frame, info = read_candles_csv_info(shared("btc_usd_daily_2015_2016_investing.csv"))
    assert list(frame.columns) == ["open", "high", "low", "close", "volume"]
    assert frame.index[0] == pd.Timestamp("2015-01-01", tz="UTC") and frame.index[-1] == pd.Timestamp("2017-01-01", tz="UTC")
    last = frame.iloc[-1]
    assert (last["close"], last["high"], last["volume"]) == (999.0, 1006.5, 13440.0)  # "Price", "1,006.5", "13.44K"
    assert len(frame) == 713  # 717 rows, 4 with all-zero prices dropped
    assert info.mapping["close"] == "Price" and any("newest first" in n for n in info.notes)


def test_quandl_tickers_need_a_choice():
    path = shared("stocks_daily_2000_2013_quandl_wiki.csv.gz")
    with pytest.raises(CandleError, match=r"5 tickers \(AAPL, FB, GOOG, IBM, MSFT\); choose one"):
        read_candles_csv(path)
    aapl = read_candles_csv(path, ticker="aapl")
    assert len(aapl) == 3270 and aapl.index.is_monotonic_increasing
    with pytest.raises(CandleError, match="ticker 'TSLA' is not in the file; it holds AAPL"):
        read_candles_csv(path, ticker="TSLA")


def test_yahoo_download_uses_close_not_adj_close():
    text = ("Date,Open,High,Low,Close,Adj Close,Volume\n"
            "2024-01-02,250.08,251.25,244.41,248.42,248.42,104654200\n"
            "2024-01-03,244.98,245.68,236.32,238.45,238.45,121082600\n")
    frame = read_candles_csv(text.encode())
    assert frame["close"].tolist() == [248.42, 238.45] and frame["volume"].iloc[0] == 104654200.0


@pytest.mark.parametrize("scale,unit", [(1, "unix s"), (1000, "unix ms"), (1_000_000, "unix us")])
def test_unix_times_by_magnitude(scale, unit):
    t0 = 1704067200
    rows = "\n".join(f"{(t0 + 60 * i) * scale},1,2,0.5,1.5,3" for i in range(3))
    frame, info = read_candles_csv_info(io.BytesIO(f"Timestamp,Open,High,Low,Close,Volume\n{rows}\n".encode()))
    assert info.time_format == unit
    assert frame.index[0] == pd.Timestamp("2024-01-01", tz="UTC") and frame.index[2] == pd.Timestamp("2024-01-01 00:02", tz="UTC")


def test_kaggle_bitcoin_layout():
    text = ("Timestamp,Open,High,Low,Close,Volume_(BTC),Volume_(Currency),Weighted_Price\n"
            "1325317920,4.39,4.39,4.39,4.39,0.45558087,2.0000000193,4.39\n"
            "1325317980,NaN,NaN,NaN,NaN,NaN,NaN,NaN\n"
            "1325318040,4.39,4.40,4.39,4.40,1.5,6.6,4.395\n")
    frame, info = read_candles_csv_info(text.encode(), name="kaggle.csv")
    assert len(frame) == 2 and info.mapping["volume"] == "Volume_(BTC)"
    assert any("without prices" in n for n in info.notes)


def test_bundled_layout_gzip_and_semicolons():
    text = "time;open;high;low;close;volume\n2024-01-01T00:00:00Z;1;2;0.5;1.5;3\n2024-01-01T01:00:00Z;1.5;2;1;1.7;4\n"
    frame = read_candles_csv(gzip.compress(text.encode()))
    assert len(frame) == 2 and str(frame.index.tz) == "UTC"


def test_missing_volume_and_ohl():
    frame, info = read_candles_csv_info(b"date,close\n2024-01-01,10\n2024-01-02,11\n")
    assert frame["volume"].tolist() == [0.0, 0.0] and frame["open"].tolist() == [10.0, 11.0]
    assert any("volume set to 0" in n for n in info.notes)


def test_missing_time_or_close_names_columns():
    with pytest.raises(CandleError, match=r"missing column\(s\) time .*columns present: Open, High, Low, Close"):
        read_candles_csv(b"Open,High,Low,Close\n1,2,0.5,1.5\n", name="x.csv")
    with pytest.raises(CandleError, match=r"missing column\(s\) close .*columns present: Date, Open"):
        read_candles_csv(b"Date,Open\n2024-01-01,1\n", name="x.csv")


def test_unparseable_values_name_column_and_line():
    with pytest.raises(CandleError, match=r"column 'High' line 3: cannot read 'abc' as a number"):
        read_candles_csv(b"Date,Open,High,Low,Close\n2024-01-01,1,2,0.5,1.5\n2024-01-02,1,abc,0.5,1.5\n", name="x.csv")
    with pytest.raises(CandleError, match=r"column 'Date' line 2: cannot read 'someday' as a date"):
        read_candles_csv(b"Date,Open,High,Low,Close\nsomeday,1,2,0.5,1.5\n2024-01-02,1,2,0.5,1.5\n", name="x.csv")
    with pytest.raises(CandleError, match="empty"):
        read_candles_csv(b"", name="x.csv")


def test_cryptodatadownload_hourly_banner_with_comma_and_am_pm_times():
    text = ("Timestamps are UTC timezone,https://www.CryptoDataDownload.com\n"
            "date,symbol,open,high,low,close,volume_btc,volume\n"
            "2019-10-17 01-PM,BTCUSD,8051,8056.83,8021.23,8035.88,61.25,492394.56\n"
            "2019-10-17 12-PM,BTCUSD,7975.89,8070,7975.89,8051,370.45,2971610.86\n"
            "2019-10-17 11-AM,BTCUSD,7964.62,7987.82,7964.61,7975.89,121.68,970521.83\n")
    frame, info = read_candles_csv_info(text.encode(), name="cdd.csv")
    assert list(frame.index.hour) == [11, 12, 13] and frame["close"].iloc[-1] == 8035.88
    assert "rows were newest first: sorted" in info.notes


def test_rows_out_of_time_order_are_sorted_with_a_note(shared_data):
    frame, info = read_candles_csv_info(shared_data / "btc_usd_5m_2016_bitstamp.csv")
    assert frame.index.is_monotonic_increasing and len(frame) == 30610
    assert "rows were not in time order: sorted" in info.notes


def _rows(times: pd.DatetimeIndex) -> list[str]:
    return [f"{t:%Y-%m-%d %H:%M},{100 + i % 7},{102 + i % 7},{99 + i % 7},{101 + i % 7},{10 + i}"
            for i, t in enumerate(times)]


@pytest.mark.parametrize("days,hours", [(200, 30), (40, 300)])
def test_a_file_that_switches_from_daily_to_hourly_candles_is_refused_saying_where(days, hours):
    # read as one timeframe it passed as "1 gap, 1 candle missing" (or as hundreds of gaps)
    daily = pd.date_range("2023-01-01", periods=days, freq="D")
    hourly = pd.date_range(daily[-1] + pd.Timedelta(days=1), periods=hours, freq="h")
    text = "time,open,high,low,close,volume\n" + "\n".join(_rows(daily.append(hourly))) + "\n"
    with pytest.raises(CandleError, match="mixes timeframes") as err:
        read_candles_csv(text.encode(), name="mixed.csv")
    message = str(err.value)
    shorter = "hour" if days > hours else "day"
    assert f"are 1 {shorter} apart" in message
    assert (hourly[0] if days > hours else daily[0]).isoformat() in message


def test_regular_market_hours_and_weekends_are_not_a_switch():
    # hourly bars of a stock: 7 a day, long nights and weekends between them
    days = pd.bdate_range("2024-01-01", periods=60)
    times = pd.DatetimeIndex([d + pd.Timedelta(hours=14, minutes=30) + pd.Timedelta(hours=h) for d in days for h in range(7)])
    frame = read_candles_csv(("time,open,high,low,close,volume\n" + "\n".join(_rows(times)) + "\n").encode())
    assert len(frame) == 420


def test_dates_in_1899_or_2090_get_a_remark(tmp_path):
    from pricecast.data.datasets import load_data

    times = pd.DatetimeIndex(["1899-12-30"]).append(pd.date_range("2020-01-01", periods=50, freq="D"))
    (tmp_path / "old.csv").write_text("time,open,high,low,close,volume\n" + "\n".join(_rows(times)) + "\n")
    warnings = load_data(str(tmp_path / "old.csv")).warnings
    assert any("1 candle(s) dated before 1900 (first 1899-12-30" in w for w in warnings)
    times = pd.date_range("2020-01-01", periods=50, freq="D").append(pd.DatetimeIndex(["2090-05-01"]))
    (tmp_path / "late.csv").write_text("time,open,high,low,close,volume\n" + "\n".join(_rows(times)) + "\n")
    warnings = load_data(str(tmp_path / "late.csv")).warnings
    assert any("1 candle(s) dated in the future (last 2090-05-01)" in w for w in warnings)
    assert load_data("sample:AAPL").warnings == []
