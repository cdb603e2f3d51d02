"""bench/quality.py's pure parts: which pairs run, fold sizes, pooling over folds, the table and the goals.
No training here: the benchmark itself is run by hand (docs/BENCHMARKS.md, section 8)."""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from bench.quality import data_timeframe, goal_statements, markdown_table, pairs, series_for
from pricecast.backtest.pooled import FoldScore, fold_size_for
from pricecast.backtest.pooled import pool_folds as summarize
from pricecast.data.samples import CATALOGUE
from pricecast.evaluation.leakage import paired_test
from pricecast.presets import PRESETS

GENERIC = PRESETS["default"].spec.data
DAILY = [name for name, s in CATALOGUE.items() if s.timeframe == "1d"]


def test_default_and_generic_presets_run_everywhere_bound_ones_on_their_timeframe():
    assert series_for(PRESETS["default"], GENERIC) == list(CATALOGUE)
    assert series_for(PRESETS["lecture-lstm"], GENERIC) == list(CATALOGUE)  # its data is the default's
    assert series_for(PRESETS["seed-lstm"], GENERIC) == ["BTC-USD-5M"]
    assert series_for(PRESETS["bithumb-eth-lstm"], GENERIC) == ["BTC-USD-1H"]
    assert series_for(PRESETS["tsla-lstm"], GENERIC) == DAILY and "TSLA" in DAILY and "AAPL" in DAILY


def test_a_market_reference_names_its_timeframe_a_csv_names_none():
    hourly = PRESETS["bithumb-eth-lstm"]
    market = replace(hourly, spec=hourly.spec.replace(data="binance:BTC/USDT:1h"))
    csv = replace(hourly, spec=hourly.spec.replace(data="/tmp/prices.csv"))
    assert data_timeframe("sample:BTC-USD-5M#clean") == "5m"
    assert series_for(market, GENERIC) == ["BTC-USD-1H"]
    assert series_for(csv, GENERIC) == list(CATALOGUE)


def test_pairs_say_why_a_pair_is_left_out():
    run, skipped = pairs(["default", "seed-lstm"], ["AAPL", "BTC-USD-5M"], every_series=False)
    assert run == [("default", "AAPL"), ("default", "BTC-USD-5M"), ("seed-lstm", "BTC-USD-5M")]
    assert [(s["preset"], s["series"]) for s in skipped] == [("seed-lstm", "AAPL")]
    assert "timeframe" in skipped[0]["why"]
    run, skipped = pairs(["seed-lstm"], ["AAPL"], every_series=True)
    assert run == [("seed-lstm", "AAPL")] and skipped == []


def test_folds_cover_the_test_share_but_never_less_than_k():
    assert fold_size_for(3270, 4, 0.2, 5) == 163
    assert fold_size_for(100, 10, 0.2, 16) == 16


def _fold(actual, predicted, last, seconds=None, epochs=None) -> FoldScore:
    return FoldScore(np.asarray(actual, float), np.asarray(predicted, float), np.asarray(last, float), seconds, epochs)


def test_ratio_is_pooled_over_every_test_point_not_averaged_over_folds():
    # fold 1: persistence errors of 10, the model's 5 (wins); fold 2: persistence 1, the model 2 (loses)
    a = _fold([[110.0], [90.0]], [[105.0], [95.0]], [100.0, 100.0], 3.0, 4)
    b = _fold([[101.0], [99.0]], [[103.0], [97.0]], [100.0, 100.0], 5.0, 6)
    s = summarize([a, b])
    assert s["ratio"] == pytest.approx(math.sqrt((25 + 25 + 4 + 4) / 4) / math.sqrt((100 + 100 + 1 + 1) / 4))
    assert s["ratio"] != pytest.approx((0.5 + 2.0) / 2)  # the mean of the fold ratios would say 1.25
    assert (s["fold_wins"], s["folds_done"], s["win_share"]) == (1, 2, 0.5)
    assert (s["forecasts"], s["points"]) == (4, 4)
    assert s["train_seconds_median"] == 4.0 and s["epochs_run_median"] == 5.0


def test_multi_step_windows_are_scored_per_window_with_k_minus_1_lags():
    rng = np.random.default_rng(0)
    k, m = 5, 300
    last = 100 + rng.normal(0, 1, m)
    actual = last[:, None] + rng.normal(0, 1, (m, k)).cumsum(axis=1)
    predicted = last[:, None] + 0.9 * (actual - last[:, None])  # a model that moves most of the way
    s = summarize([_fold(actual[:150], predicted[:150], last[:150]), _fold(actual[150:], predicted[150:], last[150:])])
    diff = ((predicted - actual) ** 2).mean(axis=1) - ((last[:, None] - actual) ** 2).mean(axis=1)
    assert (s["t"], s["p_value"]) == pytest.approx(paired_test(diff, lag=k - 1))
    assert s["ratio"] < 0.2 and s["p_value"] < 0.001 and s["fold_wins"] == 2
    assert (s["forecasts"], s["points"]) == (m, m * k)


