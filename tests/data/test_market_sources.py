"""Fetching from the fake exchanges and Yahoo: paging, retries, errors. No internet."""
from __future__ import annotations

import time

import pandas as pd
import pytest

from pricecast.data.market import (
    MarketDataError,
    MarketRef,
    list_exchanges,
    list_symbols,
    list_timeframes,
    load_market,
    parse_market_ref,
    yahoo_intervals,
)

from ..fakes.server import Fault

H = 3_600_000


def test_parse_market_ref_defaults_and_round_trip():
    assert str(parse_market_ref("binance:btc/usdt:1h")) == "binance:BTC/USDT:1h"
    assert parse_market_ref("yahoo:TSLA") == MarketRef("yahoo", "TSLA", "1d")
    assert parse_market_ref("poloniex:BTC/USDT").timeframe == "1h"
    assert parse_market_ref("kraken:BTC/USD:1M").timeframe == "1M"
    for bad in ("", "binance", "binance::1h", "binance:BTC/USDT:1h:x", "binance:BTC/USDT:hourly"):
        with pytest.raises(MarketDataError):
            parse_market_ref(bad)


def test_listings_without_network():
    exchanges = list_exchanges()
    for ex in ("binance", "poloniex", "bithumb", "upbit", "coinbase", "kraken"):
        assert ex in exchanges
    assert "1h" in list_timeframes("binance") and "1d" in list_timeframes("bithumb")
    assert "1h" in yahoo_intervals() and yahoo_intervals()["5m"]["max_age_days"] == 59
    with pytest.raises(MarketDataError, match="unknown exchange 'binanse'.*binance"):
        list_timeframes("binanse")


def test_list_symbols_searches(fake):
    assert list_symbols("binance") == ["BTC/USDT", "ETH/BTC", "ETH/USDT"]
    assert list_symbols("binance", "eth") == ["ETH/BTC", "ETH/USDT"]
    assert list_symbols("poloniex", "btc") == ["BTC/USDT"]


def test_binance_paging_across_many_pages(fake):
    data = load_market("binance:BTC/USDT:1m", "2024-01-01", "2024-01-04T11:59")
    assert len(data.candles) == 3.5 * 1440
    assert data.candles.index.is_unique and data.candles.index.is_monotonic_increasing
    assert data.candles.index[0] == pd.Timestamp("2024-01-01", tz="UTC")
    klines = fake.state.paths("/api/v3/klines")
    assert len(klines) == 6 and all(q["limit"] == "1000" for q in klines)  # Binance's page cap
    assert [int(q["startTime"]) for q in klines][:2] == [1704067200000, 1704067200000 + 1000 * 60_000]
    assert data.fetched_rows == len(data.candles) and not data.from_cache
    assert data.candles.dtypes.eq("float64").all()


def test_duplicates_at_page_edges_and_gaps(fake):
    fake.state.overlap = 3  # every page repeats the last 3 candles of the previous one
    start = pd.Timestamp("2024-01-01", tz="UTC").value // 1_000_000
    fake.state.binance["BTCUSDT"].missing = {start + 60_000 * k for k in (1500, 1501, 1502, 2600)}
    data = load_market("binance:BTC/USDT:1m", "2024-01-01", "2024-01-02T23:59")
    assert len(data.candles) == 2880 - 4
    assert data.candles.index.is_unique
    assert [(g.missing) for g in data.gaps] == [3, 1]
    assert data.summary()["gaps"] == 2


