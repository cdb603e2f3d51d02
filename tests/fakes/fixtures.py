"""pytest fixtures: a running fake server with every source's base URL pointed at it.

The fake replays recorded responses from ``../shared/data/api-samples``; where that folder is
absent the tests that use it skip (through the ``shared_data`` fixture).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from .recorded import SAMPLES, Recordings
from .server import SOURCES, FakeServer


@pytest.fixture
def recordings(shared_data: Path) -> Recordings:
    if not SAMPLES.is_dir():
        pytest.skip(f"recorded API responses {SAMPLES} are absent")
    return Recordings.read()


@pytest.fixture
def fake(recordings: Recordings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeServer:
    server = FakeServer(recordings).start()
    for source in SOURCES:
        monkeypatch.setenv(f"PRICECAST_BASE_URL_{source.upper()}", server.url(source))
    monkeypatch.setenv("PRICECAST_CCXT_RATE_LIMIT_MS", "1")
    monkeypatch.setenv("PRICECAST_HTTP_BACKOFF", "0.01")
    monkeypatch.setenv("PRICECAST_HTTP_MAX_WAIT", "0.05")  # caps Retry-After waits in tests
    monkeypatch.setenv("PRICECAST_HTTP_TIMEOUT", "3")
    monkeypatch.setenv("PRICECAST_HTTP_RETRIES", "3")
    monkeypatch.setenv("PRICECAST_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PRICECAST_HOME", str(tmp_path / "home"))
    yield server
    server.stop()
