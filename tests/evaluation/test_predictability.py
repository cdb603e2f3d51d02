"""The predictability check: a random walk has nothing to forecast, an autoregressive series has, and
only the training part is looked at."""
from __future__ import annotations

import json

import numpy as np
import pytest

from pricecast.data.synthetic import load_synthetic
from pricecast.evaluation.predictability import (
    MAX_ROWS,
    PredictabilityError,
    check,
    check_candles,
    evidence_lines,
    linear_skill,
    variance_ratio,
)


def _random_walk(size: int = 4000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 100.0 * np.exp(np.cumsum(rng.normal(0, 0.01, size)))


def _ar_returns(size: int = 4000, phi: float = 0.5, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shocks = rng.normal(0, 0.01, size)
    returns = np.zeros(size)
    for t in range(1, size):
        returns[t] = phi * returns[t - 1] + shocks[t]
    return 100.0 * np.exp(np.cumsum(returns))


def test_a_random_walk_has_no_skill():
    result = check(_random_walk(), n=20, k=3, name="A random walk")
    assert result.verdict == "random_walk"
    assert abs(result.linear.skill) < 0.02 and result.linear.p_value > 0.05
    assert result.sentence.startswith("A random walk behaves like a random walk")
    assert "Expect no model to beat 'no change'" in result.sentence
    assert all(abs(v.ratio - 1) < 0.15 for v in result.variance_ratios)
    assert len(result.significant_lags) <= 3  # about 5% of 20 lags by chance


def test_autocorrelated_returns_are_forecastable():
    result = check(_ar_returns(), n=20, k=3, name="AR")
    assert result.verdict == "predictable" and result.linear.skill > 0.05 and result.linear.p_value < 0.001
    assert result.acf[0] == pytest.approx(0.5, abs=0.06) and 1 in result.significant_lags
    assert variance_ratio(np.diff(np.log(_ar_returns())), 4).ratio > 1.5  # momentum: K-step moves are larger
    assert "forecastable" in result.sentence


def test_only_the_training_part_is_looked_at():
    series = _random_walk()
    base = check(series, n=20, k=3)
    changed = series.copy()
    changed[int(len(series) * 0.7):] *= 3.0  # validation and test rows differ: nothing may change
    assert check(changed, n=20, k=3).to_dict() == base.to_dict()
    assert base.training_rows == 2800


def test_linear_skill_fits_each_fold_on_the_past_only():
    """A strong cycle from the last fold's first target on (row 1750 of 2000 for N=10, K=2): walked
    forward, that fold is forecast by a fit on the random walk before it (no skill); a fit that had seen
    the fold itself would forecast the cycle almost perfectly."""
    walk = _random_walk(2000)
    t = np.arange(2000)
    cycled = walk * np.exp(np.where(t >= 1750, 0.05 * np.sin(2 * np.pi * t / 8), 0.0))
    honest = linear_skill(cycled, n=10, k=2)
    assert honest.forecasts > 0 and honest.skill < 0.05
    leaky = linear_skill(cycled[1750:], n=10, k=2)  # the cycle seen from its own start: found at once
    assert leaky.skill > 0.5


def test_the_sandbox_is_predictable_until_the_noise_drowns_it():
    clean = check_candles(load_synthetic("synthetic:pattern"), "close", 30, 5, name="synthetic:pattern")
    assert clean.verdict == "predictable" and clean.linear.skill > 0.5
    assert clean.sentence.startswith("synthetic:pattern close is forecastable")
    noisy = check_candles(load_synthetic("synthetic:pattern?noise=3"), "close", 30, 5, name="noisy")
    assert noisy.verdict == "random_walk"


def test_zeros_and_negative_series_are_judged_in_their_own_units():
    rng = np.random.default_rng(1)
    volume = np.where(rng.random(3000) < 0.1, 0.0, rng.lognormal(5, 1, 3000))
    assert check(volume, 24, 6).transform == "log1p"
    returns = rng.normal(0, 1, 3000)
    result = check(returns, 24, 6)
    assert result.transform == "none" and np.isfinite(result.linear.rmse)


def test_too_little_data_and_unknown_columns_are_refused_plainly():
    with pytest.raises(PredictabilityError, match="too short to judge"):
        check(_random_walk(100), n=30, k=5)
    with pytest.raises(PredictabilityError, match="not a target or a column"):
        check_candles(load_synthetic("synthetic:pattern?length=300"), "volatility", 10, 2)


def test_the_result_is_plain_json_with_evidence_in_words():
    result = check(_ar_returns(), n=10, k=4, name="AR")
    data = json.loads(json.dumps(result.to_dict()))
    assert data["verdict"] == "predictable" and data["acf"]["lags"][0] == 1
    assert {v["q"] for v in data["variance_ratio"]} == {2, 4, 8, 16}
    lines = evidence_lines(result)
    assert lines[0].startswith("autocorrelation of its changes outside the 95% band at lag(s) 1")
    assert lines[-1].startswith("linear autoregression, walked forward over 4 folds")


def test_a_long_training_part_is_judged_on_its_newest_values_and_says_so():
    result = check(_random_walk(40_000), n=10, k=2)
    assert result.training_rows == MAX_ROWS
    assert result.notes == [f"judged on the newest {MAX_ROWS:,} of the training part's 28,000 values"]


def test_computed_targets_are_judged_against_their_own_naive_forecast():
    """Volatility (``range``) is computed from the candles; a log return is judged by the level it adds up to,
    whose 'no change' is the zero-return forecast (the last return would be a strawman)."""
    from pricecast.data.datasets import load_data

    candles = load_data("sample:BTC-USD-1H").candles
    assert check_candles(candles, "range", 48, 6, name="BTC").verdict == "predictable"
    assert check_candles(candles, "log_return", 48, 6, name="BTC").verdict == "random_walk"
