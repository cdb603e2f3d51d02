"""Plotly figures for a walk-forward backtest (no Streamlit here: the dashboard and notebooks share them).

- :func:`fold_error_figure`: model vs baselines error per fold, in time order;
- :func:`horizon_error_figure`: error by horizon step 1..K, model vs persistence;
- :func:`interval_figure`: actual vs predicted at one horizon step with the interval band;
- :func:`residual_figure`: residual histogram and autocorrelation with ±1.96/√n bounds.
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from pricecast.backtest.result import BacktestResult, pct
from pricecast.evaluation.metrics import skill_text
from pricecast.plots import palette
from pricecast.plots.palette import color

NAMES = {"model": "Model", "persistence": "Persistence (tomorrow = today)", "drift": "Drift",
         "moving_average": "Moving average"}


def fold_error_figure(result: BacktestResult, metric: str = "rmse",
                      baselines: tuple[str, ...] = ("persistence", "drift")) -> go.Figure:
    """Grouped bars: the model's and the baselines' error on each fold (x = the fold's test period)."""
    rows = result.fold_rows()
    labels = [f"Fold {r['fold']}<br>{r['test_from']} → {r['test_to']}" for r in rows]
    fig = go.Figure()
    for name in ("model", *baselines):
        values = [f.report[name][metric] for f in result.folds]
        hover = [f"skill vs persistence {skill_text(f.report['skill'], short=True)}" if name == "model" else "" for f in result.folds]
        fig.add_bar(x=labels, y=values, name=NAMES[name], marker_color=color(name), hovertext=hover)
    fig.update_layout(barmode="group", title=f"{metric.upper()} by fold (walk-forward, oldest first)",
                      yaxis_title=metric.upper() + (" (price units)" if metric in ("rmse", "mae") else ""),
                      legend=dict(orientation="h", y=-0.25), margin=dict(t=50, b=10))
    return fig


def horizon_error_figure(result: BacktestResult, metric: str = "rmse",
                         baselines: tuple[str, ...] = ("persistence",)) -> go.Figure:
    """Lines: error at each horizon step k = 1..K, all folds together."""
    h = result.by_horizon
    fig = go.Figure()
    for name in ("model", *baselines):
        fig.add_scatter(x=h["step"], y=h[f"{name}_{metric}"], mode="lines+markers", name=NAMES[name],
                        line=dict(color=color(name), dash="solid" if name == "model" else "dash"))
    fig.update_layout(title=f"{metric.upper()} by horizon step", xaxis_title="steps ahead (k)",
                      yaxis_title=metric.upper(), xaxis=dict(dtick=1), legend=dict(orientation="h", y=-0.25),
                      margin=dict(t=50, b=10))
    return fig


def interval_figure(result: BacktestResult, method: str = "conformal", level: float | None = None,
                    step: int = 1) -> go.Figure:
    """Actual vs predicted ``step`` steps ahead over all test folds, with the ``level`` band."""
    level = level if level is not None else result.bt.levels[0]
    df = result.predictions()
    fig = go.Figure()
    if df.empty:
        return fig
    df = df[df["step"] == step].sort_values("time")
    lo, hi = f"{method}_{pct(level)}_lo", f"{method}_{pct(level)}_hi"
    if lo in df:
        for fold, part in df.groupby("fold"):
            # One band per fold, so the fill never bridges the gap between two folds' calibrations.
            fig.add_scatter(x=part["time"], y=part[hi], mode="lines", line=dict(width=0), showlegend=False,
                            hoverinfo="skip")
            fig.add_scatter(x=part["time"], y=part[lo], mode="lines", line=dict(width=0), fill="tonexty",
                            fillcolor=palette.BAND, name=f"{level:.0%} band", showlegend=bool(fold == df["fold"].min()),
                            hoverinfo="skip")
    # The model under the actual prices (wider, half transparent), so it never hides them.
    fig.add_scatter(x=df["time"], y=df["predicted"], mode="lines", name=f"Predicted ({step} step ahead)",
                    line=dict(color=color("model"), width=2.5), opacity=0.65, legendrank=2)
    fig.add_scatter(x=df["time"], y=df["actual"], mode="lines", name="Actual", line=dict(color=color("actual"), width=1.2),
                    legendrank=1)
    for f in result.folds[1:]:
        fig.add_vline(x=result.times[f.plan.test[0]], line=dict(color="#bbbbbb", dash="dot", width=1))
    cov = result.intervals.get(method, {}).get(level)
    title = f"Actual vs predicted, {step} step(s) ahead"
    if cov:
        per_step = cov["per_step"][step - 1] if len(cov["per_step"]) >= step else cov["coverage"]
        title += f" — {level:.0%} band covered {per_step:.0%} of these points ({cov['coverage']:.0%} over all steps)"
    fig.update_layout(title=title, yaxis_title="price", legend=dict(orientation="h", y=-0.2), margin=dict(t=50, b=10))
    return fig


def residual_figure(result: BacktestResult) -> go.Figure:
    """Histogram of test residuals (step 1) beside their autocorrelation at lags 1..20."""
    d = result.diagnostics
    hist, acf = d.get("histogram", {}), d.get("acf", {})
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Residuals (actual − predicted)", "Autocorrelation of residuals"))
    if hist.get("counts"):
        edges = np.asarray(hist["edges"])
        fig.add_bar(x=(edges[:-1] + edges[1:]) / 2, y=hist["counts"], width=np.diff(edges), name="residuals",
                    marker_color=color("model"), showlegend=False, row=1, col=1)
    if acf.get("lags"):
        outside = set(acf["outside"])
        fig.add_bar(x=acf["lags"], y=acf["acf"], name="ACF", showlegend=False, row=1, col=2,
                    marker_color=[palette.OUTSIDE if lag in outside else color("persistence") for lag in acf["lags"]])
        for sign in (1, -1):
            fig.add_hline(y=sign * acf["bound"], line=dict(color=palette.OUTSIDE, dash="dash", width=1), row=1, col=2)
    fig.update_xaxes(title_text="price units", row=1, col=1)
    fig.update_xaxes(title_text="lag (windows)", dtick=2, row=1, col=2)
    fig.update_layout(title=f"Residual diagnostics, {d.get('step', 1)} step ahead", margin=dict(t=60, b=10), bargap=0.05)
    return fig
