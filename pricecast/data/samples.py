"""The bundled real series, so the app and the CLI work offline on a fresh machine."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pricecast.data.candles import CandleError, validate_candles

SAMPLE_DIR = Path(__file__).parent / "sample_data"


@dataclass(frozen=True)
class Sample:
    name: str
    title: str
    timeframe: str
    file: str

    @property
    def ref(self) -> str:
        return f"sample:{self.name}"


CATALOGUE: dict[str, Sample] = {
    s.name: s
    for s in (
        Sample("AAPL", "Apple Inc. daily, split-adjusted, 2000-2013", "1d", "AAPL.csv.gz"),
        Sample("MSFT", "Microsoft daily, split-adjusted, 2000-2013", "1d", "MSFT.csv.gz"),
        Sample("IBM", "IBM daily, adjusted, 2000-2013", "1d", "IBM.csv.gz"),
        Sample("GOOG", "Google daily, adjusted, 2004-2013", "1d", "GOOG.csv.gz"),
        Sample("BTC-USD-5M", "Bitcoin/USD 5-minute, Bitstamp, 2016-01-01..01-27", "5m", "BTC-USD-5M.csv.gz"),
        Sample("BTC-USD-1H", "Bitcoin/USD hourly, Coinbase, 2017-11-12..2019-10-17", "1h", "BTC-USD-1H.csv.gz"),
        Sample("TSLA", "Tesla daily, split-adjusted, 2010-06-29..2023-08-11 (Yahoo)", "1d", "TSLA.csv.gz"),
    )
}


def load_sample(name: str) -> pd.DataFrame:
    """The bundled series ``name`` (case-insensitive) as a candle frame."""
    sample = CATALOGUE.get(name.upper())
    if sample is None:
        raise CandleError(f"unknown bundled series '{name}'; choose one of {', '.join(CATALOGUE)}")
    table = pd.read_csv(SAMPLE_DIR / sample.file, parse_dates=["time"], index_col="time")
    return validate_candles(table, sample.ref)
