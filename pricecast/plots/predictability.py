"""The predictability check's figure: autocorrelation of the target's changes with a random walk's band."""
from __future__ import annotations

import plotly.graph_objects as go

from pricecast.evaluation.predictability import Predictability
from pricecast.plots.figures import apply_layout
from pricecast.plots.palette import OUTSIDE, color


def acf_figure(result: Predictability, height: int = 320) -> go.Figure:
    """Bars of the autocorrelation at each lag, red where they leave the 95% band (dashed) inside which a
    random walk's stay; a pattern shows as many red bars, often at its period (24 on hourly data)."""
    lags = list(range(1, len(result.acf) + 1))
    outside = set(result.significant_lags)
    fig = go.Figure(go.Bar(x=lags, y=result.acf, name="autocorrelation", showlegend=False,
                           marker_color=[OUTSIDE if lag in outside else color("persistence") for lag in lags],
                           hovertemplate="lag %{x}: %{y:.3f}<extra></extra>"))
    for sign in (1, -1):
        fig.add_trace(go.Scatter(x=[0.5, len(lags) + 0.5], y=[sign * result.band] * 2, mode="lines",
                                 line=dict(color=OUTSIDE, dash="dash", width=1), hoverinfo="skip",
                                 name="95% band of a random walk", showlegend=sign > 0))
    what = "log changes" if result.transform in ("log", "log1p") else "changes"
    apply_layout(fig, title=f"Autocorrelation of the {what}: {result.name} (training part)",
                 height=height, ytitle="autocorrelation")
    fig.update_xaxes(title_text="lag (candles)")
    fig.update_layout(hovermode="closest", bargap=0.15)
    return fig
