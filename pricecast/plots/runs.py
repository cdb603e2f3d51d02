"""Plotly figures of a run's scores and of runs compared: the metrics table behind the Results page,
skill per horizon step, and several runs' loss curves overlaid. No Streamlit here.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from pricecast.evaluation.metrics import metrics_table
from pricecast.plots.figures import COLORS, LABELS, apply_layout


def metrics_frame(report: Mapping) -> pd.DataFrame:
    """One row per forecaster (the network and the baselines) with RMSE, MAE, MAPE, direction (as text:
    "n/a" for a forecast that never moves, such as persistence), skill and whether the run uses it; the
    naive baseline chosen on validation is marked."""
    frame = pd.DataFrame(metrics_table(dict(report), LABELS))
    frame["direction"] = [direction_text(v) for v in frame["direction"]]
    return frame.set_index("forecaster")


def direction_text(value) -> str:
    """A direction hit rate as ``53.2%``; ``n/a`` where there is none (the forecast never moves)."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return "n/a"
    return f"{value:.1%}" if np.isfinite(value) else "n/a"


def skill_per_step_figure(report: Mapping, height: int = 300) -> go.Figure:
    """Skill versus persistence per horizon step (above 0: the model beats persistence)."""
    values = list(report.get("skill_per_step") or [])
    steps = list(range(1, len(values) + 1))
    colors = [COLORS["moving_average"] if (v or 0) > 0 else COLORS["predicted"] for v in values]
    fig = go.Figure(go.Bar(x=steps, y=values, marker_color=colors, name="skill"))
    fig.add_hline(y=0, line_color="#555", line_width=1)
    fig.update_xaxes(title_text="steps ahead", dtick=1)
    fig.update_yaxes(tickformat=".1%")
    return apply_layout(fig, "Skill versus persistence per step (above 0 = better than 'no change')", height)


def runs_loss_figure(histories: Mapping[str, pd.DataFrame], column: str = "val_loss", height: int = 420) -> go.Figure:
    """Loss curves of several runs overlaid (``column``: ``val_loss`` or ``loss``). Runs of one epoch
    have no curve: when no run has two, their losses are compared as bars. The axis turns
    logarithmic only when the losses span more than 30x (else a linear axis reads more easily)."""
    shown = {label: h for label, h in histories.items()
             if h is not None and column in h and h[column].notna().any()}
    fig = go.Figure()
    name = LABELS.get(column, column)
    values = np.concatenate([h[column].dropna().to_numpy(dtype=float) for h in shown.values()]) if shown else np.array([])
    if shown and max(int(h[column].notna().sum()) for h in shown.values()) < 2:
        labels = list(shown)
        fig.add_trace(go.Bar(x=[float(h[column].dropna().iloc[-1]) for h in shown.values()], y=labels, orientation="h",
                             marker_color=COLORS[column] if column in COLORS else None, name=name,
                             text=[f"{float(h[column].dropna().iloc[-1]):.3g}" for h in shown.values()],
                             textposition="auto"))
        fig.update_yaxes(autorange="reversed", automargin=True)
        fig.update_xaxes(title_text=f"{name} after its only epoch", exponentformat="e")
        return apply_layout(fig, f"{name}, runs compared (each trained one epoch: no curves to draw)",
                       max(height // 2, 80 + 28 * len(labels)))
    for label, history in shown.items():
        fig.add_trace(go.Scatter(x=history["epoch"], y=history[column], name=label, mode="lines+markers",
                                 marker=dict(size=7), line=dict(width=2)))
    positive = values[values > 0]
    log = len(positive) == len(values) and len(positive) > 0 and positive.max() / positive.min() > 30
    fig.update_xaxes(title_text="epoch", tick0=1, dtick=1 if len(values) and max(len(h) for h in shown.values()) <= 15 else None)
    fig.update_yaxes(type="log" if log else "linear", exponentformat="e")
    return apply_layout(fig, f"{name} per epoch, runs compared" + (" (log scale)" if log else ""), height, "loss")
