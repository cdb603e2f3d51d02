"""pricecast's ccxt and Yahoo sources against the exchanges' recorded real responses.

For each recorded ccxt fixture, fetching the recorded request through pricecast gives exactly the
candles ccxt's ``parsedResponse`` says; paging, cache updates and Yahoo's intraday limits are
tested on rows in the recorded shapes. No internet: the fake server replays the recordings.
"""
from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from pricecast.data.market import MarketDataError, load_market, yahoo
from pricecast.data.market.yahoo import fetch_candles as yahoo_fetch

H = 3_600_000
MIN = 60_000


def rows(data) -> list[list[float]]:
    """The candles as ccxt's ``[ms, open, high, low, close, volume]`` rows."""
    frame = data.candles
    rows = frame[["open", "high", "low", "close", "volume"]].to_numpy()
    return [[int(t.value // 1_000_000), *map(float, r)] for t, r in zip(frame.index, rows)]


def ts(ms: int) -> pd.Timestamp:
    return pd.Timestamp(ms, unit="ms", tz="UTC")


def now_ms() -> int:
    return int(pd.Timestamp.now(tz="UTC").value // 1_000_000)


# ---------------------------------------------------------------- recorded pages == parsedResponse
@pytest.mark.parametrize("ref, sample", [
    ("binance:BTC/USDT:1h", "binance"),
    ("poloniex:BTC/USDT:1h", "poloniex"),
    ("upbit:BTC/USDT:1h", "upbit"),
    ("coinbaseexchange:BTC/USDT:1h", "coinbase"),
])
def test_recorded_page_gives_ccxts_parsed_candles(fake, recordings, ref, sample):
    recorded = getattr(recordings, sample)
    expected = recorded["parsedResponse"]
    since = recorded["input"][2] or expected[0][0]
    data = load_market(ref, ts(since), ts(expected[-1][0]))
    assert rows(data) == expected


def test_bithumb_recorded_prices_keep_close_apart_from_high_and_low(fake, recordings):
    # Bithumb's recorded row is [ms, open, CLOSE, HIGH, LOW, volume]; ccxt's parse is the truth
    expected = recordings.bithumb["parsedResponse"]
    data = load_market("bithumb:BTC/KRW:1m", ts(expected[0][0]), ts(expected[0][0]))
    assert rows(data) == expected
    assert fake.state.paths("/v1/candles/minutes/1", "bithumb")[0]["market"] == "KRW-BTC"


def test_kraken_recorded_request_and_candles(fake, recordings):
    recorded = recordings.kraken
    fake.state.now_ms = 1706799600000 + 30 * MIN  # when it was recorded: Kraken keeps only the latest 720
    since, expected = recorded["input"][2], recorded["parsedResponse"]
    data = load_market("kraken:BTC/USDT:1h", ts(since), ts(expected[-1][0]))
    assert rows(data) == expected
    # the pair id, minutes, and since in seconds one candle early (ccxt 4.5 subtracts one interval)
    assert fake.state.paths("/0/public/OHLC") == [{"pair": "XBTUSDT", "interval": "60", "since": "1706624591"}]


# ---------------------------------------------------------------- Kraken: paging and cache
def test_kraken_incremental_update_asks_only_for_newer_candles(fake, tmp_path):
    last_closed = ts((now_ms() // H - 1) * H)
    since = last_closed - pd.Timedelta(hours=99)
    first = load_market("kraken:BTC/USD:1h", since, last_closed - pd.Timedelta(hours=9), cache_dir=tmp_path)
    assert first.candles.index[0] == since and len(first.candles) == 91
    assert fake.state.paths("/0/public/OHLC")[0]["pair"] == "XXBTZUSD"
    fake.state.requests.clear()
    second = load_market("kraken:BTC/USD:1h", since, cache_dir=tmp_path)
    asked = fake.state.paths("/0/public/OHLC")
    next_open = first.candles.index[-1] + pd.Timedelta(hours=1)
    assert int(asked[0]["since"]) == next_open.timestamp() - 3600  # ccxt asks from one candle earlier
    assert second.fetched_rows == 9 and len(second.candles) == 100
    assert second.candles.index.is_unique and second.candles.index.is_monotonic_increasing
    # Kraken always sends the still-forming candle too; it is not kept
    assert second.candles.index[-1] == last_closed


def test_kraken_says_when_older_candles_cannot_be_fetched(fake):
    real_now = now_ms()
    data = load_market("kraken:ETH/USD:5m", ts(real_now - 2000 * 5 * MIN))
    assert len(data.candles) == 719  # Kraken keeps 720, the newest still forming
    assert any("kraken keeps only its latest 720 5m candles" in w for w in data.warnings)


# ---------------------------------------------------------------- Coinbase Exchange: paging and cache
def test_coinbase_pages_within_300_candles_and_updates_the_cache(fake, recordings, tmp_path):
    data = load_market("coinbaseexchange:BTC/USDT:1h", "2024-03-01", "2024-03-31", cache_dir=tmp_path)
    assert len(data.candles) == 30 * 24 + 1 and data.candles.index.is_unique
    assert data.candles.index.is_monotonic_increasing  # Coinbase answers newest first
    asked = fake.state.paths("/products/BTC-USDT/candles")
    assert len(asked) == 3 and {q["granularity"] for q in asked} == {"3600"}
    for q in asked:  # the fake refuses more than 300 aggregations, as Coinbase does
        assert (pd.Timestamp(q["end"]) - pd.Timestamp(q["start"])) / pd.Timedelta(hours=1) <= 300
    recorded = recordings.coinbase["parsedResponse"][0]
    assert rows(data)[data.candles.index.get_loc(ts(recorded[0]))] == recorded
    fake.state.requests.clear()
    more = load_market("coinbaseexchange:BTC/USDT:1h", "2024-03-01", "2024-04-05", cache_dir=tmp_path)
    asked = fake.state.paths("/products/BTC-USDT/candles")
    assert [q["start"] for q in asked] == ["2024-03-31T01:00:00.000Z"]
    assert more.fetched_rows == 5 * 24 and len(more.candles) == 35 * 24 + 1


def test_coinbase_hours_without_trades_do_not_end_the_download(fake):
    # "No data is published for intervals where there are no ticks": an illiquid stretch of more
    # than one 300-candle window comes back empty, and later candles must still be fetched
    start = int(pd.Timestamp("2024-03-01", tz="UTC").value // 1_000_000)
    fake.state.coinbase["ETH-USD"].missing = {start + H * k for k in range(200, 700)}
    data = load_market("coinbaseexchange:ETH/USD:1h", "2024-03-01", "2024-04-10")
    assert len(data.candles) == 40 * 24 + 1 - 500
    assert data.candles.index[-1] == pd.Timestamp("2024-04-10", tz="UTC")
    assert [g.missing for g in data.gaps] == [500]


# ---------------------------------------------------------------- Yahoo intraday
@pytest.mark.parametrize("interval, days_back, window_days", [("1m", 20, 7), ("5m", 50, 59), ("1h", 700, 729)])
def test_yahoo_intraday_pages_within_its_limits(fake, interval, days_back, window_days):
    until = now_ms()
    since = until - days_back * 86_400_000
    warnings: list[str] = []
    got = yahoo_fetch("TSLA", interval, since, until, warnings=warnings)
    asked = fake.state.paths("/v8/finance/chart/TSLA")
    # the fake answers 422 for a window beyond Yahoo's limits, so every page was accepted
    spans = [int(q["period2"]) - int(q["period1"]) for q in asked]
    assert len(asked) == -(-days_back // window_days) and max(spans) <= window_days * 86400 + 1
    assert all(q["interval"] == {"1h": "60m"}.get(interval, interval) for q in asked)
    stamps = [r[0] for r in got]
    assert stamps == sorted(set(stamps)) and since <= stamps[0] and stamps[-1] < until
    step = {"1m": MIN, "5m": 5 * MIN, "1h": H}[interval]
    # one bar per step inside each session: New York 09:30..16:00 on weekdays
    days = pd.Series(pd.to_datetime(stamps, unit="ms", utc=True).tz_convert("America/New_York"))
    per_day = days.groupby(days.dt.date).size()
    assert per_day.max() == -(-390 * MIN // step) and (days.dt.day_of_week < 5).all()
    assert warnings == []


def test_yahoo_intraday_older_than_kept_is_clipped_with_a_warning(fake):
    until = now_ms()
    warnings: list[str] = []
    got = yahoo_fetch("TSLA", "1m", until - 45 * 86_400_000, until, warnings=warnings)
    assert got and got[0][0] >= until - 30 * 86_400_000
    assert any("only for the last 30 days" in w for w in warnings)


def test_yahoo_intraday_through_load_market_and_the_cache(fake, tmp_path):
    until = pd.Timestamp.now(tz="UTC").floor("D") - pd.Timedelta(days=1)
    since = until - pd.Timedelta(days=20)
    data = load_market("yahoo:BTC-USD:15m", since, until, cache_dir=tmp_path)  # crypto: round the clock
    assert len(data.candles) == 20 * 96 + 1 and data.gaps == []
    assert len(fake.state.paths("/v8/finance/chart/BTC-USD")) == 1  # 20 days fit in one 15m request
    fake.state.requests.clear()
    again = load_market("yahoo:BTC-USD:15m", since, until, cache_dir=tmp_path)
    assert again.from_cache and fake.state.requests == []


def test_yahoo_range_error_is_reported_in_its_own_words(fake, monkeypatch):
    # were pricecast to ask for more than Yahoo allows, Yahoo's own 422 message reaches the user
    unlimited = yahoo.YahooInterval("1m", timedelta(minutes=1), None, None)
    monkeypatch.setitem(yahoo.YAHOO_INTERVALS, "1m", unlimited)
    until = now_ms()
    with pytest.raises(MarketDataError, match="Yahoo refused TSLA 1m: .*Only 8 days worth of 1m granularity data"):
        yahoo_fetch("TSLA", "1m", until - 10 * 86_400_000, until)
