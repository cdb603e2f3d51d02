"""Plotly figures for the dashboard (and notebooks): candles, loss curves, actual vs predicted,
K-step forecast paths, metrics, run comparisons. No Streamlit here.

Display only is thinned: a trace never carries more than ``max_points`` points. Lines keep each
bucket's first, last, lowest and highest value (spikes stay visible); candles are merged into
coarser candles (open of the first, high/low of the bucket, close of the last, summed volume).
Large traces use WebGL (``Scattergl``). Every computation elsewhere uses all the data.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

MAX_POINTS = 5000
GL_ABOVE = 2000  # WebGL only for big traces: browsers allow a limited number of GL contexts per page

COLORS = {
    "actual": "#1f2937",
    "predicted": "#d62728",  # the seed's red
    "persistence": "#7f7f7f",
    "drift": "#9467bd",
    "moving_average": "#2ca02c",
    "loss": "#1f77b4",
    "val_loss": "#ff7f0e",
    "train": "rgba(31,119,180,0.06)",
    "val": "rgba(255,127,14,0.08)",
    "test": "rgba(44,160,44,0.08)",
}
LABELS = {
    "actual": "actual",
    "predicted": "model",
    "persistence": "persistence (last price)",
    "drift": "drift",
    "moving_average": "moving average",
    "loss": "training loss",
    "val_loss": "validation loss",
}
PART_LABELS = {"train": "training", "val": "validation", "test": "test"}


# ---- thinning ----------------------------------------------------------------------------------
def minmax_indices(y: np.ndarray, max_points: int = MAX_POINTS) -> np.ndarray:
    """Sorted indices of at most ~``max_points`` points keeping each bucket's first, last, min, max."""
    y = np.asarray(y, dtype=np.float64)
    m = len(y)
    if m <= max_points:
        return np.arange(m)
    buckets = max(1, max_points // 4)
    edges = np.linspace(0, m, buckets + 1).astype(np.int64)
    starts, stops = edges[:-1], edges[1:]
    keep = [starts, stops - 1]
    # reduceat gives per-bucket min/max; NaNs are replaced so argmin/argmax stay defined.
    filled = np.where(np.isnan(y), np.nanmean(y) if np.isfinite(y).any() else 0.0, y)
    for fn in (np.argmin, np.argmax):
        keep.append(np.array([a + fn(filled[a:b]) for a, b in zip(starts, stops)], dtype=np.int64))
    return np.unique(np.concatenate(keep))


def thin(x: Sequence, y: Sequence, max_points: int = MAX_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """``x, y`` reduced for display with :func:`minmax_indices`."""
    x, y = np.asarray(x), np.asarray(y, dtype=np.float64)
    idx = minmax_indices(y, max_points)
    return x[idx], y[idx]


def ohlc_buckets(candles: pd.DataFrame, max_points: int = MAX_POINTS) -> pd.DataFrame:
    """At most ``max_points`` candles: consecutive candles merged into one per bucket."""
    m = len(candles)
    if m <= max_points:
        return candles
    size = int(np.ceil(m / max_points))
    group = np.arange(m) // size
    g = candles.groupby(group)
    out = pd.DataFrame({
        "open": g["open"].first().to_numpy(), "high": g["high"].max().to_numpy(),
        "low": g["low"].min().to_numpy(), "close": g["close"].last().to_numpy(),
        "volume": g["volume"].sum().to_numpy(),
    }, index=candles.index[::size][: g.ngroups])
    out.index.name = candles.index.name
    return out


def _line(x, y, name: str, color: str | None = None, max_points: int = MAX_POINTS, **kw) -> go.Scatter:
    x, y = thin(x, y, max_points)
    cls = go.Scattergl if len(x) > GL_ABOVE else go.Scatter
    line = dict(color=color, width=kw.pop("width", 1.5))
    if "dash" in kw:
        line["dash"] = kw.pop("dash")
    return cls(x=x, y=y, name=name, mode=kw.pop("mode", "lines"), line=line, **kw)


def _layout(fig: go.Figure, title: str = "", height: int = 420, ytitle: str = "") -> go.Figure:
    fig.update_layout(
        title=dict(text=title, x=0.0, xanchor="left") if title else None, height=height,
        margin=dict(l=10, r=10, t=50 if title else 20, b=10), hovermode="x unified",
        legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1.0),
    )
    if ytitle:
        fig.update_yaxes(title_text=ytitle)
    return fig


# ---- data --------------------------------------------------------------------------------------
def candles_figure(candles: pd.DataFrame, title: str = "", max_points: int = MAX_POINTS, height: int = 520,
                   quality: Mapping | None = None) -> go.Figure:
    """Candlestick over volume bars, sharing the time axis. Long series are merged into coarser
    candles for display (the title says so). ``quality`` (a quality report's ``to_dict()``) marks
    the defects it lists."""
    shown = ohlc_buckets(candles, max_points)
    merged = len(shown) < len(candles)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.75, 0.25], vertical_spacing=0.03)
    fig.add_trace(go.Candlestick(x=shown.index, open=shown["open"], high=shown["high"], low=shown["low"],
                                 close=shown["close"], name="price", showlegend=False), row=1, col=1)
    up = (shown["close"] >= shown["open"]).to_numpy()
    fig.add_trace(go.Bar(x=shown.index, y=shown["volume"], name="volume", showlegend=False,
                         marker_color=np.where(up, "rgba(38,166,154,0.6)", "rgba(239,83,80,0.6)")), row=2, col=1)
    fig.update_xaxes(rangeslider_visible=False)
    fig.update_yaxes(title_text="price", row=1, col=1)
    fig.update_yaxes(title_text="volume", row=2, col=1)
    if merged:
        note = f"{len(candles):,} candles shown as {len(shown):,} (each merges {int(np.ceil(len(candles) / max_points))})"
        title = f"{title} · {note}" if title else note
    if quality is not None:
        _mark_quality(fig, candles, quality)
    return _layout(fig, title, height)


