"""Plotly figures of a run's scores and of runs compared: the metrics table behind the Results page,
skill per horizon step, and several runs' loss curves overlaid. No Streamlit here.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from pricecast.evaluation.metrics import metrics_table
from pricecast.plots import palette
from pricecast.plots.figures import LABELS, apply_layout, thin


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
    colors = [palette.GOOD if (v or 0) > 0 else palette.BAD for v in values]
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
                             marker_color=palette.color(column), name=name,
                             text=[f"{float(h[column].dropna().iloc[-1]):.3g}" for h in shown.values()],
                             textposition="auto"))
        fig.update_yaxes(autorange="reversed", automargin=True)
        fig.update_xaxes(title_text=f"{name} after its only epoch", exponentformat="e")
        return apply_layout(fig, f"{name}, runs compared (each trained one epoch: no curves to draw)",
                       max(height // 2, 80 + 28 * len(labels)))
    for i, (label, history) in enumerate(shown.items()):
        fig.add_trace(go.Scatter(x=history["epoch"], y=history[column], name=label, mode="lines+markers",
                                 marker=dict(size=7), line=dict(width=2, color=palette.cycle(i))))
    positive = values[values > 0]
    log = len(positive) == len(values) and len(positive) > 0 and positive.max() / positive.min() > 30
    fig.update_xaxes(title_text="epoch", tick0=1, dtick=1 if len(values) and max(len(h) for h in shown.values()) <= 15 else None)
    fig.update_yaxes(type="log" if log else "linear", exponentformat="e")
    return apply_layout(fig, f"{name} per epoch, runs compared" + (" (log scale)" if log else ""), height, "loss")


# Networks that learned little lie on one another: a dash each keeps the lower one in sight.
COMPARE_DASHES = ("solid", "dash", "dot", "dashdot")


def compare_forecasts_figure(forecasts: Mapping[str, pd.DataFrame], step: int = 1, height: int = 440,
                             target: str = "price") -> go.Figure:
    """Several runs' networks' test forecasts ``step`` steps ahead overlaid on the actual values
    (``forecasts``: label -> :func:`pricecast.compare.network_forecasts` frame). Runs whose actual values
    differ (other data or target) each get their own dotted actual line, named, rather than one shared."""
    at_step = {label: f[f["step"] == step].sort_values("time") for label, f in forecasts.items()}
    at_step = {label: f for label, f in at_step.items() if len(f)}
    fig = go.Figure()
    actuals = {label: f.set_index("time")["actual"] for label, f in at_step.items()}
    first = next(iter(actuals.values()), None)
    one_actual = first is not None and all(
        np.allclose(*a.align(first, join="inner"), rtol=1e-9) for a in actuals.values())
    if one_actual:
        merged = pd.concat(actuals.values()).groupby(level=0).first().sort_index()
        x, y = thin(merged.index, merged.to_numpy())
        fig.add_trace(go.Scatter(x=x, y=y, name="actual", mode="lines", line=dict(color=palette.color("actual"), width=1.5),
                                 opacity=0.5))
    for i, (label, f) in enumerate(at_step.items()):
        color = palette.cycle(i)
        if not one_actual:
            x, y = thin(f["time"], f["actual"])
            fig.add_trace(go.Scatter(x=x, y=y, name=f"actual ({label})", mode="lines",
                                     line=dict(color=color, width=1.5, dash="dot")))
        x, y = thin(f["time"], f["forecast"])
        fig.add_trace(go.Scatter(x=x, y=y, name=f"network: {label}", mode="lines", opacity=0.85,
                                 line=dict(color=color, width=2, dash=COMPARE_DASHES[i % len(COMPARE_DASHES)])))
    fig.update_xaxes(title_text="time (UTC)")
    ahead = f"{step} step{'s' if step != 1 else ''} ahead"
    title = f"Test part: actual vs each run's network, {ahead}"
    if not one_actual and at_step:
        title += " (the runs forecast different values: each has its own actual line)"
    return apply_layout(fig, title, height, target)
