"""Plotly figures for the dashboard (and notebooks): candles, loss curves, actual vs predicted,
K-step forecast paths, the next forecast. No Streamlit here. A run's scores and runs compared are in
:mod:`pricecast.plots.runs`; backtests and experiments in their own modules.

Display only is thinned: a trace never carries more than ``max_points`` points. Lines keep each
bucket's first, last, lowest and highest value (spikes stay visible); candles are merged into
coarser candles (open of the first, high/low of the bucket, close of the last, summed volume).
Every line is an SVG ``Scatter``: the dashboard's Plotly bundle has no WebGL traces, and a thinned line
draws about as fast in SVG (docs/BENCHMARKS.md section 4). Every computation elsewhere uses all the data.

Drawing order: the model's line goes first (underneath, wide and half transparent), the baselines
next and the actual prices last (on top, thin and dark), so the model never hides what it is judged
against; ``legendrank`` keeps "actual" first in the legend anyway.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from pricecast.evaluation.baselines import LABELS as BASELINE_LABELS
from pricecast.plots import palette
from pricecast.plots.palette import color
from pricecast.prep.targets import get_target, target_label

MAX_POINTS = 5000
CANDLE_POINTS = 1200  # about one candle per pixel column of a wide chart; each is an SVG path the browser draws

LABELS = {
    "actual": "actual",
    "predicted": "model",
    **BASELINE_LABELS,
    "loss": "training loss",
    "val_loss": "validation loss",
}
PART_LABELS = {"train": "training", "val": "validation", "test": "test"}
RANK = {"actual": 1, "predicted": 2, "persistence": 3, "drift": 4, "moving_average": 5, "seasonal_day": 6,
        "seasonal_week": 7, "ewma": 8, "zero": 9}
MODEL_LINE = dict(width=2.5, opacity=0.65)  # under the actual line, still readable where they part


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
    line = dict(color=color, width=kw.pop("width", 1.5))
    if "dash" in kw:
        line["dash"] = kw.pop("dash")
    return go.Scatter(x=x, y=y, name=name, mode=kw.pop("mode", "lines"), line=line, **kw)


def apply_layout(fig: go.Figure, title: str = "", height: int = 420, ytitle: str = "") -> go.Figure:
    """The look every pricecast figure shares (margins, legend on top, title, height)."""
    # Title on the first line of the top margin, the legend on the second, right above the plot:
    # on a narrow chart they stack instead of overlapping.
    fig.update_layout(
        title=dict(text=title, x=0.0, xanchor="left", y=1.0, yanchor="top", yref="container", pad=dict(t=8))
        if title else None, height=height,
        margin=dict(l=10, r=10, t=75 if title else 30, b=10), hovermode="x unified",
        legend=dict(orientation="h", yanchor="bottom", y=1.01, xanchor="left", x=0.0),
    )
    if ytitle:
        fig.update_yaxes(title_text=ytitle)
    return fig


# ---- data --------------------------------------------------------------------------------------
def candles_figure(candles: pd.DataFrame, title: str = "", max_points: int = CANDLE_POINTS, height: int = 520,
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
    return apply_layout(fig, title, height)


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
    for name, times, symbol, shade in points:
        index = pd.DatetimeIndex(pd.to_datetime(list(times), utc=True))
        index = index[index.isin(close.index)]
        if len(index):
            fig.add_trace(go.Scatter(x=index, y=close.loc[index], mode="markers", name=name,
                                     marker=dict(symbol=symbol, size=10, color=shade, line=dict(width=2))), row=1, col=1)


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
                                         line=dict(color=color(col), width=2), marker=dict(size=6)))
    if best_epoch:
        fig.add_vline(x=best_epoch, line_dash="dot", line_color=palette.GOOD,
                      annotation_text=f"best epoch {best_epoch}", annotation_position="top left")
    fig.update_xaxes(title_text="epoch", rangemode="tozero")
    fig.update_yaxes(exponentformat="e")  # 7e-4, not plotly's SI "700µ"
    return apply_layout(fig, title, height, "loss (mean squared error, scaled)")


def live_val_figure(times: Sequence, actual: np.ndarray, predicted: np.ndarray | None, persistence: np.ndarray,
                    epoch: int = 0, step: int = 1, max_points: int = MAX_POINTS, height: int = 380,
                    target: str = "close") -> go.Figure:
    """Validation part, one horizon ``step``: actual, the model after ``epoch``, persistence."""
    fig = go.Figure()
    if predicted is not None:
        fig.add_trace(_model_line(times, predicted, max_points))
    fig.add_trace(_line(times, persistence, LABELS["persistence"], color("persistence"), max_points, dash="dot",
                        width=1.5, legendrank=RANK["persistence"]))
    fig.add_trace(_actual_line(times, actual, max_points))
    when = f"after epoch {epoch}" if epoch else "before epoch 1"
    return apply_layout(fig, f"Validation {target_label(target)}, {step} step(s) ahead · {when}", height,
                        target_label(target))


def _model_line(x, y, max_points: int = MAX_POINTS, name: str = LABELS["predicted"], **kw):
    trace = _line(x, y, name, color("predicted"), max_points, width=MODEL_LINE["width"],
                  legendrank=RANK["predicted"], **kw)
    trace.opacity = MODEL_LINE["opacity"]
    return trace


def _actual_line(x, y, max_points: int = MAX_POINTS, **kw):
    return _line(x, y, LABELS["actual"], color("actual"), max_points, width=1.2, legendrank=RANK["actual"], **kw)


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
        # Inside the plot's top edge (not above it, where the legend is), on a light background.
        fig.add_annotation(x=start, y=1.0, yref="paper", text=f"{PART_LABELS[part]} starts", showarrow=False,
                           xanchor="left", yanchor="top", xshift=3, font=dict(size=11, color="#333"),
                           bgcolor="rgba(255,255,255,0.8)")


def fell_back(network_label: str | None) -> bool:
    """A run whose network is not used says so in its line's label (``Decision.network_label``)."""
    return bool(network_label) and network_label != "network"


