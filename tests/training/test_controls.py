"""The shuffled-time control: trains in real order and on time-shuffled targets, through fitting.fit."""
from __future__ import annotations

import numpy as np
import pytest

from pricecast.models.spec import ModelSpec
from pricecast.prep.windows import WindowSpec
from pricecast.specs import RunSpec, TrainSpec
from pricecast.training.controls import shuffled_time_control
from pricecast.training.fitting import NonFiniteLossError

from ..conftest import make_candles

SPEC = RunSpec(data="unused", window=WindowSpec(n=10, k=3, features=("close", "volume")), scaling="minmax",
               model=ModelSpec(arch="mlp", units=(4,), residual=True), train=TrainSpec(epochs=1, patience=0))


@pytest.mark.slow
def test_shuffled_time_control_trains_twice_and_reports():
    """Opt-in control on a series with an obvious pattern: the real order must win."""
    rows = 500
    t = np.arange(rows)
    close = 100 + 10 * np.sin(t / 4.0)
    candles = make_candles(rows)
    candles = candles.assign(close=close, open=close, high=close + 0.1, low=close - 0.1)
    spec = RunSpec(data="unused", window=WindowSpec(n=12, k=2, features=("close",)), scaling="minmax",
                   model=ModelSpec(arch="mlp", units=(16,), residual=True, learning_rate=1e-2),
                   train=TrainSpec(epochs=8, batch_size=32, patience=0, seed=3))
    finding = shuffled_time_control(spec, candles=candles)
    assert finding.code == "shuffled_time"
    assert finding.details["rmse_real"] < finding.details["rmse_shuffled"]
    assert finding.level == "ok", finding.message


def test_shuffled_time_control_stops_on_a_nan_loss_with_the_plain_message():
    """It fits through the same loop as train(): a diverging setup ends at the first bad batch."""
    spec = SPEC.replace(model=SPEC.model.replace(optimizer="sgd", learning_rate=1e30),
                        train=TrainSpec(epochs=2, patience=0))
    with pytest.raises(NonFiniteLossError, match="shuffled-time control, model in real order: training diverged"):
        shuffled_time_control(spec, candles=make_candles(300))
