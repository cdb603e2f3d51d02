import numpy as np
import pytest

from pricecast.evaluation.metrics import baseline_forecasts, evaluate, forecast_metrics, metrics_table, skill


def test_metrics_on_known_numbers():
    actual = np.array([[10.0, 12.0], [20.0, 18.0]])
    predicted = np.array([[11.0, 11.0], [20.0, 20.0]])
    last = np.array([10.5, 19.0])
    m = forecast_metrics(actual, predicted, last)
    assert m["rmse"] == pytest.approx(np.sqrt((1 + 1 + 0 + 4) / 4))
    assert m["mae"] == pytest.approx(1.0)
    assert m["mape"] == pytest.approx(np.mean([0.1, 1 / 12, 0.0, 2 / 18]) * 100)
    # moves from last: pred +0.5,+0.5,+1,+1 ; actual -0.5,+1.5,+1,-1
    assert m["direction"] == pytest.approx(0.5)
    assert m["per_step"]["rmse"] == pytest.approx([np.sqrt(0.5), np.sqrt(5 / 2)])


def test_baselines_and_skill():
    history = np.array([[1.0, 2.0, 3.0], [5.0, 5.0, 5.0]])
    b = baseline_forecasts(history, 2)
    np.testing.assert_allclose(b["persistence"], [[3, 3], [5, 5]])
    np.testing.assert_allclose(b["drift"], [[4, 5], [5, 5]])
    np.testing.assert_allclose(b["moving_average"], [[2, 2], [5, 5]])
    assert skill(1.0, 2.0) == 0.5 and skill(2.0, 2.0) == 0.0


def test_evaluate_reports_model_next_to_persistence():
    rng = np.random.default_rng(0)
    history = 100 + rng.normal(0, 1, (50, 10)).cumsum(axis=1)
    actual = history[:, -1:] + rng.normal(0, 1, (50, 3))
    report = evaluate(actual, np.repeat(history[:, -1:], 3, axis=1), history)
    assert report["skill"] == pytest.approx(0.0)  # persistence against itself
    assert report["persistence"]["direction"] is None  # a forecast that never moves has no direction
    rows = metrics_table(report)
    assert [r["forecaster"] for r in rows] == ["model", "persistence", "drift", "moving_average"]


def test_range_note_says_why_when_prices_leave_the_training_range_under_a_bounded_setup():
    from pricecast.evaluation.diagnostics import range_note

    train = np.linspace(10, 25, 200)[:, None]
    above = np.linspace(40, 90, 50)[:, None]  # like daily AAPL: every test price above the training range
    note = range_note(train, above, "test", "min-max scaling")
    assert note.startswith("100% of the test prices (40 to 90) lie outside the training range (10 to 25)")
    assert "min-max scaling" in note and note.count(".") <= 3  # one sentence
    assert range_note(train, above, "test", "") == ""  # log-ratio: nothing bounds it
    assert range_note(train, np.linspace(12, 24, 50)[:, None], "test", "min-max scaling") == ""  # inside
