"""Plotly figures for experiments: the seed's box plot per setting, and every trial's loss curves.
No Streamlit here."""
from __future__ import annotations

from collections.abc import Iterable, Sequence

import pandas as pd
import plotly.graph_objects as go

from pricecast.experiments.stats import histories

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf")
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


def box_figure(frame: pd.DataFrame, metric: str = "test_rmse", order: Sequence[str] | None = None,
               title: str = "", height: int = 460) -> go.Figure:
    """One box per setting over its repeats, every trial as a dot (the seed's ``results.boxplot()``).
    Test RMSE gets the persistence forecast's RMSE as a dashed line, RMSE / persistence the line at 1,
    skill the zero line: each setting against persistence."""
    ok = frame[frame["status"] == "ok"] if "status" in frame else frame
    fig = go.Figure()
    for i, label in enumerate(_labels(ok, order)):
        part = ok[ok["label"] == label]
        fig.add_trace(go.Box(
            y=part[metric], name=str(label), boxpoints="all", jitter=0.35, pointpos=0, boxmean="sd",
            marker={"color": PALETTE[i % len(PALETTE)], "size": 6},
            customdata=part[["repeat", "seed"]].to_numpy() if {"repeat", "seed"} <= set(part) else None,
            hovertemplate="%{x}<br>repeat %{customdata[0]} (seed %{customdata[1]})<br>%{y:.5g}<extra></extra>"
            if {"repeat", "seed"} <= set(part) else None,
        ))
    if metric == "test_rmse" and "persistence_rmse" in ok and ok["persistence_rmse"].notna().any():
        level = float(ok["persistence_rmse"].mean())
        fig.add_hline(y=level, line_dash="dash", line_color="#7f7f7f",
                      annotation_text=f"persistence {level:.4g}", annotation_position="top left")
    if metric in ("skill", "ratio"):
        fig.add_hline(y=0.0 if metric == "skill" else 1.0, line_dash="dash", line_color="#7f7f7f", annotation_text="persistence",
                      annotation_position="top left")
    fig.update_layout(title=title or f"{METRIC_TITLES.get(metric, metric)} per setting",
                      yaxis_title=METRIC_TITLES.get(metric, metric), showlegend=False, height=height,
                      margin={"l": 60, "r": 20, "t": 50, "b": 80}, template="plotly_white")
    return fig


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
                    line={"color": PALETTE[i % len(PALETTE)], "width": 1.5}, opacity=0.7,
                    hovertemplate=f"{label} · repeat {int(trial['repeat'].iloc[0])}<br>epoch %{{x}}<br>%{{y:.5g}}<extra></extra>",
                ))
    what = "validation loss" if column == "val_loss" else "training loss"
    fig.update_layout(title=f"{what} of every trial", xaxis_title="epoch", yaxis_title=what, height=height,
                      yaxis_type="log" if log_y else "linear", template="plotly_white",
                      margin={"l": 60, "r": 20, "t": 50, "b": 50})
    return fig
