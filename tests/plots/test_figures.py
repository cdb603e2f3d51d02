"""Plotly figure builders: right traces, thinning for display, boundaries marked."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from pricecast.data.samples import load_sample
from pricecast.plots import figures


@pytest.fixture(scope="module")
def candles():
    return load_sample("IBM")


def _predictions(candles, k=3):
    times = candles.index[:300]
    rows = []
    for part, sl in (("train", slice(0, 200)), ("val", slice(200, 250)), ("test", slice(250, 297))):
        for i in range(sl.start, sl.stop):
            for step in range(1, k + 1):
                actual = candles["close"].iloc[i + step]
                rows.append({"part": part, "origin_time": times[i], "step": step, "time": candles.index[i + step],
                             "actual": actual, "predicted": actual * 1.01, "persistence": candles["close"].iloc[i],
                             "drift": actual, "moving_average": actual})
    return pd.DataFrame(rows)


def test_minmax_thinning_keeps_extremes_and_ends():
    rng = np.random.default_rng(0)
    y = rng.normal(size=200_000).cumsum()
    y[123_457] = 1e6  # a spike must survive thinning
    idx = figures.minmax_indices(y, 5000)
    assert len(idx) <= 5000 and idx[0] == 0 and idx[-1] == len(y) - 1
    assert 123_457 in idx and np.argmin(y) in idx
    assert np.all(np.diff(idx) > 0)
    assert len(figures.minmax_indices(y[:100], 5000)) == 100


def test_ohlc_buckets_merge_candles_faithfully(candles):
    merged = figures.ohlc_buckets(candles, 100)
    assert len(merged) <= 100
    assert merged["high"].max() == candles["high"].max() and merged["low"].min() == candles["low"].min()
    assert merged["volume"].sum() == pytest.approx(candles["volume"].sum())
    assert merged["open"].iloc[0] == candles["open"].iloc[0] and merged["close"].iloc[-1] == candles["close"].iloc[-1]


def test_candles_figure_small_and_large(candles):
    fig = figures.candles_figure(candles.iloc[:500], "IBM")
    assert isinstance(fig.data[0], go.Candlestick) and len(fig.data[0].x) == 500
    assert isinstance(fig.data[1], go.Bar)
    big = pd.concat([candles] * 40)
    big.index = pd.date_range("2000-01-01", periods=len(big), freq="min", tz="UTC", name="time")
    fig = figures.candles_figure(big, "big", max_points=2000)
    assert len(fig.data[0].x) <= 2000 and "candles shown as" in fig.layout.title.text


def test_long_lines_are_thinned_svg_lines():
    x = pd.date_range("2020", periods=300_000, freq="min", tz="UTC")
    fig = figures.live_val_figure(x, np.sin(np.arange(300_000) / 50), np.cos(np.arange(300_000) / 50),
                                  np.zeros(300_000), epoch=3)
    # SVG lines: the dashboard's chart bundle has no WebGL traces (tests/plots/test_every_figure.py).
    assert all(type(t) is go.Scatter and len(t.x) <= figures.MAX_POINTS for t in fig.data)
    assert "after epoch 3" in fig.layout.title.text
    # The model first (drawn underneath), the actual prices last (on top): the model never hides them.
    assert [t.name for t in fig.data] == ["model", "persistence (last value)", "actual"]


def test_loss_figure_with_batches_and_best_epoch():
    history = pd.DataFrame({"epoch": [1, 2, 3], "loss": [3.0, 2.0, 1.0], "val_loss": [2.5, 2.0, 2.2], "seconds": 1.0})
    batches = pd.DataFrame({"epoch": [1, 1, 2], "batch": [10, 20, 10], "loss": [4.0, 3.5, 2.5], "elapsed": [0.1, 0.2, 0.3]})
    fig = figures.loss_figure(history, batches, best_epoch=2)
    names = [t.name for t in fig.data]
    assert names == ["training loss (per batch)", "training loss", "validation loss"]
    assert list(fig.data[0].x) == [0.5, 1.0, 2.0]
    assert figures.loss_figure(history.iloc[:0]).data == ()


def test_actual_vs_predicted_marks_boundaries(candles):
    preds = _predictions(candles)
    sizes = {p: {"first": str(preds.loc[preds.part == p, "origin_time"].min())} for p in ("train", "val", "test")}
    fig = figures.actual_vs_predicted_figure(preds, ["train", "val", "test"], step=2,
                                             baselines=["persistence", "drift"], sizes=sizes)
    # Drawn model first (under), baselines, actual last (on top); the legend still lists actual first.
    assert [t.name for t in fig.data] == ["model", "persistence (last value)", "drift", "actual"]
    assert sorted(fig.data, key=lambda t: t.legendrank)[0].name == "actual"
    model, actual = fig.data[0], fig.data[-1]
    assert model.opacity < 1 and model.line.width > actual.line.width
    assert len(fig.data[-1].x) == 297
    marks = [a for a in fig.layout.annotations if a.text in ("validation starts", "test starts")]
    assert len(marks) == 2
    # Inside the plot (hanging from its top edge), not above it where the legend sits.
    assert all(a.yref == "paper" and a.y <= 1.0 and a.yanchor == "top" for a in marks)
    assert fig.layout.legend.yanchor == "bottom" and fig.layout.legend.y > 1.0
    only_test = figures.actual_vs_predicted_figure(preds, ["test"])
    assert len(only_test.data[-1].x) == 47 and not only_test.layout.annotations


def test_forecast_paths_start_at_last_price(candles):
    preds = _predictions(candles)
    origins = figures.pick_origins(preds.loc[preds.part == "test", "origin_time"], 4)
    assert len(origins) == 4
    fig = figures.forecast_paths_figure(preds, "test", origins)
    paths = [t for t in fig.data if t.name == "model forecast path"]
    assert len(paths) == 4 and all(len(t.x) == 4 for t in paths)
    first = preds[(preds.part == "test") & (pd.to_datetime(preds.origin_time) == origins[0])]
    assert paths[0].y[0] == first["persistence"].iloc[0]


def test_forecast_paths_are_zoomed_to_their_origins(candles):
    preds = _predictions(candles)
    origins = figures.pick_origins(preds.loc[preds.part == "test", "origin_time"], 4)
    fig = figures.forecast_paths_figure(preds, "test", origins)
    # One panel per origin: each path's own x axis, and the actual prices only around it (3K before,
    # K after), not the whole part on which a 3-step path is a speck.
    paths = [t for t in fig.data if t.name == "model forecast path"]
    assert len({t.xaxis for t in paths}) == 4
    for path in paths:
        actual = next(t for t in fig.data if t.name == "actual" and t.xaxis == path.xaxis)
        assert 3 <= len(actual.x) <= 3 * 3 + 1 + 3  # context, the origin, K after
        first, last, origin = (pd.Timestamp(v).tz_localize(None) for v in (actual.x[0], actual.x[-1], path.x[0]))
        assert last - first <= pd.Timedelta(days=25)  # 12 daily candles (with weekends), not the part's months
        assert first <= origin <= last


def test_next_forecast_figure(candles):
    forecast = pd.DataFrame({"time": pd.date_range(candles.index[-1], periods=4, freq="D")[1:], "step": [1, 2, 3],
                             "predicted": [1.0, 2.0, 3.0], "persistence": [1.0, 1.0, 1.0]})
    fig = figures.next_forecast_figure(candles, forecast)
    assert [t.name for t in fig.data] == ["actual close", "model forecast", "persistence (last value)"]
    assert len(fig.data[1].x) == 4  # joined to the last actual candle


def test_a_run_that_fell_back_still_draws_its_network_labelled_not_used(candles):
    from pricecast.evaluation.decision import Decision

    preds = _predictions(candles)
    preds["network"] = preds["predicted"]
    preds["predicted"] = preds["persistence"]  # the decision: 'no change'
    label = Decision("persistence", "persistence", 0.064, 0.05, "").network_label()
    assert label == "network (not used: no better than no change on validation, p = 0.064)"
    fig = figures.actual_vs_predicted_figure(preds, ["test"], baselines=[], network_label=label, used="persistence")
    names = [t.name for t in fig.data]
    assert names == [label, "persistence (last value) · used", "actual"]
    np.testing.assert_allclose(np.asarray(fig.data[0].y, dtype=float),
                               preds[(preds.part == "test") & (preds.step == 1)].sort_values("time")["network"])
    paths = figures.forecast_paths_figure(preds, "test", count=2, network_label=label)
    assert paths.data[0].name == f"{label} forecast path"
    # an older run folder (no network column) draws its model as before
    old = figures.actual_vs_predicted_figure(_predictions(candles), ["test"])
    assert [t.name for t in old.data][0] == "model"