def actual_vs_predicted_figure(predictions: pd.DataFrame, parts: Iterable[str] = ("test",), step: int = 1,
                               baselines: Iterable[str] = ("persistence",), sizes: Mapping | None = None,
                               max_points: int = MAX_POINTS, title: str | None = None, height: int = 460,
                               network_label: str | None = None, used: str | None = None,
                               target: str = "close") -> go.Figure:
    """Actual vs the network's ``step``-ahead forecast of ``target`` over the chosen parts, with baselines
    as lines and the train/validation/test boundaries marked. The network's own line is always drawn
    (named ``network_label``, e.g. "network (not used: ...)" where the run fell back); the baseline
    the run ``used`` instead is drawn too and marked."""
    parts = list(parts)
    rows = predictions[(predictions["step"] == step) & (predictions["part"].isin(parts))].sort_values("time")
    fig = go.Figure()
    own = "network" if "network" in rows else "predicted"
    fig.add_trace(_model_line(rows["time"], rows[own], max_points, name=network_label or LABELS["predicted"]))
    baselines = list(baselines)
    if fell_back(network_label) and used and used not in baselines:
        baselines.insert(0, used)
    for name in baselines:
        if name in rows:
            label = LABELS.get(name, name) + (" · used" if fell_back(network_label) and name == used else "")
            fig.add_trace(_line(rows["time"], rows[name], label, color(name), max_points,
                                dash="dot", width=1.5, legendrank=RANK.get(name, 9)))
    fig.add_trace(_actual_line(rows["time"], rows["actual"], max_points))
    if sizes and len(parts) > 1:
        starts = {p: t for p, t in part_starts(sizes).items() if p in parts}
        _mark_parts(fig, starts)
    shown = " + ".join(PART_LABELS.get(p, p) for p in parts)
    label = target_label(target)
    return apply_layout(fig, title or f"Actual vs predicted {label}, {step} step(s) ahead · {shown}", height, label)


def pick_origins(origin_times: Sequence, count: int = 6) -> list[pd.Timestamp]:
    """``count`` window origins spread evenly over the given ones."""
    unique = pd.DatetimeIndex(pd.unique(pd.to_datetime(pd.Series(origin_times))))
    if len(unique) == 0:
        return []
    idx = np.unique(np.linspace(0, len(unique) - 1, min(count, len(unique))).round().astype(int))
    return list(unique.sort_values()[idx])