def _mark_quality(fig: go.Figure, candles: pd.DataFrame, quality: Mapping) -> None:
    """Defects from a quality report's ``to_dict()`` on the price chart: stale stretches and gaps as
    shaded bands, impossible candles, jumps and duplicates as markers at their close."""
    for s in quality.get("stale", []):
        fig.add_vrect(x0=s["start"], x1=s["end"], fillcolor="rgba(128,128,128,0.25)", line_width=0, row=1, col=1)
    for g in quality.get("gaps", []):
        fig.add_vrect(x0=g["start"], x1=g["end"], fillcolor="rgba(239,83,80,0.15)", line_width=0, row=1, col=1)
    # legend entries for the bands (shapes have none)
    if quality.get("stale"):
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name="stale (price frozen)",
                                 marker=dict(symbol="square", size=12, color="rgba(128,128,128,0.5)")), row=1, col=1)
    if quality.get("gaps"):
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name="gap (candles missing)",
                                 marker=dict(symbol="square", size=12, color="rgba(239,83,80,0.4)")), row=1, col=1)
    close = candles["close"]
    points = (("impossible candle", quality.get("bad_ohlc", []), "x", "#d62728"),
              ("jump", [j["time"] for j in quality.get("jumps", [])], "diamond", "#ff7f0e"),
              ("duplicate", [d["time"] for d in quality.get("duplicates", [])], "circle-open", "#9467bd"))
    for name, times, symbol, color in points:
        index = pd.DatetimeIndex(pd.to_datetime(list(times), utc=True))
        index = index[index.isin(close.index)]
        if len(index):
            fig.add_trace(go.Scatter(x=index, y=close.loc[index], mode="markers", name=name,
                                     marker=dict(symbol=symbol, size=10, color=color, line=dict(width=2))), row=1, col=1)


# ---- training ----------------------------------------------------------------------------------
def loss_figure(history: pd.DataFrame, batches: pd.DataFrame | None = None, best_epoch: int | None = None,
                title: str = "Loss per epoch", height: int = 380) -> go.Figure:
    """Training and validation loss per epoch (and per batch, faint, when streamed).
    Validation loss rising while training loss falls is overfitting."""
    fig = go.Figure()
    if batches is not None and len(batches):
        # Batch b of epoch e sits between epoch e-1 and e on the same axis as the epoch points.
        per_epoch = batches.groupby("epoch")["batch"].transform("max").clip(lower=1)
        x = batches["epoch"] - 1 + batches["batch"] / per_epoch
        fig.add_trace(_line(x, batches["loss"], "training loss (per batch)", "rgba(31,119,180,0.35)", width=1))
    if len(history):
        for col in ("loss", "val_loss"):
            if col in history and history[col].notna().any():
                fig.add_trace(go.Scatter(x=history["epoch"], y=history[col], name=LABELS[col], mode="lines+markers",
                                         line=dict(color=COLORS[col], width=2), marker=dict(size=6)))
    if best_epoch:
        fig.add_vline(x=best_epoch, line_dash="dot", line_color="#2ca02c",
                      annotation_text=f"best epoch {best_epoch}", annotation_position="top left")
    fig.update_xaxes(title_text="epoch", rangemode="tozero")
    fig.update_yaxes(exponentformat="e")  # 7e-4, not plotly's SI "700µ"
    return _layout(fig, title, height, "loss (mean squared error, scaled)")


