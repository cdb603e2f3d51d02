"""Plotly figures for experiments: every trial's score per setting (the seed's box plot), and every trial's loss curves.
No Streamlit here."""
from __future__ import annotations

import textwrap
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from pricecast.experiments.stats import histories
from pricecast.plots import palette

METRIC_TITLES = {
    "test_rmse": "test RMSE (price units, lower is better)",
    "skill": "skill vs persistence (above 0 beats it)",
    "ratio": "test RMSE / persistence RMSE (below 1 beats it)",
    "best_val_loss": "best validation loss (scaled units)",
    "test_mae": "test MAE (price units)",
    "train_seconds": "training time (s)",
}


def _labels(frame: pd.DataFrame, order: Sequence[str] | None) -> list[str]:
    present = list(dict.fromkeys(frame["label"].tolist()))
    if order is None:
        return present
    return [label for label in order if label in present] + [label for label in present if label not in order]


def spread_figure(frame: pd.DataFrame, metric: str = "test_rmse", order: Sequence[str] | None = None,
                  title: str = "", height: int = 460) -> go.Figure:
    """Every trial as a dot per setting, the setting's median as a bar and its mean ± standard deviation as
    a diamond with whiskers: the seed's ``results.boxplot()``, drawn with scatter traces only (the
    dashboard's chart bundle has no box trace, and with 2-5 repeats a box has little to show).
    Test RMSE gets the persistence forecast's RMSE as a dashed line, RMSE / persistence the line at 1,
    skill the zero line: each setting against persistence. Each trace's ``meta`` says what it is:
    "trials", "median" or "mean"."""
    ok = frame[frame["status"] == "ok"] if "status" in frame else frame
    labels = _labels(ok, order)
    seeds = {"repeat", "seed"} <= set(ok)
    fig = go.Figure()
    for i, label in enumerate(labels):
        part = ok[ok["label"] == label]
        color = palette.cycle(i)
        fig.add_trace(go.Scatter(
            x=i + _jitter(len(part)), y=part[metric], mode="markers", name=str(label), meta="trials",
            marker={"color": color, "size": 7, "opacity": 0.8},
            customdata=part[["repeat", "seed"]].to_numpy() if seeds else None,
            hovertemplate=f"{label}<br>repeat %{{customdata[0]}} (seed %{{customdata[1]}})<br>%{{y:.5g}}<extra></extra>"
            if seeds else f"{label}<br>%{{y:.5g}}<extra></extra>",
        ))
        values = part[metric].dropna().astype(float)
        if values.empty:
            continue
        fig.add_trace(go.Scatter(
            x=[i - 0.3, i + 0.3], y=[values.median()] * 2, mode="lines", name=f"{label} median", meta="median",
            line={"color": color, "width": 3}, hovertemplate=f"{label}<br>median %{{y:.5g}}<extra></extra>",
        ))
        if len(values) > 1:
            sd = float(values.std())
            fig.add_trace(go.Scatter(
                x=[i + 0.36], y=[values.mean()], mode="markers", name=f"{label} mean", meta="mean",
                marker={"color": color, "symbol": "diamond-open", "size": 9},
                error_y={"type": "data", "array": [sd], "color": color, "thickness": 1.5, "width": 4},
                hovertemplate=f"{label}<br>mean %{{y:.5g}} ± {sd:.3g}<extra></extra>",
            ))
    level, text = None, "persistence"
    if metric == "test_rmse" and "persistence_rmse" in ok and ok["persistence_rmse"].notna().any():
        level = float(ok["persistence_rmse"].mean())
        text = f"persistence<br>{level:.4g}"
    elif metric in ("skill", "ratio"):
        level = 0.0 if metric == "skill" else 1.0
    if level is not None:
        # Labelled in the right margin, at the line's end: inside the plot it sat on a setting's dots
        # whenever the settings scored like persistence.
        fig.add_hline(y=level, line_dash="dash", line_color=palette.color("persistence"))
        fig.add_annotation(x=1.0, xref="paper", xanchor="left", y=level, text=text, showarrow=False,
                           align="left", font={"color": "#6b7280", "size": 11})
    fig.update_xaxes(tickvals=list(range(len(labels))), ticktext=tick_labels(labels),
                     range=[-0.6, max(len(labels), 1) - 0.4], showgrid=False)
    fig.update_layout(title=title or f"{METRIC_TITLES.get(metric, metric)} per setting",
                      yaxis_title=METRIC_TITLES.get(metric, metric), showlegend=False, height=height,
                      margin={"l": 60, "r": 80, "t": 50, "b": 80}, template="plotly_white")
    return fig


def tick_labels(labels: Sequence[str], width: int = 16) -> list[str]:
    """Short axis labels: the part before " · " ("Transformer · preset transformer-btc-hourly" ->
    "Transformer") where that still tells the settings apart, wrapped onto lines of about ``width``
    characters; the full label is in each dot's hover text."""
    short = [str(label).split(" · ")[0] for label in labels]
    if len(set(short)) < len(short):
        short = [str(label) for label in labels]
    return ["<br>".join(textwrap.wrap(text, width, break_long_words=False)) or text for text in short]


def _jitter(n: int) -> np.ndarray:
    """Fixed horizontal offsets in [-0.2, 0.2] so that equal values stay visible side by side (the same
    each time the page is drawn, unlike a random jitter)."""
    return np.linspace(-0.2, 0.2, n) if n > 1 else np.zeros(n)


def loss_curves_figure(records: Iterable[dict], column: str = "val_loss", order: Sequence[str] | None = None,
                       log_y: bool = True, height: int = 460) -> go.Figure:
    """Every trial's loss per epoch, coloured by setting (one legend entry per setting)."""
    long = histories(list(records))
    fig = go.Figure()
    if not long.empty:
        for i, label in enumerate(_labels(long, order)):
            part = long[long["label"] == label]
            for j, (_key, trial) in enumerate(part.groupby("key", sort=False)):
                fig.add_trace(go.Scatter(
                    x=trial["epoch"], y=trial[column], mode="lines+markers" if len(trial) < 3 else "lines",
                    name=str(label), legendgroup=str(label), showlegend=j == 0,
                    line={"color": palette.cycle(i), "width": 1.5}, opacity=0.7,
                    hovertemplate=f"{label} · repeat {int(trial['repeat'].iloc[0])}<br>epoch %{{x}}<br>%{{y:.5g}}<extra></extra>",
                ))
    what = "validation loss" if column == "val_loss" else "training loss"
    fig.update_layout(title=f"{what} of every trial", xaxis_title="epoch", yaxis_title=what, height=height,
                      yaxis_type="log" if log_y else "linear", template="plotly_white",
                      margin={"l": 60, "r": 20, "t": 50, "b": 50})
    return fig
