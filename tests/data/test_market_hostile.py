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


def test_yahoo_keeps_the_pages_fetched_before_the_source_became_too_slow(monkeypatch):
    from pricecast.data.market import yahoo
    from pricecast.data.market.http import HttpClient, HttpResult

    now_ms = 1_700_000_000_000
    day = 86_400_000
    calls = []

    def get_json(self, url, params=None):
        calls.append(params)
        if len(calls) > 1:
            raise SourceUnavailableError("yahoo is too slow: the fetch took over 1 s", reason="too slow")
        start = params["period1"]
        bars = list(range(start, start + 600, 60))
        quote = {k: [100.0] * len(bars) for k in ("open", "high", "low", "close", "volume")}
        return HttpResult(200, {"chart": {"result": [{"meta": {}, "timestamp": bars,
                                                      "indicators": {"quote": [quote]}}], "error": None}}, {})

    monkeypatch.setattr(HttpClient, "get_json", get_json)
    with pytest.raises(SourceUnavailableError) as err:
        yahoo.fetch_candles("AAPL", "1m", now_ms - 20 * day, now_ms, now_ms=now_ms)
    assert len(calls) == 2 and len(err.value.partial) == 10  # the first page's ten minutes
