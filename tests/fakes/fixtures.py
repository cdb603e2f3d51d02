"""pytest fixtures: a running fake server with every source's base URL pointed at it."""
from __future__ import annotations

from pathlib import Path

import pytest

from .server import FakeServer

SOURCES = ("BINANCE", "POLONIEX", "BITHUMB", "UPBIT", "YAHOO")


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeServer:
    server = FakeServer().start()
    for source in SOURCES:
        monkeypatch.setenv(f"PRICECAST_BASE_URL_{source}", server.url)
    monkeypatch.setenv("PRICECAST_CCXT_RATE_LIMIT_MS", "1")
    monkeypatch.setenv("PRICECAST_HTTP_BACKOFF", "0.01")
    monkeypatch.setenv("PRICECAST_HTTP_MAX_WAIT", "0.05")  # caps Retry-After waits in tests
    monkeypatch.setenv("PRICECAST_HTTP_TIMEOUT", "3")
    monkeypatch.setenv("PRICECAST_HTTP_RETRIES", "3")
    monkeypatch.setenv("PRICECAST_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PRICECAST_HOME", str(tmp_path / "home"))
    yield server
    server.stop()