def test_a_model_equal_to_persistence_scores_one_and_wins_no_fold():
    actual = [[101.0, 103.0], [99.0, 98.0], [100.5, 101.0]]
    last = [100.0, 100.0, 100.0]
    s = summarize([_fold(actual, [[100.0, 100.0]] * 3, last)])
    assert s["ratio"] == 1.0 and s["fold_wins"] == 0
    assert math.isnan(summarize([_fold([[100.0]] * 3, [[101.0]] * 3, [100.0] * 3)])["ratio"])  # no movement


def _row(preset, series, ratio, p, **extra) -> dict:
    return {"preset": preset, "series": series, "status": "ok", "ratio": ratio, "p_value": p, "n": 30, "k": 5,
            "folds": 4, "fold_size": 163, "forecasts": 636, "fold_wins": 3, "folds_done": 4,
            "train_seconds_median": 12.34, "epochs": 15, "epochs_run_median": 9.0, **extra}


def test_table_keeps_failed_pairs_with_their_reason():
    rows = [_row("default", "AAPL", 0.99871, 0.0004),
            {"preset": "seed-lstm", "series": "GOOG", "status": "failed", "n": 256, "k": 16, "folds": 4,
             "fold_size": 107, "epochs": 20, "reason": "BacktestError: 4 folds | leave 5\ncandles"}]
    text = markdown_table(rows).splitlines()
    assert text[0].count("|") == text[1].count("|") == text[2].count("|") == text[3].count("|")
    assert ("| default | AAPL | close | 30, 5 | 4 x 163 | 636 | 0.9987 | <0.001 | 3/4 | persistence | - | - | 12.3 "
            "| 15, 9 |") in text[2]
    assert "**failed**: BacktestError: 4 folds / leave 5 candles" in text[3]


def test_goals_state_met_not_met_and_what_was_not_run():
    everywhere = [_row("default", s, 0.999, 0.3) for s in CATALOGUE]
    goals = goal_statements(everywhere + [_row("seed-lstm", "BTC-USD-5M", 0.98, 0.01)])
    assert goals[0].startswith("Goal 1") and "MET." in goals[0] and "NOT" not in goals[0]
    assert "MET by seed-lstm on BTC-USD-5M" in goals[1]

    worse = [*everywhere[:-1], _row("default", list(CATALOGUE)[-1], 1.0004, 0.2)]
    goals = goal_statements(worse + [_row("seed-lstm", "BTC-USD-5M", 0.98, 0.2)])
    assert "NOT MET" in goals[0] and f"Worse than persistence on: {list(CATALOGUE)[-1]}" in goals[0]
    assert "NOT MET" in goals[1] and "best is seed-lstm on BTC-USD-5M" in goals[1]  # 0.98 but p = 0.2

    goals = goal_statements([_row("default", "AAPL", 0.99, 0.5)])
    assert "NOT MET" in goals[0] and "Not run on: MSFT" in goals[0] and "not measured" in goals[1]


def test_volume_goal_needs_skill_vs_persistence_and_a_significant_win_over_the_best_naive():
    volume = _row("btc-hourly-volume", "BTC-USD-1H", 0.80, 1e-9, target="volume", best_naive="moving_average",
                  skill_vs_best_naive=0.04, p_vs_best_naive=0.01)
    volatility = _row("btc-hourly-volatility", "BTC-USD-1H", 0.90, 1e-6, target="range", best_naive="ewma",
                      skill_vs_best_naive=-0.01, p_vs_best_naive=0.4)
    goals = goal_statements([volume, volatility])
    assert "Goal 3" in goals[-2] and ": MET:" in goals[-2] and "+20.0% vs persistence" in goals[-2]
    assert goals[-1].startswith("btc-hourly-volatility (no goal") and "-1.0% vs ewma" in goals[-1]
    not_significant = {**volume, "p_vs_best_naive": 0.2}
    assert any(g.startswith("Goal 3") and "NOT MET" in g for g in goal_statements([not_significant]))
    assert "| btc-hourly-volume | BTC-USD-1H | volume |" in markdown_table([volume])


def test_pooling_scores_the_model_against_each_folds_best_naive_forecast():
    # the model is off by 1, the fold's best naive forecast by 2: skill vs it = 1 - 1/2
    fold = FoldScore(np.array([[10.0]] * 4), np.array([[11.0]] * 4), np.array([5.0] * 4),
                     best_naive=np.array([[12.0]] * 4), best_naive_name="moving_average")
    s = summarize([fold, fold])
    assert s["best_naive"] == "moving_average" and s["best_naive_rmse"] == 2.0
    assert s["skill_vs_best_naive"] == pytest.approx(0.5)
