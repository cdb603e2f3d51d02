"""A backtest with its optional shuffled-time control, the one way the CLI and the dashboard's job
run both (the control trains with the same epochs as the backtest's models)."""
from __future__ import annotations

import threading
from dataclasses import dataclass, replace

import pandas as pd

from pricecast.backtest.result import BacktestResult
from pricecast.backtest.spec import BacktestSpec
from pricecast.backtest.walkforward import run_backtest
from pricecast.evaluation.leakage import Finding
from pricecast.events import Listener, Progress
from pricecast.specs import RunSpec
from pricecast.training.controls import shuffled_time_control


@dataclass(frozen=True)
class BacktestOutcome:
    result: BacktestResult
    shuffled: Finding | None = None  # when the shuffled-time control ran

    @property
    def findings(self) -> list[Finding]:
        """The backtest's look-ahead checks, then the control's verdict."""
        return [*self.result.findings, *([self.shuffled] if self.shuffled is not None else [])]


def backtest_with_control(spec: RunSpec, bt: BacktestSpec, shuffled: bool = False,
                          candles: pd.DataFrame | None = None, progress: Listener | None = None,
                          stop: threading.Event | None = None, use_cache: bool = True) -> BacktestOutcome:
    """``run_backtest``, then (``shuffled``, unless stopped) the shuffled-time control on the ordinary
    split with the backtest's epochs. ``progress`` hears the backtest's events, then one
    :class:`~pricecast.events.Progress` before the control trains."""
    result = run_backtest(spec, bt, candles=candles, progress=progress, stop=stop, use_cache=use_cache)
    if not shuffled or (stop is not None and stop.is_set()):
        return BacktestOutcome(result)
    if progress is not None:
        progress(Progress(1.0, "Shuffled-time control: training on shuffled targets"))
    epochs = bt.epochs or spec.train.epochs
    finding = shuffled_time_control(spec.replace(train=replace(spec.train, epochs=epochs)), candles=candles)
    return BacktestOutcome(result, finding)