def live_val_figure(times: Sequence, actual: np.ndarray, predicted: np.ndarray | None, persistence: np.ndarray,
                    epoch: int = 0, step: int = 1, max_points: int = MAX_POINTS, height: int = 380) -> go.Figure:
    """Validation part, one horizon ``step``: actual, the model after ``epoch``, persistence."""
    fig = go.Figure()
    fig.add_trace(_line(times, actual, LABELS["actual"], COLORS["actual"], max_points))
    fig.add_trace(_line(times, persistence, LABELS["persistence"], COLORS["persistence"], max_points, dash="dot", width=1))
    if predicted is not None:
        fig.add_trace(_line(times, predicted, LABELS["predicted"], COLORS["predicted"], max_points))
    when = f"after epoch {epoch}" if epoch else "waiting for the first epoch"
    return _layout(fig, f"Validation data (not trained on), {step} step(s) ahead · {when}", height, "price")


# ---- results -----------------------------------------------------------------------------------
def part_starts(sizes: Mapping[str, Mapping]) -> dict[str, pd.Timestamp]:
    """First time of each part from ``metrics['sizes']`` (for boundary lines)."""
    out = {}
    for part in ("train", "val", "test"):
        first = (sizes.get(part) or {}).get("first")
        if first:
            out[part] = pd.Timestamp(first)
    return out


def _mark_parts(fig: go.Figure, starts: Mapping[str, pd.Timestamp], ends: Mapping[str, pd.Timestamp] | None = None) -> None:
    for part, start in starts.items():
        if part == "train":
            continue
        fig.add_vline(x=start, line_dash="dash", line_color="#555", line_width=1)
        fig.add_annotation(x=start, y=1.0, yref="paper", text=f"{PART_LABELS[part]} starts", showarrow=False,
                           xanchor="left", yanchor="bottom", font=dict(size=11, color="#555"))


def actual_vs_predicted_figure(predictions: pd.DataFrame, parts: Iterable[str] = ("test",), step: int = 1,
                               baselines: Iterable[str] = ("persistence",), sizes: Mapping | None = None,
                               max_points: int = MAX_POINTS, title: str | None = None, height: int = 460) -> go.Figure:
    """Actual vs the model's ``step``-ahead forecast over the chosen parts, with baselines as
    lines and the train/validation/test boundaries marked."""
    parts = list(parts)
    rows = predictions[(predictions["step"] == step) & (predictions["part"].isin(parts))].sort_values("time")
    fig = go.Figure()
    fig.add_trace(_line(rows["time"], rows["actual"], LABELS["actual"], COLORS["actual"], max_points))
    for name in baselines:
        if name in rows:
            fig.add_trace(_line(rows["time"], rows[name], LABELS.get(name, name), COLORS.get(name), max_points,
                                dash="dot", width=1))
    fig.add_trace(_line(rows["time"], rows["predicted"], LABELS["predicted"], COLORS["predicted"], max_points))
    if sizes and len(parts) > 1:
        starts = {p: t for p, t in part_starts(sizes).items() if p in parts}
        _mark_parts(fig, starts)
    shown = " + ".join(PART_LABELS.get(p, p) for p in parts)
    return _layout(fig, title or f"Actual vs predicted, {step} step(s) ahead · {shown}", height, "price")


def pick_origins(origin_times: Sequence, count: int = 6) -> list[pd.Timestamp]:
    """``count`` window origins spread evenly over the given ones."""
    unique = pd.DatetimeIndex(pd.unique(pd.to_datetime(pd.Series(origin_times))))
    if len(unique) == 0:
        return []
    idx = np.unique(np.linspace(0, len(unique) - 1, min(count, len(unique))).round().astype(int))
    return list(unique.sort_values()[idx])


