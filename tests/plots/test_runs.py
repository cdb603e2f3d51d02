"""A run's scores and runs compared: the metrics table, skill per step, loss curves overlaid."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from pricecast.evaluation.metrics import evaluate
from pricecast.plots import runs


def test_metrics_frame_and_skill_figure():
    rng = np.random.default_rng(1)
    history = 100 + rng.normal(size=(50, 10)).cumsum(axis=1)
    actual = history[:, -1:] + rng.normal(size=(50, 3))
    report = evaluate(actual, actual + 0.1, history)
    frame = runs.metrics_frame(report)
    assert list(frame.index) == ["model", "persistence (last value)", "drift", "moving average"]
    assert frame.loc["persistence (last value)", "skill_vs_persistence"] == pytest.approx(0.0)
    assert len(runs.skill_per_step_figure(report).data[0].x) == 3


def test_runs_overlay():
    history = pd.DataFrame({"epoch": [1, 2], "loss": [2.0, 1.0], "val_loss": [3.0, 2.0]})
    fig = runs.runs_loss_figure({"a": history, "b": history, "broken": None})
    assert [t.name for t in fig.data] == ["a", "b"]
    assert fig.layout.yaxis.type == "linear"  # losses within 30x of each other: no log axis


def test_runs_overlay_of_one_epoch_runs_is_bars_not_dots():
    one = {"run a": pd.DataFrame({"epoch": [1], "val_loss": [0.002]}),
           "run b": pd.DataFrame({"epoch": [1], "val_loss": [0.003]})}
    fig = runs.runs_loss_figure(one)
    assert len(fig.data) == 1 and isinstance(fig.data[0], go.Bar) and list(fig.data[0].y) == ["run a", "run b"]
    wide = {"a": pd.DataFrame({"epoch": [1, 2], "val_loss": [1.0, 0.5]}),
            "b": pd.DataFrame({"epoch": [1, 2], "val_loss": [0.01, 0.005]})}
    assert runs.runs_loss_figure(wide).layout.yaxis.type == "log"  # 200x apart: log helps
