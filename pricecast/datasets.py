"""One way to name data everywhere (CLI, library, dashboard) and to load it.

- ``sample:AAPL``: a bundled series (see :mod:`pricecast.samples`)
- a path to a CSV file (``*.csv`` / ``*.csv.gz``)
- ``EXCHANGE:SYMBOL:TIMEFRAME`` such as ``binance:BTC/USDT:1h`` or ``yahoo:TSLA:1d`` (cached locally)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .candles import CandleError
from .samples import CATALOGUE, load_sample


@dataclass
class LoadedData:
    """Candles plus what a person should know about where they came from."""

    ref: str
    candles: pd.DataFrame
    warnings: list[str] = field(default_factory=list)
    cache_file: str | None = None


def kind_of(ref: str) -> str:
    """'sample', 'csv' or 'market' for a data reference."""
    if ref.lower().startswith("sample:"):
        return "sample"
    lowered = ref.lower()
    if lowered.endswith((".csv", ".csv.gz", ".txt")) or Path(ref).exists():
        return "csv"
    if ref.count(":") >= 1 and not Path(ref).drive:
        return "market"
    raise CandleError(
        f"don't know how to load '{ref}': use sample:NAME ({', '.join(CATALOGUE)}), a CSV path, "
        "or EXCHANGE:SYMBOL:TIMEFRAME such as binance:BTC/USDT:1h"
    )


def display_name(ref: str) -> str:
    """How a person sees ``ref``: a CSV by its file name (never the server's full path), others as written."""
    try:
        return Path(ref).name if kind_of(ref) == "csv" else ref
    except CandleError:
        return ref


def load_data(ref: str, since: str | None = None, until: str | None = None, offline: bool = False) -> LoadedData:
    """Load the candles ``ref`` names. Raises :class:`CandleError` with a plain message."""
    ref = ref.strip()
    kind = kind_of(ref)
    if kind == "sample":
        frame = load_sample(ref.split(":", 1)[1])
        return LoadedData(ref, _clip(frame, since, until))
    if kind == "csv":
        from .csv_import import read_candles_csv

        path = Path(ref).expanduser()
        if not path.exists():
            raise CandleError(f"CSV file not found: {path}")
        return LoadedData(ref, _clip(read_candles_csv(path), since, until))
    from .market import load_market

    result = load_market(ref, since=since, until=until, offline=offline)
    return LoadedData(ref, result.candles, list(result.warnings), str(result.cache_file))


def _clip(frame: pd.DataFrame, since: str | None, until: str | None) -> pd.DataFrame:
    if since:
        frame = frame[frame.index >= pd.Timestamp(since, tz="UTC")]
    if until:
        frame = frame[frame.index <= pd.Timestamp(until, tz="UTC")]
    if frame.empty:
        raise CandleError(f"no candles between {since or 'the start'} and {until or 'the end'}")
    return frame
