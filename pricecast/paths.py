"""Where pricecast keeps its files: one home folder, overridable for tests and deployments."""
from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    """``$PRICECAST_HOME`` or ``~/.pricecast``; created on first use."""
    root = Path(os.environ.get("PRICECAST_HOME") or Path.home() / ".pricecast").expanduser()
    root.mkdir(parents=True, exist_ok=True)
    return root


def cache_dir() -> Path:
    """Candle cache: ``$PRICECAST_CACHE_DIR`` or ``<home>/cache``."""
    path = Path(os.environ.get("PRICECAST_CACHE_DIR") or home() / "cache").expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def runs_dir() -> Path:
    """Run folders: ``$PRICECAST_RUNS_DIR`` or ``<home>/runs``."""
    path = Path(os.environ.get("PRICECAST_RUNS_DIR") or home() / "runs").expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def experiments_dir() -> Path:
    """Experiments (each with its trials' run folders): ``<home>/experiments``."""
    path = home() / "experiments"
    path.mkdir(parents=True, exist_ok=True)
    return path
