"""Shared fixtures. Every test gets its own PRICECAST_HOME so runs and caches never touch ~."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# The local fake exchange / Yahoo server (`fake`, `recordings`) for every test module.
pytest_plugins = ["tests.fakes.fixtures"]

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def pricecast_home(tmp_path_factory, monkeypatch) -> Path:
    home = tmp_path_factory.mktemp("pricecast_home")
    monkeypatch.setenv("PRICECAST_HOME", str(home))
    monkeypatch.delenv("PRICECAST_RUNS_DIR", raising=False)
    monkeypatch.delenv("PRICECAST_CACHE_DIR", raising=False)
    return home


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent")
    return SHARED_DATA


def make_candles(rows: int = 300, freq: str = "1h", seed: int = 0, start: str = "2024-01-01") -> pd.DataFrame:
    """A random-walk candle frame for tests that need no real data."""
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, rows)))
    open_ = np.concatenate([[close[0]], close[:-1]])
    high = np.maximum(open_, close) * 1.002
    low = np.minimum(open_, close) * 0.998
    index = pd.date_range(start, periods=rows, freq=freq, tz="UTC", name="time")
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close,
                         "volume": rng.uniform(1, 10, rows)}, index=index)