def test_market_listed_long_after_since_is_found(fake):
    listed = pd.Timestamp("2024-01-10", tz="UTC")  # 13 windows of 1000 minutes after `since`
    fake.state.binance["ETHBTC"].listed = int(listed.value // 1_000_000)
    data = load_market("binance:ETH/BTC:1m", "2024-01-01", "2024-01-10T09:59")
    assert data.candles.index[0] == listed and len(data.candles) == 600
    klines = fake.state.paths("/api/v3/klines")
    assert len(klines) == 3 and "endTime" not in klines[1]  # an empty window, then asked open-ended


def test_poloniex_legacy_pair_and_page_limit(fake):
    data = load_market("poloniex:USDT_BTC:1h", "2024-01-01", "2024-02-15")
    assert len(data.candles) == 45 * 24 + 1
    calls = fake.state.paths("/markets/BTC_USDT/candles")
    assert len(calls) == 3 and {q["limit"] for q in calls} == {"500"} and calls[0]["interval"] == "HOUR_1"
    first = data.candles.iloc[0]
    assert first["low"] <= min(first["open"], first["close"]) <= max(first["open"], first["close"]) <= first["high"]


def test_bithumb_newest_first_windows(fake):
    data = load_market("bithumb:ETH/KRW:1h", "2024-01-01", "2024-01-31T23:00")
    assert len(data.candles) == 31 * 24
    calls = fake.state.paths("/v1/candles/minutes/60")
    assert len(calls) == 4 and all(q["count"] == "200" and q["market"] == "KRW-ETH" for q in calls)
    assert calls[0]["to"] == "2024-01-09T08:00:00Z"  # UTC, 200 hours after the start
    daily = load_market("bithumb:BTC/KRW:1d", "2024-01-01", "2024-03-31")
    assert len(daily.candles) == 91 and fake.state.paths("/v1/candles/days")


def test_yahoo_daily_replays_the_recorded_chart_with_a_null_row(fake, recordings):
    chart = recordings.yahoo["TSLA"]
    lo, hi = pd.Timestamp("2023-01-01", tz="UTC").timestamp(), pd.Timestamp("2023-04-01", tz="UTC").timestamp()
    stamps = [t for t in chart["timestamp"] if lo <= t < hi]
    fake.state.yahoo_nulls = {stamps[2]}  # Yahoo sometimes sends a row of nulls
    data = load_market("yahoo:TSLA:1d", "2023-01-01", "2023-03-31")
    idx = data.candles.index
    assert (idx == idx.normalize()).all() and (idx.day_of_week < 5).all()
    # the recorded trading days (holidays absent), stamped at the New York date, minus the null row
    kept = [t for t in stamps if t != stamps[2]]
    assert list(idx) == [pd.Timestamp(t - 5 * 3600, unit="s", tz="UTC").normalize() for t in kept]
    quote = chart["indicators"]["quote"][0]
    closes = {t: quote["close"][chart["timestamp"].index(t)] for t in kept}
    assert data.candles["close"].tolist() == [closes[t] for t in kept]  # close as traded, not adjclose
    assert any("without prices" in w for w in data.warnings)
    q = fake.state.paths("/v8/finance/chart/TSLA")[0]
    assert q["interval"] == "1d" and int(q["period1"]) < pd.Timestamp("2023-01-01", tz="UTC").timestamp()


def test_yahoo_unknown_symbol_and_interval(fake):
    with pytest.raises(MarketDataError, match="Yahoo does not know the symbol 'NOPE'.*delisted"):
        load_market("yahoo:NOPE:1d", "2024-01-01", "2024-02-01")
    with pytest.raises(MarketDataError, match="Yahoo does not serve '3h'.*1d"):
        load_market("yahoo:TSLA:3h")


def test_unknown_symbol_suggests_close_matches(fake):
    with pytest.raises(MarketDataError, match="binance has no market 'BTC/USDX'.*BTC/USDT"):
        load_market("binance:BTC/USDX:1h", "2024-01-01", "2024-01-02")


def test_unknown_timeframe_lists_supported(fake):
    with pytest.raises(MarketDataError, match="poloniex does not serve '7m'.*1m, 5m"):
        load_market("poloniex:BTC/USDT:7m")
    assert fake.state.requests == []  # rejected before any request


def test_429_with_retry_after_then_success(fake, monkeypatch):
    waits = []
    monkeypatch.setattr("pricecast.data.market.http.time.sleep", lambda s: waits.append(s))
    fake.state.inject("/api/v3/klines", Fault(429, {"Retry-After": "0.02"},
                                              '{"code":-1003,"msg":"Too many requests; current limit of IP is 6000 '
                                              'request weight per 1 MINUTE."}'))
    data = load_market("binance:ETH/USDT:1h", "2024-01-01", "2024-01-02")
    assert len(data.candles) == 25
    assert waits == [0.02]  # Retry-After honoured (under the cap)
    assert len(fake.state.paths("/api/v3/klines")) == 2


def test_retry_after_is_capped(fake, monkeypatch):
    waits = []
    monkeypatch.setattr("pricecast.data.market.http.time.sleep", lambda s: waits.append(s))
    fake.state.inject("/v8/finance/chart", Fault(429, {"Retry-After": "3600"}, "Too Many Requests"))
    load_market("yahoo:AAPL:1d", "2020-09-01", "2020-09-30")
    assert waits == [0.05]


def test_timeout_then_success(fake, monkeypatch):
    monkeypatch.setenv("PRICECAST_HTTP_TIMEOUT", "0.3")
    fake.state.inject("/api/v3/klines", Fault(delay=0.8))
    t0 = time.time()
    data = load_market("binance:ETH/USDT:1h", "2024-01-01", "2024-01-02")
    assert len(data.candles) == 25 and time.time() - t0 < 5
    fake.state.inject("/v8/finance/chart", Fault(delay=0.8))
    assert len(load_market("yahoo:AAPL:1d", "2020-09-01", "2020-09-30").candles) == 21  # recorded days


def test_server_errors_exhaust_retries_without_cache(fake):
    fake.state.inject("/api/v3/klines", Fault(503, {},
                                              '{"code":-1001,"msg":"Internal error; unable to process your request. '
                                              'Please try again."}'), times=5)
    with pytest.raises(MarketDataError, match=r"binance is temporarily unavailable \(HTTP 503\) and nothing cached "
                                              "for binance:ETH/USDT:1h"):
        load_market("binance:ETH/USDT:1h", "2024-01-01", "2024-01-02")


def test_maintenance_message(fake):
    import ccxt

    from pricecast.data.market import SourceUnavailableError
    from pricecast.data.market.ccxt_source import _translate

    err = _translate(ccxt.OnMaintenance("binance {}"), "binance", "loading")
    assert isinstance(err, SourceUnavailableError) and "under maintenance" in str(err)


def test_malformed_json_is_a_clear_error(fake):
    fake.state.inject("/api/v3/klines", Fault(200, {}, '[[1704067200000,"42000.1","42100.0"'))
    with pytest.raises(MarketDataError, match="not valid JSON"):
        load_market("binance:ETH/USDT:1h", "2024-01-01", "2024-01-02")
    fake.state.inject("/v8/finance/chart", Fault(200, {}, '{"chart": {"result": [{"meta"'))
    with pytest.raises(MarketDataError, match="yahoo sent a response that is not valid JSON"):
        load_market("yahoo:AAPL:1d", "2020-09-01", "2020-09-30")


def test_empty_result(fake):
    fake.state.binance["ETHBTC"].listed = pd.Timestamp("2030-01-01", tz="UTC").value // 1_000_000
    with pytest.raises(MarketDataError, match="no candles"):
        load_market("binance:ETH/BTC:1h", "2024-01-01", "2024-01-02")
    with pytest.raises(MarketDataError, match="no candles"):
        load_market("yahoo:AAPL:1d", "2020-09-05", "2020-09-06")  # a weekend inside the recorded chart


def test_still_forming_candle_is_dropped(fake):
    now = pd.Timestamp.now(tz="UTC")
    data = load_market("binance:BTC/USDT:1h", now - pd.Timedelta(hours=10))
    assert data.candles.index[-1] + pd.Timedelta(hours=1) <= now
    assert data.candles.index[-1] >= now.floor("h") - pd.Timedelta(hours=1)
