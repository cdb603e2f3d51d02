"""What a run can forecast, each target declared once: its name, the word pages use for it, how it is
computed from the candles, the transform its scaled values get, and the naive forecasts it must beat.

Prices (a candle's open/high/low/close) were the only target; on real data they behave almost like a
random walk, so no model beats "no change". Volume and volatility have structure (a daily cycle,
clustering) that a model can learn, and log returns are what a price forecast amounts to.

Every target is computed without look-ahead: its value at row t reads rows <= t only (the same
functions as the derived input features, :mod:`pricecast.prep.features`). Forecasting K steps of the
``range`` target is forecasting the high-low range (volatility) of each of the next K candles.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pricecast.prep.features import column

# Naive forecasts, by name (pricecast.evaluation.baselines computes them).
PRICE_BASELINES: tuple[str, ...] = ("persistence", "drift", "moving_average")


@dataclass(frozen=True)
class Target:
    """One forecastable series.

    ``transform`` is applied to the target (and to the same column among the inputs) before the
    scaler's statistics are fitted on the training rows: ``log1p`` for heavy-tailed series that contain
    zeros (volume: a quiet hour has none). ``baselines`` are the naive forecasts reported beside the
    model; the best of them is chosen on validation. ``floor`` is the naive forecast a run falls back to
    when no baseline is chosen (persistence for prices)."""

    name: str
    label: str  # what pages, help texts and chart titles call it ("volume", not "price")
    unit: str  # how its values read ("price units", "units traded", ...)
    help: str
    transform: str = "none"  # "none" | "log1p"
    baselines: tuple[str, ...] = PRICE_BASELINES
    is_price: bool = False

    def compute(self, candles: pd.DataFrame) -> np.ndarray:
        """The target as (rows,) float64, row t from rows <= t only."""
        return column(candles, self.name)


INTRADAY_BASELINES: tuple[str, ...] = ("persistence", "moving_average", "seasonal_day", "seasonal_week")

TARGETS: dict[str, Target] = {t.name: t for t in (
    *(Target(c, "price", "price units", f"the candles' {c} price", is_price=True) for c in ("close", "open", "high", "low")),
    Target("volume", "volume", "units traded",
           "the volume traded per candle; log1p-transformed before scaling (heavy-tailed, with zero-volume candles)",
           transform="log1p", baselines=INTRADAY_BASELINES),
    Target("range", "volatility", "share of the close",
           "volatility: each future candle's high-low range relative to its close, (high - low) / close",
           baselines=(*INTRADAY_BASELINES, "ewma")),
    Target("log_return", "log return", "log return",
           "the log return of the close per candle, log(close / previous close)",
           baselines=("zero", "persistence", "moving_average", "seasonal_day")),
)}
TARGET_CHOICES: tuple[str, ...] = tuple(TARGETS)


def get_target(name: str) -> Target:
    """The registry's entry; an unknown name gets a plain-price entry so old run folders still load."""
    return TARGETS.get(name) or Target(name, "price", "price units", f"the candles' {name}", is_price=True)


def target_label(name: str) -> str:
    """The word for a target on pages and charts: "price", "volume", "volatility", "log return"."""
    return get_target(name).label
