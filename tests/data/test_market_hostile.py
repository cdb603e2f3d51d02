"""Issue 27, items 2 and 3: a source that trickles its answer, and redirects to another host.

Against the local fake server: a trickled answer is the real one sent a byte at a time, a redirect
points at the same server under another name (localhost instead of 127.0.0.1), so without the
checks both fetches would succeed, slowly or silently.
"""
from __future__ import annotations

import pytest

from pricecast.data.market import MarketDataError, load_market
from pricecast.data.market.errors import SourceUnavailableError

from ..fakes.server import Fault


@pytest.mark.parametrize("ref,path", [("yahoo:AAPL:1d", "/v8/finance/chart"), ("binance:ETH/USDT:1h", "/api/v3/klines")])
def test_a_trickling_source_is_given_up_as_too_slow(fake, monkeypatch, ref, path):
    # a byte every 0.2 s: each read is quick (the per-read timeout never fires), the answer takes minutes
    monkeypatch.setenv("PRICECAST_HTTP_DEADLINE", "0.5")
    fake.state.inject(path, Fault(trickle=0.2), times=5)
    with pytest.raises(SourceUnavailableError, match=r"is too slow: no complete answer within 0.5 s") as err:
        load_market(ref, "2020-09-01" if ref.startswith("yahoo") else "2024-01-01",
                    "2020-09-30" if ref.startswith("yahoo") else "2024-01-02")
    assert "nothing cached" in str(err.value)


def test_one_deadline_for_the_whole_fetch(fake, monkeypatch):
    monkeypatch.setenv("PRICECAST_FETCH_DEADLINE", "0.3")
    fake.state.inject("/v8/finance/chart", Fault(delay=1.0))
    with pytest.raises(SourceUnavailableError, match=r"yahoo is too slow: the fetch took over 0.3 s"):
        load_market("yahoo:AAPL:1d", "2020-09-01", "2020-09-30")


def test_a_trickling_source_falls_back_to_the_cache(fake, monkeypatch):
    first = load_market("yahoo:AAPL:1d", "2020-09-01", "2020-09-30")
    monkeypatch.setenv("PRICECAST_HTTP_DEADLINE", "0.5")
    fake.state.inject("/v8/finance/chart", Fault(trickle=0.2), times=5)
    again = load_market("yahoo:AAPL:1d", "2020-09-01", "2020-11-30")
    assert len(again.candles) == len(first.candles)
    assert any(w.startswith("yahoo is too slow") and "using 21 cached candles" in w for w in again.warnings)


@pytest.mark.parametrize("ref,path", [("yahoo:AAPL:1d", "/v8/finance/chart"), ("binance:ETH/USDT:1h", "/api/v3/klines")])
def test_a_redirect_to_another_host_is_refused_naming_it(fake, ref, path):
    other = fake.root.replace("127.0.0.1", "localhost").split("//", 1)[1]
    fake.state.inject(path, Fault(redirect_host=other))
    with pytest.raises(MarketDataError, match=f"redirected to another host \\({other}\\); refused"):
        load_market(ref, "2020-09-01" if ref.startswith("yahoo") else "2024-01-01",
                    "2020-09-30" if ref.startswith("yahoo") else "2024-01-02")
    assert not [r for r in fake.state.requests if r.path.startswith(path)][1:]  # never followed there
