"""The candle cache: incremental updates, atomic writes, corruption, offline fallback."""
from __future__ import annotations

import os

import pandas as pd
import pytest

from pricecast.data.market import MarketDataError, load_market
from pricecast.data.market import cache as cache_mod
from pricecast.data.market.cache import cache_file, read_cache
from pricecast.data.market.refs import parse_market_ref

from ..fakes.server import Fault


def test_cache_path_layout(tmp_path):
    path = cache_file(parse_market_ref("binance:BTC/USDT:1M"), tmp_path)
    assert path == tmp_path / "binance" / "BTC-USDT_1mo.parquet"


def test_second_call_fetches_only_newer_candles(fake, tmp_path):
    first = load_market("binance:BTC/USDT:1h", "2024-01-01", "2024-01-10", cache_dir=tmp_path)
    assert first.cache_file.exists() and first.fetched_rows == 9 * 24 + 1
    fake.state.requests.clear()
    second = load_market("binance:BTC/USDT:1h", "2024-01-01", "2024-01-20", cache_dir=tmp_path)
    klines = fake.state.paths("/api/v3/klines")
    assert [int(q["startTime"]) for q in klines] == [int(pd.Timestamp("2024-01-10T01:00", tz="UTC").value // 1_000_000)]
    assert second.fetched_rows == 10 * 24 and len(second.candles) == 19 * 24 + 1
    fake.state.requests.clear()
    third = load_market("binance:BTC/USDT:1h", "2024-01-02", "2024-01-05", cache_dir=tmp_path)
    assert fake.state.requests == [] and third.from_cache and len(third.candles) == 3 * 24 + 1
    assert len(read_cache(first.cache_file).frame) == 19 * 24 + 1


def test_failure_in_the_middle_of_a_write_keeps_the_old_cache(fake, tmp_path, monkeypatch):
    load_market("binance:BTC/USDT:1h", "2024-01-01", "2024-01-03", cache_dir=tmp_path)
    path = cache_file(parse_market_ref("binance:BTC/USDT:1h"), tmp_path)
    before = path.read_bytes()

    def half_write(frame, tmp):
        tmp.write_bytes(b"PAR1" + b"\0" * 100)  # part of a file, then the crash
        raise OSError("disk full")

    monkeypatch.setattr(cache_mod, "_write_parquet", half_write)
    with pytest.raises(OSError, match="disk full"):
        load_market("binance:BTC/USDT:1h", "2024-01-01", "2024-01-06", cache_dir=tmp_path)
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left behind
    assert len(read_cache(path).frame) == 2 * 24 + 1


def test_corrupt_cache_is_reported_and_rebuilt(fake, tmp_path):
    path = cache_file(parse_market_ref("poloniex:BTC/USDT:1h"), tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not parquet")
    data = load_market("poloniex:BTC/USDT:1h", "2024-01-01", "2024-01-02", cache_dir=tmp_path)
    assert len(data.candles) == 25
    assert any("unreadable" in w and "rebuilding" in w for w in data.warnings)
    assert read_cache(path).problem is None and len(read_cache(path).frame) == 25


def test_a_damaged_cache_is_named_not_reported_as_nothing_cached(fake, tmp_path):
    path = cache_file(parse_market_ref("poloniex:BTC/USDT:1h"), tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"PAR1 cut short")
    with pytest.raises(MarketDataError) as err:
        load_market("poloniex:BTC/USDT:1h", offline=True, cache_dir=tmp_path)
    assert "is damaged" in str(err.value) and "set aside as BTC-USDT_1h.parquet.unreadable" in str(err.value)
    assert (path.parent / "BTC-USDT_1h.parquet.unreadable").read_bytes() == b"PAR1 cut short"


def test_offline_fallback_with_age_warning(fake, tmp_path):
    load_market("bithumb:BTC/KRW:1h", "2024-01-01", "2024-01-02", cache_dir=tmp_path)
    path = cache_file(parse_market_ref("bithumb:BTC/KRW:1h"), tmp_path)
    three_hours_ago = path.stat().st_mtime - 3 * 3600
    os.utime(path, (three_hours_ago, three_hours_ago))
    fake.stop()  # the network is gone
    data = load_market("bithumb:BTC/KRW:1h", "2024-01-01", cache_dir=tmp_path)
    assert len(data.candles) == 25 and data.from_cache
    assert any(w.startswith("no network: using 25 cached candles, last updated 3 h ago") for w in data.warnings)
    assert 3 * 3600 - 60 < data.cache_age.total_seconds() < 3 * 3600 + 60
    offline = load_market("bithumb:BTC/KRW:1h", offline=True, cache_dir=tmp_path)
    assert len(offline.candles) == 25 and "offline: using 25 cached candles" in offline.warnings[0]
    with pytest.raises(MarketDataError, match="no network and nothing cached for bithumb:ETH/KRW:1h"):
        load_market("bithumb:ETH/KRW:1h", "2024-01-01", cache_dir=tmp_path)
    with pytest.raises(MarketDataError, match="offline and nothing cached"):
        load_market("yahoo:TSLA:1d", offline=True, cache_dir=tmp_path)


def test_partial_download_is_kept_when_the_network_drops(fake, tmp_path):
    # first page fine, then the server fails for good
    original = fake.state.take_fault
    calls = {"n": 0}

    def take(path):
        if path == "/api/v3/klines":
            calls["n"] += 1
            if calls["n"] > 1:
                return Fault(503, {}, '{"code":-1001,"msg":"Internal error."}')
        return original(path)

    fake.state.take_fault = take
    data = load_market("binance:BTC/USDT:1m", "2024-01-01", "2024-01-02", cache_dir=tmp_path)
    assert len(data.candles) == 1000 and data.fetched_rows == 1000
    assert any(w.startswith("binance is temporarily unavailable (HTTP 503): using 1000 cached candles")
               for w in data.warnings)


def test_default_cache_dir_comes_from_paths(fake, tmp_path, monkeypatch):
    monkeypatch.setenv("PRICECAST_CACHE_DIR", str(tmp_path / "elsewhere"))
    data = load_market("yahoo:AAPL:1d", "2020-09-01", "2020-09-30")
    assert data.cache_file.is_relative_to(tmp_path / "elsewhere")