def forecast_paths_figure(predictions: pd.DataFrame, part: str = "test", origins: Sequence | None = None,
                          count: int = 6, max_points: int = MAX_POINTS, height: int = 460) -> go.Figure:
    """The actual series with the model's K-step forecast paths (red) from chosen origins,
    each starting at the last known price; persistence's flat path for comparison."""
    rows = predictions[predictions["part"] == part]
    if origins is None:
        origins = pick_origins(rows["origin_time"], count)
    origins = [pd.Timestamp(o) for o in origins]
    actual = rows[rows["step"] == 1].sort_values("time")
    fig = go.Figure()
    fig.add_trace(_line(actual["time"], actual["actual"], LABELS["actual"], COLORS["actual"], max_points))
    origin_col = pd.to_datetime(rows["origin_time"])
    for i, origin in enumerate(origins):
        path = rows[origin_col == origin].sort_values("step")
        if path.empty:
            continue
        last = float(path["persistence"].iloc[0])
        x = [origin, *path["time"]]
        fig.add_trace(go.Scatter(x=x, y=[last, *path["predicted"]], mode="lines+markers", name="model forecast path",
                                 legendgroup="paths", showlegend=i == 0, line=dict(color=COLORS["predicted"], width=2),
                                 marker=dict(size=6, color=COLORS["predicted"])))
        fig.add_trace(go.Scatter(x=x, y=[last] * len(x), mode="lines", name="persistence", legendgroup="persist",
                                 showlegend=i == 0, line=dict(color=COLORS["persistence"], dash="dot", width=1)))
    k = int(rows["step"].max()) if len(rows) else 0
    return _layout(fig, f"{k}-step forecasts from {len(origins)} origin(s) · {PART_LABELS.get(part, part)} part",
                   height, "price")


def metrics_frame(report: Mapping) -> pd.DataFrame:
    """One row per forecaster (model and baselines) with RMSE, MAE, MAPE, direction, skill."""
    from .evaluation import metrics_table

    frame = pd.DataFrame(metrics_table(dict(report)))
    frame["forecaster"] = frame["forecaster"].map(lambda n: LABELS.get(n, n))
    return frame.set_index("forecaster")


def skill_per_step_figure(report: Mapping, height: int = 300) -> go.Figure:
    """Skill versus persistence per horizon step (above 0: the model beats persistence)."""
    values = list(report.get("skill_per_step") or [])
    steps = list(range(1, len(values) + 1))
    colors = [COLORS["moving_average"] if (v or 0) > 0 else COLORS["predicted"] for v in values]
    fig = go.Figure(go.Bar(x=steps, y=values, marker_color=colors, name="skill"))
    fig.add_hline(y=0, line_color="#555", line_width=1)
    fig.update_xaxes(title_text="steps ahead", dtick=1)
    fig.update_yaxes(tickformat=".1%")
    return _layout(fig, "Skill versus persistence per step (above 0 = better than 'no change')", height)


def next_forecast_figure(candles: pd.DataFrame, forecast: pd.DataFrame, target: str = "close", context: int = 120,
                         height: int = 400) -> go.Figure:
    """The latest ``context`` candles and the model's next-K forecast beside persistence."""
    tail = candles[target].iloc[-context:] if candles is not None and len(candles) else pd.Series(dtype=float)
    fig = go.Figure()
    if len(tail):
        fig.add_trace(go.Scatter(x=tail.index, y=tail.to_numpy(), name=f"actual {target}", mode="lines",
                                 line=dict(color=COLORS["actual"], width=1.5)))
    if len(forecast):
        times = pd.to_datetime(forecast["time"])
        start_x = [tail.index[-1]] if len(tail) else []
        start_y = [float(tail.iloc[-1])] if len(tail) else []
        fig.add_trace(go.Scatter(x=[*start_x, *times], y=[*start_y, *forecast["predicted"]], name="model forecast",
                                 mode="lines+markers", line=dict(color=COLORS["predicted"], width=2)))
        fig.add_trace(go.Scatter(x=[*start_x, *times], y=[*start_y, *forecast["persistence"]], name=LABELS["persistence"],
                                 mode="lines", line=dict(color=COLORS["persistence"], dash="dot", width=1)))
    return _layout(fig, f"Next {len(forecast)} step(s) from the latest candles", height, "price")


def runs_loss_figure(histories: Mapping[str, pd.DataFrame], column: str = "val_loss", height: int = 420) -> go.Figure:
    """Loss curves of several runs overlaid (``column``: ``val_loss`` or ``loss``)."""
    fig = go.Figure()
    for label, history in histories.items():
        if history is None or column not in history or not history[column].notna().any():
            continue
        fig.add_trace(go.Scatter(x=history["epoch"], y=history[column], name=label, mode="lines+markers",
                                 marker=dict(size=4)))
    fig.update_xaxes(title_text="epoch")
    fig.update_yaxes(type="log", exponentformat="e")
    return _layout(fig, f"{LABELS.get(column, column)} per epoch, runs compared (log scale)", height, "loss")
