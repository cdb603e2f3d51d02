"""DataRef: a data reference taken apart and spelled back one way (what the Data page builds refs with)."""
from __future__ import annotations

import pytest

from pricecast.data.candles import CandleError
from pricecast.data.datasets import DataRef, kind_of


@pytest.mark.parametrize("ref, kind, source", [
    ("sample:AAPL", "sample", "sample"),
    ("binance:BTC/USDT:1h", "market", "exchange"),
    ("yahoo:TSLA:1d", "market", "yahoo"),
    ("csv:MINE:1d", "market", "csv"),  # stored with `pricecast data import --store MINE`
    ("synthetic:pattern?noise=0.5", "synthetic", "synthetic"),
    ("prices.csv", "csv", "csv"),
])
def test_kind_and_source(ref, kind, source):
    parsed = DataRef.parse(ref)
    assert (parsed.kind, parsed.source) == (kind, source)
    assert kind_of(ref) == kind


@pytest.mark.parametrize("ref", [
    "sample:AAPL", "sample:BTC-USD-5M#clean", "binance:BTC/USDT:1h", "synthetic:pattern?noise=0.5#clean",
    "my.csv#columns=time=Datum,close=Schluss", "my.csv#columns=time=Datum,close=Schluss#clean",
])
def test_round_trip(ref):
    assert str(DataRef.parse(ref)) == ref


def test_parts_and_marks():
    parsed = DataRef.parse(" my.csv#columns=close=Schluss,time=Datum#clean ")
    assert parsed.body == "my.csv" and parsed.clean and dict(parsed.columns) == {"time": "Datum", "close": "Schluss"}
    assert str(parsed.with_clean(False)) == "my.csv#columns=time=Datum,close=Schluss"  # roles in their usual order
    assert DataRef.parse("sample:aapl#clean").sample_name == "AAPL"
    assert DataRef.parse("binance:BTC/USDT:1h").sample_name is None
    market = DataRef.parse("binance:btc/usdt:4h#clean").market_parts()
    assert (market.source, market.symbol, market.timeframe) == ("binance", "BTC/USDT", "4h")


def test_built_refs_are_the_spellings_the_loaders_read():
    assert str(DataRef.sample("aapl")) == "sample:AAPL"
    assert str(DataRef.market("binance", "BTC/USDT", "1h")) == "binance:BTC/USDT:1h"
    assert str(DataRef.market("yahoo", "TSLA", "1d").with_clean(True)) == "yahoo:TSLA:1d#clean"
    assert str(DataRef.synthetic({"noise": 0.5})) == "synthetic:pattern?noise=0.5"
    assert str(DataRef.file("/data/x.csv", {"time": "T", "close": "C"})) == "/data/x.csv#columns=time=T,close=C"
    assert str(DataRef.file("/data/x.csv")) == "/data/x.csv"


def test_a_reference_naming_nothing_says_what_would_work():
    with pytest.raises(CandleError, match="sample:NAME"):
        _ = DataRef.parse("nothing-here").kind
    with pytest.raises(ValueError):
        DataRef.parse("nonsense").market_parts()  # not SOURCE:SYMBOL[:TIMEFRAME]


def test_a_column_mapping_replaces_the_one_a_reference_had_and_clean_stays_last():
    ref = DataRef.parse("my.csv#columns=time=A#clean").with_columns("time=Datum,close=Schluss")
    assert str(ref) == "my.csv#columns=time=Datum,close=Schluss#clean"
    assert DataRef.parse("sample:AAPL").with_columns(None) == DataRef.parse("sample:AAPL")
