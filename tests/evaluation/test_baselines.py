"""Naive baselines per target, the seasonal naive on gaps, the choice on validation, zero-safe metrics."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pricecast.evaluation.baselines import (
    best_on_validation,
    choose_on_validation,
    fallback_candidates,
    naive_forecasts,
    next_forecasts,
    part_forecasts,
    seasonal_naive,
)
from pricecast.evaluation.leakage import check_baselines, check_target
from pricecast.evaluation.metrics import evaluate, forecast_metrics, metrics_table, with_best_naive
from pricecast.prep.targets import TARGETS
from pricecast.prep.windows import WindowSpec, make_windows

from ..conftest import make_candles


def _daily_cycle(rows: int = 24 * 40, seed: int = 0) -> pd.DataFrame:
    """Hourly candles whose volume follows the hour of the day (zero at 03:00), plus noise."""
    candles = make_candles(rows, "1h", seed)
    hour = candles.index.hour.to_numpy()
    rng = np.random.default_rng(seed)
    candles["volume"] = np.where(hour == 3, 0.0, 100 + 80 * np.sin(2 * np.pi * hour / 24) + rng.normal(0, 5, rows))
    return candles


def test_each_target_gets_its_own_baselines():
    history = np.arange(48, dtype=float).reshape(1, 48)
    times = pd.date_range("2024-01-01", periods=60, freq="1h", tz="UTC")
    series = np.arange(60, dtype=float)
    origin = np.array([47])
    assert set(naive_forecasts("close", history, 3)) == {"persistence", "drift", "moving_average"}
    volume = naive_forecasts("volume", history, 3, times, series, origin)
    assert set(volume) == {"persistence", "moving_average", "seasonal_day", "seasonal_week"}
    assert volume["seasonal_week"][0].tolist() == [47.0] * 3  # a week before the series began: the last value
    assert volume["moving_average"][0, 0] == pytest.approx(np.arange(24, 48).mean())  # one day of hourly candles
    assert volume["seasonal_day"][0].tolist() == [24.0, 25.0, 26.0]  # the same hours one day earlier
    assert "ewma" in naive_forecasts("range", history, 3, times, series, origin)
    returns = naive_forecasts("log_return", history, 3)
    assert returns["zero"].tolist() == [[0.0, 0.0, 0.0]]
    # no times (or daily data): no seasonal baseline
    assert "seasonal_day" not in naive_forecasts("volume", history, 3)
    daily = pd.date_range("2024-01-01", periods=60, freq="1D", tz="UTC")
    assert "seasonal_day" not in naive_forecasts("volume", history, 3, daily, series, origin)


def test_seasonal_naive_looks_up_by_time_not_by_rows_and_falls_back_on_gaps():
    times = pd.date_range("2024-01-01", periods=24 * 5, freq="1h", tz="UTC")
    # day 4 08:00 missing, and day 5 05:00-06:00: on day 5, 24 rows back is no longer one day back
    times = times.delete([80, 101, 102])
    series = np.arange(len(times), dtype=float) * 10
    origin = np.array([len(times) - 3])  # forecast the last two candles
    got = seasonal_naive(times, series, origin, 2, pd.Timedelta(days=1))
    want = [series[times.get_loc(times[o] - pd.Timedelta(days=1))] for o in (origin[0] + 1, origin[0] + 2)]
    assert got[0].tolist() == want
    assert series[origin[0] + 1 - 24] != want[0]  # a row offset would have been wrong
    # the day-earlier candle of a target is missing: the last known value instead
    at = times.get_loc(pd.Timestamp("2024-01-05 08:00", tz="UTC")) - 1
    filled = seasonal_naive(times, series, np.array([at]), 1, pd.Timedelta(days=1))
    assert filled[0, 0] == series[at]


def test_seasonal_naive_further_than_a_period_ahead_uses_two_periods_back():
    times = pd.date_range("2024-01-01", periods=24 * 4, freq="1h", tz="UTC")
    series = np.arange(len(times), dtype=float)
    got = seasonal_naive(times, series, np.array([50]), 30, pd.Timedelta(days=1))
    assert got[0, 0] == 27.0 and got[0, 23] == 50.0  # steps 1..24: one day back, at most the origin itself
    assert got[0, 24] == 27.0 and got[0, 29] == 32.0  # steps 25..30 lie beyond one day: two days back
    assert (got <= 50).all()  # never a value after the origin


def test_best_naive_is_chosen_on_validation_and_named_in_every_part():
    candles = _daily_cycle()
    wset = make_windows(candles, WindowSpec(n=48, k=6, features=("volume", "hour"), target="volume"))
    naive = {name: part_forecasts("volume", wset.times, wset.target, part) for name, part in wset.parts.items()}
    reports = {name: evaluate(part.y, np.asarray(part.history)[:, -1:].repeat(6, axis=1), part.history, naive[name])
               for name, part in wset.parts.items()}
    for report in reports.values():
        with_best_naive(report, best_on_validation(reports["val"]))
    assert reports["val"]["best_naive"] == "seasonal_day"  # a pure daily cycle: yesterday's hour wins
    assert reports["test"]["best_naive"] == "seasonal_day" and reports["test"]["skill_vs_best_naive"] < 0
    assert set(naive["test"]) == set(TARGETS["volume"].baselines)
    # the test part never chooses: a test report that favours another baseline changes nothing
    test = dict(reports["test"])
    test["moving_average"] = {**test["moving_average"], "rmse": 0.0}
    assert best_on_validation(reports["val"]) == "seasonal_day"
    assert best_on_validation({"baselines": ["persistence", "moving_average"], "persistence": {"rmse": 1.0},
                               "moving_average": {"rmse": 1.0}}) == "persistence"  # ties: persistence
    rows = metrics_table(reports["test"])
    assert any(r["forecaster"] == "seasonal_day (best naive)" for r in rows)


def test_mape_is_none_where_an_actual_is_zero_and_nothing_warns():
    actual = np.array([[0.0, 2.0], [1.0, 4.0]])
    with np.errstate(all="raise"):
        m = forecast_metrics(actual, actual + 1, np.array([1.0, 1.0]))
    assert m["mape"] is None and m["per_step"]["mape"][0] is None and m["per_step"]["mape"][1] == pytest.approx(37.5)
    report = with_best_naive(evaluate(actual, actual + 1, np.ones((2, 3))), "persistence")
    assert report["best_naive"] == "persistence" and report["skill_vs_best_naive"] == report["skill"]
    assert metrics_table(report)[0]["mape_%"] is None


@pytest.mark.parametrize("target, features", [("volume", ("volume", "hour")), ("range", ("range",)),
                                              ("log_return", ("close", "log_return")), ("close", ("close",))])
def test_lookahead_checks_cover_every_target_and_baseline(target, features):
    candles = _daily_cycle(24 * 20)
    wset = make_windows(candles, WindowSpec(n=24, k=30, features=features, target=target))
    assert [f.level for f in check_baselines(wset)] == ["ok"]
    assert [f.level for f in check_target(candles, wset)] == ["ok"]
    # a target that reads the next candle is caught
    wset.target[:] = np.roll(wset.target, -1)
    assert check_target(candles, wset)[0].code == "target_lookahead"


def test_a_baseline_that_reads_the_future_is_caught(monkeypatch):
    import pricecast.evaluation.leakage as leakage

    candles = _daily_cycle(24 * 10)
    wset = make_windows(candles, WindowSpec(n=24, k=3, features=("volume",), target="volume"))

    def peeking(target, history, k, times=None, series=None, origin=None):
        return {"peek": np.stack([series[o + 1: o + 1 + k] for o in origin])}

    monkeypatch.setattr(leakage, "naive_forecasts", peeking)
    finding = check_baselines(wset)[0]
    assert finding.code == "baseline_lookahead" and "peek" in finding.message


def test_part_forecasts_match_the_windows():
    candles = _daily_cycle(24 * 10)
    wset = make_windows(candles, WindowSpec(n=24, k=3, features=("volume",), target="volume"))
    f = part_forecasts("volume", wset.times, wset.target, wset.test)
    assert f["persistence"].shape == wset.test.y.shape
    assert np.array_equal(f["persistence"][:, 0], wset.test.history[:, -1])


def test_the_fallback_baseline_is_chosen_on_validation_without_a_model():
    candles = _daily_cycle()
    wset = make_windows(candles, WindowSpec(n=48, k=6, features=("volume", "hour"), target="volume"))
    name, forecasts = choose_on_validation(wset)
    assert name == "seasonal_day" and forecasts["val"].shape == wset.val.y.shape
    test = part_forecasts("volume", wset.times, wset.target, wset.test)
    assert np.array_equal(test[name], forecasts["test"])
    assert fallback_candidates("volume", part_forecasts("volume", wset.times, wset.target, wset.val), 6).keys() \
        == set(TARGETS["volume"].baselines)
    assert list(fallback_candidates("close", {"persistence": 1, "drift": 2}, 6)) == ["persistence"]
    assert fallback_candidates("volume", None, 6)["persistence"].shape == (0, 6)
    prices = make_windows(make_candles(400), WindowSpec(n=10, k=3))
    assert choose_on_validation(prices)[0] in ("persistence", "drift", "moving_average")


def test_the_next_forecast_of_a_seasonal_baseline_reads_the_same_hour_of_the_last_day():
    times = pd.date_range("2024-01-01", periods=24 * 3, freq="1h", tz="UTC")
    series = np.arange(len(times), dtype=float)
    future = pd.date_range(times[-1] + pd.Timedelta(hours=1), periods=3, freq="1h", tz="UTC")
    got = next_forecasts("volume", times, series, 24, future)
    assert got["seasonal_day"].tolist() == [[48.0, 49.0, 50.0]]  # 00:00..02:00 of the day before
    assert got["persistence"].tolist() == [[71.0] * 3] and got["moving_average"][0, 0] == pytest.approx(59.5)


def test_the_floor_generalises_a_run_falls_back_to_its_targets_best_naive_baseline():
    from pricecast.specs import RunSpec
    from pricecast.training.pipeline import run_decision

    candles = _daily_cycle()
    spec = RunSpec(window=WindowSpec(n=48, k=6, features=("volume", "hour"), target="volume"), scaling="standard")
    wset = make_windows(candles, spec.window)
    val = wset.val
    naive = part_forecasts("volume", wset.times, wset.target, val)
    # a network that only repeats the last value: no better than the daily cycle's seasonal naive
    decision = run_decision(spec, val, naive["persistence"], 3, naive)
    assert decision.fell_back and decision.choice == "seasonal_day" and "same time yesterday" in decision.note
    # a network as good as the seasonal naive plus a bit: it is used
    better = naive["seasonal_day"] + 0.9 * (np.asarray(val.y) - naive["seasonal_day"])
    assert run_decision(spec, val, better, 1, naive).choice == "network"
    # prices: 'no change' is the only fallback, whatever else is better on validation
    prices = RunSpec(window=WindowSpec(n=10, k=3), scaling="logratio")
    pw = make_windows(make_candles(400), prices.window)
    pn = part_forecasts("close", pw.times, pw.target, pw.val)
    assert run_decision(prices, pw.val, pn["drift"] * 1.05, 1, pn).baseline == "persistence"
