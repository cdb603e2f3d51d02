"""The decision between the network and a naive fallback, on validation forecasts (no Keras)."""
from __future__ import annotations

import numpy as np
import pytest

from pricecast.evaluation.decision import (
    Decision,
    candidates,
    chosen,
    decide,
    decision_of,
    scored,
    sentence,
)


def _series(m: int = 300, k: int = 2, seed: int = 0):
    rng = np.random.default_rng(seed)
    actual = 100 + rng.normal(0, 1, (m, k))
    persistence = np.full((m, k), 100.0)
    return actual, persistence, rng


def test_a_network_clearly_better_on_validation_is_used():
    actual, persistence, rng = _series()
    network = actual + rng.normal(0, 0.2, actual.shape)  # far closer than 'no change'
    d = decide(actual, network, {"persistence": persistence}, epochs=10)
    assert d.choice == "network" and not d.fell_back and d.baseline == "persistence"
    assert d.p_value < 0.05 and d.p_needed == 0.05
    assert d.note.startswith("Using the network") and "best of 10 epochs" in d.note
    assert d.network_label() == "network"


def test_a_network_within_noise_falls_back_and_bonferroni_counts_the_epochs():
    actual, persistence, rng = _series(seed=1)
    network = persistence + rng.normal(0, 0.05, actual.shape)  # 'no change' plus a little noise
    one = decide(actual, network, {"persistence": persistence}, epochs=1, p_needed=1.0)
    many = decide(actual, network, {"persistence": persistence}, epochs=20, p_needed=1.0)
    assert many.p_value == pytest.approx(min(1.0, one.p_value * 20))
    d = decide(actual, network, {"persistence": persistence}, epochs=20)
    assert d.choice == "persistence" and d.fell_back
    assert d.note.startswith("Using 'no change' (persistence), not the network")
    assert d.network_label().startswith("network (not used: no better than no change on validation, p = ")
    np.testing.assert_array_equal(chosen(d, network, {"persistence": persistence}), persistence)


def test_off_always_uses_the_network_and_no_validation_says_so():
    actual, persistence, _ = _series()
    worse = persistence + 5.0
    off = decide(actual, worse, {"persistence": persistence}, enabled=False)
    assert off.choice == "network" and off.p_value is None and "fallback" in off.note and "off" in off.note
    empty = decide(np.empty((0, 2)), np.empty((0, 2)), {"persistence": np.empty((0, 2))})
    assert empty.choice == "network" and "no validation part" in empty.note


def test_the_candidate_is_the_best_baseline_on_validation():
    # another engineer's target-specific baselines plug in as more names: the best on validation is held up
    actual, persistence, rng = _series(seed=2)
    close = actual + rng.normal(0, 0.1, actual.shape)
    network = actual + rng.normal(0, 0.5, actual.shape)
    d = decide(actual, network, {"persistence": persistence, "seasonal_naive": close})
    assert d.baseline == "seasonal_naive" and d.choice == "seasonal_naive"
    assert "seasonal naive" in d.note
    np.testing.assert_array_equal(chosen(d, network, {"persistence": persistence, "seasonal_naive": close}), close)


def test_scored_keeps_the_network_apart_from_the_decision():
    actual, persistence, rng = _series(k=3, seed=4)
    history = np.full((len(actual), 5), 100.0)
    network = persistence + rng.normal(0, 2.0, actual.shape)  # worse than 'no change'
    d = decide(actual, network, candidates(history, 3))
    assert d.fell_back
    report = scored(actual, network, history, d)
    assert report["decision"] == "persistence" and report["decision_p"] == d.p_value
    assert report["rmse"] == pytest.approx(report["persistence_rmse"]) and report["skill"] == pytest.approx(0.0)
    own = report["network"]
    assert {"rmse", "mae", "mape", "direction", "skill", "skill_per_step", "per_step"} <= own.keys()
    assert own["rmse"] > report["persistence_rmse"] and own["skill"] < 0
    kept = scored(actual, actual + 0.01, history, Decision("network", "persistence", 0.001, 0.05, "used"))
    assert kept["rmse"] == pytest.approx(kept["network"]["rmse"]) and kept["decision"] == "network"


def test_saved_decisions_round_trip_and_older_runs_keep_their_note():
    d = Decision("persistence", "persistence", 0.064, 0.05, "Using 'no change' (persistence), not the network: x.")
    metrics = {"decision": d.to_dict()}
    assert decision_of(metrics) == d
    assert sentence(metrics).startswith("Using 'no change'") and "network's own forecast is still shown" in sentence(metrics)
    old = {"persistence_floor": {"note": "Epoch 3 beat persistence on validation."}}
    assert decision_of(old) is None and sentence(old) == "Epoch 3 beat persistence on validation."


def test_the_metrics_table_shows_the_network_first_and_marks_the_forecast_used():
    from pricecast.plots.runs import metrics_frame

    actual, persistence, rng = _series(k=2, seed=5)
    history = np.full((len(actual), 5), 100.0)
    network = persistence + rng.normal(0, 2.0, actual.shape)
    report = scored(actual, network, history, decide(actual, network, candidates(history, 2)))
    frame = metrics_frame(report)
    assert list(frame.index)[0] == "network" and frame.loc["network", "used"] == ""
    assert frame.loc["persistence (last value)", "used"] == "yes"
    # persistence never moves: no direction to hit, said as n/a (never the text "None")
    assert frame.loc["persistence (last value)", "direction"] == "n/a"
    assert frame.loc["network", "direction"].endswith("%")
