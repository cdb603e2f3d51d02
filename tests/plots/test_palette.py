"""One palette: a series keeps its colour between Results' tabs (drift once changed colour between the
main chart and the walk-forward backtest's), and trials and compared runs take theirs from one cycle."""
from __future__ import annotations

import pandas as pd

from pricecast.plots import palette
from pricecast.plots.backtest import fold_error_figure, horizon_error_figure
from pricecast.plots.experiments import spread_figure
from pricecast.plots.figures import actual_vs_predicted_figure

from .test_every_figure import _records, backtest_result, candles, predictions  # noqa: F401 (fixtures)


def _colour(trace) -> str:
    return trace.marker.color if trace.type == "bar" else trace.line.color


def test_a_series_has_one_colour_on_every_tab(predictions, backtest_result):  # noqa: F811
    main = actual_vs_predicted_figure(predictions, ("test",), 1, ("persistence", "drift", "moving_average"))
    colours = {t.name.split(" ")[0].lower(): _colour(t) for t in main.data}
    assert colours["drift"] == palette.color("drift")
    assert colours["persistence"] == palette.color("persistence")
    assert colours["model"] == palette.color("network")
    folds = fold_error_figure(backtest_result, baselines=("persistence", "drift", "moving_average"))
    by_name = {t.name: _colour(t) for t in folds.data}
    assert by_name["Drift"] == colours["drift"] and by_name["Model"] == colours["model"]
    assert by_name["Moving average"] == palette.color("moving_average")
    horizon = horizon_error_figure(backtest_result)
    assert {t.name: _colour(t) for t in horizon.data}["Persistence (tomorrow = today)"] == colours["persistence"]


def test_trials_take_the_cycle_in_order_and_never_persistences_grey():
    fig = spread_figure(pd.DataFrame(_records()).drop(columns="history"), "test_rmse")
    dots = [t for t in fig.data if t.meta == "trials"]
    assert [t.marker.color for t in dots] == [palette.cycle(0), palette.cycle(1)]
    assert palette.color("persistence") not in palette.CYCLE
