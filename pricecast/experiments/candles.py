"""An experiment's data: its candles (data reference, date range, recent-rows slice), checked once
against every distinct window setup before any trial trains.
"""
from __future__ import annotations

import pandas as pd

from pricecast.data.datasets import load_data
from pricecast.experiments.spec import ExperimentError, ExperimentSpec, apply_overrides
from pricecast.training.pipeline import prepare


def load_candles(exp: ExperimentSpec) -> pd.DataFrame:
    """The experiment's candles: its data reference, date range and recent-rows slice."""
    candles = load_data(exp.base.data, since=exp.since, until=exp.until).candles
    if exp.last_rows:
        candles = candles.iloc[-int(exp.last_rows):]
    return candles


def check_data(exp: ExperimentSpec, candles: pd.DataFrame) -> None:
    """Window and scale the data once per distinct setup (no TensorFlow): a series too short for
    the windows fails here with one message instead of in every trial."""
    seen = set()
    for v in exp.variations:
        spec = apply_overrides(exp.base, v.overrides)
        key = (spec.window, spec.scaling)
        if key in seen:
            continue
        seen.add(key)
        try:
            prepare(spec, candles)
        except ValueError as exc:
            rows = f" ({len(candles)} rows" + (f", the last {exp.last_rows}" if exp.last_rows else "") + ")"
            raise ExperimentError(f"variation '{v.label}' cannot use this data{rows}: {exc}") from exc