def forecast_paths_figure(predictions: pd.DataFrame, part: str = "test", origins: Sequence | None = None,
                          count: int = 6, context: int | None = None, columns: int = 3,
                          panel_height: int = 230, network_label: str | None = None) -> go.Figure:
    """One small panel per forecast origin, zoomed to it: the actual prices over ``context`` steps
    before the origin and the K after, the model's K-step path (red) from the last known price,
    and persistence's flat path. (On one axis spanning the whole part, K-step paths are specks.)"""
    rows = predictions[predictions["part"] == part]
    if origins is None:
        origins = pick_origins(rows["origin_time"], count)
    origin_col = pd.to_datetime(rows["origin_time"])
    paths = [(pd.Timestamp(o), rows[origin_col == pd.Timestamp(o)].sort_values("step")) for o in origins]
    paths = [(o, p) for o, p in paths if not p.empty]
    k = int(rows["step"].max()) if len(rows) else 0
    context = context or max(3 * k, 10)
    # The actual price at every time any window knows (all parts: the first origins of a part have
    # their context in the part before), the origins' own prices included.
    first_steps = predictions[predictions["step"] == 1]
    actual = pd.concat([
        pd.DataFrame({"time": pd.to_datetime(predictions["time"], utc=True), "actual": predictions["actual"]}),
        pd.DataFrame({"time": pd.to_datetime(first_steps["origin_time"], utc=True), "actual": first_steps["persistence"]}),
    ]).drop_duplicates("time").sort_values("time")
    actual_t = pd.DatetimeIndex(actual["time"])
    columns = max(1, min(columns, len(paths)))
    grid = max(1, -(-len(paths) // columns))
    daily = all(o == o.normalize() for o, _ in paths)
    titles = [o.strftime("%Y-%m-%d" if daily else "%Y-%m-%d %H:%M") for o, _ in paths]
    fig = make_subplots(rows=grid, cols=columns, subplot_titles=titles or None, vertical_spacing=0.12 if grid > 1 else 0.1,
                        horizontal_spacing=0.05)
    for i, (origin, path) in enumerate(paths):
        r, c = i // columns + 1, i % columns + 1
        last = float(path["persistence"].iloc[0])
        x = [origin, *pd.to_datetime(path["time"])]
        at = int(actual_t.searchsorted(origin.tz_convert("UTC") if origin.tzinfo else origin.tz_localize("UTC"), "right"))
        lo, hi = max(0, at - context), min(len(actual), at + k)
        around = _break_gaps(actual.iloc[lo:hi])
        first = i == 0
        own = path["network"] if "network" in path else path["predicted"]
        fig.add_trace(go.Scatter(x=x, y=[last, *own], mode="lines+markers",
                                 name=f"{network_label} forecast path" if network_label else "model forecast path",
                                 legendgroup="paths", showlegend=first, legendrank=RANK["predicted"],
                                 line=dict(color=color("predicted"), width=2), marker=dict(size=5),
                                 opacity=0.8), row=r, col=c)
        fig.add_trace(go.Scatter(x=x, y=[last] * len(x), mode="lines", name=LABELS["persistence"], legendgroup="persist",
                                 showlegend=first, legendrank=RANK["persistence"],
                                 line=dict(color=color("persistence"), dash="dot", width=1.5)), row=r, col=c)
        fig.add_trace(go.Scatter(x=around["time"], y=around["actual"], mode="lines", name=LABELS["actual"],
                                 legendgroup="actual", showlegend=first, legendrank=RANK["actual"],
                                 line=dict(color=color("actual"), width=1.2)), row=r, col=c)
        fig.add_vline(x=origin, line_dash="dash", line_color="#999", line_width=1, row=r, col=c)
    fig.update_xaxes(nticks=4)
    fig.update_annotations(font_size=11)
    title = f"{k}-step forecasts from {len(paths)} origin(s) · {PART_LABELS.get(part, part)} part, each zoomed to its origin"
    height = 110 + panel_height * grid
    out = apply_layout(fig, title, height)
    # The legend goes above the panels' own titles (about 22 px higher than on a single chart).
    out.update_layout(hovermode="closest", margin=dict(t=100), legend=dict(y=1.0 + 24 / max(height - 110, 1)))
    return out


def _break_gaps(frame: pd.DataFrame) -> pd.DataFrame:
    """A row of NaN inside each jump of more than 5 usual steps (the prices between two parts' windows
    are in no prediction), so the line stops there instead of drawing a straight bridge."""
    if len(frame) < 3:
        return frame
    steps = frame["time"].diff()
    jumps = steps > 5 * steps.median()
    if not jumps.any():
        return frame
    holes = pd.DataFrame({"time": frame["time"][jumps] - steps[jumps] / 2, "actual": np.nan})
    return pd.concat([frame, holes]).sort_values("time")


def next_forecast_figure(candles: pd.DataFrame, forecast: pd.DataFrame, target: str = "close", context: int = 120,
                         height: int = 400, network_label: str | None = None) -> go.Figure:
    """The latest ``context`` candles of ``target`` and the next-K forecast the run uses beside persistence;
    where the run fell back (``network_label`` says why), the network's own forecast is drawn too."""
    tail = (pd.Series(get_target(target).compute(candles), index=candles.index).iloc[-context:]
            if candles is not None and len(candles) else pd.Series(dtype=float))
    fig = go.Figure()
    if len(tail):
        fig.add_trace(go.Scatter(x=tail.index, y=tail.to_numpy(), name=f"actual {target}", mode="lines",
                                 line=dict(color=color("actual"), width=1.5)))
    if len(forecast):
        times = pd.to_datetime(forecast["time"])
        start_x = [tail.index[-1]] if len(tail) else []
        start_y = [float(tail.iloc[-1])] if len(tail) else []
        if fell_back(network_label) and "network" in forecast:
            fig.add_trace(go.Scatter(x=[*start_x, *times], y=[*start_y, *forecast["network"]], name=network_label,
                                     mode="lines+markers", line=dict(color=color("predicted"), width=2), opacity=0.5))
            fig.add_trace(go.Scatter(x=[*start_x, *times], y=[*start_y, *forecast["predicted"]],
                                     name="forecast used (the fallback)", mode="lines+markers",
                                     line=dict(color=color("persistence"), width=2)))
        else:
            fig.add_trace(go.Scatter(x=[*start_x, *times], y=[*start_y, *forecast["predicted"]], name="model forecast",
                                     mode="lines+markers", line=dict(color=color("predicted"), width=2)))
        fig.add_trace(go.Scatter(x=[*start_x, *times], y=[*start_y, *forecast["persistence"]], name=LABELS["persistence"],
                                 mode="lines", line=dict(color=color("persistence"), dash="dot", width=1)))
    return apply_layout(fig, f"Next {len(forecast)} step(s) of {target_label(target)} from the latest candles", height,
                        target_label(target))
