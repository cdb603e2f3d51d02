"""Every figure builder in pricecast.plots on a long series draws only traces the dashboard's chart
bundle holds (``ui.charts.TRACES``): a long hourly series once switched lines to WebGL, which the bundle
lacks, and every chart of such a series failed in the browser."""
from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("streamlit")

from pricecast.plots import backtest as backtest_plots
from pricecast.plots import experiments as experiment_plots
from pricecast.plots import figures
from pricecast.plots import runs as run_plots
from ui import charts

from ..conftest import make_candles

ROWS = 40_000  # a long hourly series: more than any threshold a builder has for thinning or trace types


@pytest.fixture(scope="module")
def candles() -> pd.DataFrame:
    return make_candles(ROWS, freq="1h")


@pytest.fixture(scope="module")
def predictions(candles) -> pd.DataFrame:
    close = candles["close"].to_numpy()
    k, origins = 3, np.arange(ROWS - 3)
    part = np.where(origins < 0.7 * ROWS, "train", np.where(origins < 0.85 * ROWS, "val", "test"))
    frames = [pd.DataFrame({"part": part, "origin_time": candles.index[origins], "step": s,
                            "time": candles.index[origins + s], "actual": close[origins + s],
                            "predicted": close[origins + s] * 1.01, "persistence": close[origins],
                            "drift": close[origins + s], "moving_average": close[origins]}) for s in range(1, k + 1)]
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def backtest_result(candles):
    from pricecast.backtest import walkforward
    from pricecast.backtest.spec import BacktestSpec

    from ..backtest.test_walkforward import TINY, _fake_fit

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(walkforward, "fit", _fake_fit)  # no Keras: a 'model' that predicts no change
        return walkforward.run_backtest(TINY, BacktestSpec(folds=4, fold_size=500, epochs=1), candles=candles,
                                        use_cache=False)


def _records() -> list[dict]:
    rng = np.random.default_rng(0)
    return [{"key": f"{v}#r{r}", "variation": v, "label": v.upper(), "repeat": r, "seed": r, "status": "ok",
             "test_rmse": 1.0 + r, "persistence_rmse": 2.5, "skill": 0.1, "best_val_loss": 0.1,
             "history": {"loss": list(rng.random(2000)), "val_loss": list(rng.random(2000))}}
            for v in ("a", "b") for r in range(3)]


def _builders(candles, predictions, backtest_result) -> dict:
    from pricecast.experiments.stats import trials_frame

    history = pd.DataFrame({"epoch": np.arange(1, 501), "loss": np.linspace(2, 1, 500), "val_loss": np.linspace(3, 1, 500)})
    batches = pd.DataFrame({"epoch": np.repeat(np.arange(1, 11), 5000), "batch": np.tile(np.arange(1, 5001), 10),
                            "loss": np.linspace(4, 1, 50_000)})
    report = {"skill_per_step": list(np.linspace(-0.1, 0.1, 48))}
    forecast = pd.DataFrame({"time": candles.index[-48:] + pd.Timedelta("48h"),
                             "predicted": candles["close"].to_numpy()[-48:], "persistence": candles["close"].iloc[-1]})
    frame = trials_frame(_records())
    return {
        figures.candles_figure: lambda: figures.candles_figure(candles, "long"),
        figures.loss_figure: lambda: figures.loss_figure(history, batches, best_epoch=3),
        figures.live_val_figure: lambda: figures.live_val_figure(candles.index, candles["close"], candles["open"],
                                                                 candles["close"].shift(1), epoch=2),
        figures.actual_vs_predicted_figure: lambda: figures.actual_vs_predicted_figure(
            predictions, ("train", "val", "test"), baselines=("persistence", "drift", "moving_average"),
            sizes={p: {"first": str(predictions.loc[predictions.part == p, "time"].min())} for p in ("train", "val", "test")}),
        figures.forecast_paths_figure: lambda: figures.forecast_paths_figure(predictions, "test"),
        figures.next_forecast_figure: lambda: figures.next_forecast_figure(candles, forecast),
        run_plots.skill_per_step_figure: lambda: run_plots.skill_per_step_figure(report),
        run_plots.runs_loss_figure: lambda: run_plots.runs_loss_figure({"a": history, "b": history}),
        run_plots.compare_forecasts_figure: lambda: run_plots.compare_forecasts_figure(
            {name: predictions[predictions.part != "x"].rename(columns={col: "forecast"})
             for name, col in (("N=30", "predicted"), ("N=60", "drift"))}),
        backtest_plots.fold_error_figure: lambda: backtest_plots.fold_error_figure(backtest_result),
        backtest_plots.horizon_error_figure: lambda: backtest_plots.horizon_error_figure(backtest_result),
        backtest_plots.interval_figure: lambda: backtest_plots.interval_figure(backtest_result, "conformal", 0.8),
        backtest_plots.residual_figure: lambda: backtest_plots.residual_figure(backtest_result),
        experiment_plots.spread_figure: lambda: experiment_plots.spread_figure(frame, "test_rmse"),
        experiment_plots.loss_curves_figure: lambda: experiment_plots.loss_curves_figure(_records()),
    }


def _all_builders() -> set:
    return {fn for module in (figures, run_plots, backtest_plots, experiment_plots)
            for name, fn in inspect.getmembers(module, inspect.isfunction)
            if name.endswith("_figure") and fn.__module__ == module.__name__}


def test_every_figure_builder_on_a_long_series_draws_only_what_the_bundle_holds(candles, predictions, backtest_result):
    builders = _builders(candles, predictions, backtest_result)
    assert set(builders) == _all_builders(), "a new figure builder: add it here"
    for builder, make in builders.items():
        fig = make()
        assert fig.data, builder.__name__
        assert {t.type for t in fig.data} <= charts.TRACES, builder.__name__
        charts.figure_json(fig)  # what the page sends; raises for a trace the bundle lacks
        assert max(len(t.x) for t in fig.data if t.x is not None) <= figures.MAX_POINTS, builder.__name__
