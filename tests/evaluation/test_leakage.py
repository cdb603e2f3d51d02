"""Look-ahead checks: plant each leak by hand and see it caught; the honest setup passes."""
from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from pricecast.evaluation.leakage import (
    Finding,
    check_predictions,
    check_prepared,
    check_run,
    check_scaler,
    check_windows,
    paired_test,
    problems,
)
from pricecast.models.spec import ModelSpec
from pricecast.prep.scaling import Scaler
from pricecast.prep.windows import WindowPart, WindowSpec
from pricecast.specs import RunSpec, TrainSpec
from pricecast.training.pipeline import prepare

from ..conftest import make_candles

SPEC = RunSpec(data="unused", window=WindowSpec(n=10, k=3, features=("close", "volume")), scaling="minmax",
               model=ModelSpec(arch="mlp", units=(4,), residual=True), train=TrainSpec(epochs=1, patience=0))


@pytest.fixture
def prepared():
    return prepare(SPEC, candles=make_candles(300))


def codes(findings: list[Finding]) -> set[str]:
    return {f.code for f in findings}


def test_honest_setup_passes(prepared):
    assert check_prepared(prepared) == []
    passed = check_prepared(prepared, include_ok=True)
    assert codes(passed) == {"scaler", "windows", "target", "baselines"} and all(f.level == "ok" for f in passed)


@pytest.mark.parametrize("kind", ["minmax", "standard"])
def test_scaler_fitted_on_all_data_is_caught(prepared, kind):
    w = prepared.windows
    leaky = Scaler.fit(kind, w.values, w.target, w.spec.features, w.spec.target, (0, len(w.target)))
    found = check_prepared(replace(prepared, scaler=leaky))
    assert "scaler_after_cut" in codes(found) and "scaler_statistics" in codes(found)
    assert all(f.level == "warning" for f in found)
    assert "after the training cut" in next(f for f in found if f.code == "scaler_after_cut").message


def test_scaler_with_forged_fit_rows_is_caught_by_its_statistics(prepared):
    """Fitted on everything but claiming the training rows: only recomputing the statistics finds it."""
    w = prepared.windows
    leaky = Scaler.fit("minmax", w.values, w.target, w.spec.features, w.spec.target, (0, len(w.target)))
    leaky.fit_rows = w.train.rows
    found = check_scaler(leaky, w)
    assert codes(problems(found)) == {"scaler_statistics"}


def test_logratio_volume_statistics_are_checked_too(prepared):
    w = prepared.windows
    leaky = Scaler.fit("logratio", w.values, w.target, w.spec.features, w.spec.target, (0, len(w.target)))
    leaky.fit_rows = w.train.rows
    assert "scaler_statistics" in codes(check_scaler(leaky, w))


def _shifted_train(w, shift: int) -> WindowPart:
    """Training windows cut from rows shifted forward by ``shift``: the last ones straddle into validation."""
    n, k = w.spec.n, w.spec.k
    a, b = w.train.rows
    m = b - a - n - k + 1
    origin = a + n - 1 + shift + np.arange(m)
    x = np.stack([w.values[o - n + 1:o + 1] for o in origin])
    y = np.stack([w.target[o + 1:o + k + 1] for o in origin])
    h = np.stack([w.target[o - n + 1:o + 1] for o in origin])
    return WindowPart("train", x, y, h, origin, (a, b))


def test_straddling_windows_are_caught(prepared):
    w = prepared.windows
    w.parts["train"] = _shifted_train(w, shift=5)
    found = check_windows(w)
    assert "targets_straddle" in codes(found)
    straddle = next(f for f in found if f.code == "targets_straddle")
    assert straddle.details["windows"] == 5 and "next part" in straddle.message


def test_overlapping_parts_are_caught(prepared):
    w = prepared.windows
    a, b = w.val.rows
    # A validation part that starts 20 rows inside the training part.
    bad = replace(w.val, rows=(a - 20, b))
    w.parts["val"] = bad
    found = check_windows(w)
    assert "parts_overlap" in codes(found)


def test_windows_whose_values_come_from_elsewhere_are_caught(prepared):
    w = prepared.windows
    t = w.test
    # Targets taken from 3 rows later than the origins claim (a look-ahead hidden in the arrays).
    later = np.stack([w.target[o + 4:o + 4 + w.spec.k] for o in t.origin[:-3]])
    w.parts["test"] = WindowPart("test", t.x[:-3], later, t.history[:-3], t.origin[:-3], t.rows)
    assert "windows_misplaced" in codes(check_windows(w))


def test_repeating_the_last_price_is_called_out():
    rng = np.random.default_rng(0)
    last = 100 + np.cumsum(rng.normal(0, 1, 400))
    actual = last[:, None] + rng.normal(0, 1, (400, 3)).cumsum(axis=1)
    near_persistence = last[:, None] + rng.normal(0, 0.01, (400, 3))
    found = check_predictions(actual, near_persistence, last)
    assert [f.code for f in found] == ["repeats_last_price"]
    assert "mostly repeats the last price" in found[0].message
    good = actual + rng.normal(0, 0.2, actual.shape)  # a model that truly knows the future
    assert check_predictions(actual, good, last)[0].level == "ok"
    # another target is called by its own name, not a price
    volume = check_predictions(actual, near_persistence, last, "volume")[0].message
    assert "repeats the last volume" in volume and "price" not in volume and "the next volume = the last" in volume


def test_check_run_reads_the_test_predictions():
    rng = np.random.default_rng(1)
    m, k = 200, 2
    last = 50 + np.cumsum(rng.normal(0, 1, m))
    actual = last[:, None] + rng.normal(0, 1, (m, k))
    rows = pd.DataFrame({
        "part": "test", "origin_time": np.repeat(pd.date_range("2020", periods=m, tz="UTC"), k),
        "step": np.tile(np.arange(1, k + 1), m), "actual": actual.reshape(-1),
        "predicted": np.repeat(last, k) + 1e-4, "persistence": np.repeat(last, k),
    })
    run = SimpleNamespace(predictions=rows)
    assert codes(check_run(run)) == {"repeats_last_price"}


def test_paired_test_detects_a_real_difference_and_not_noise():
    rng = np.random.default_rng(2)
    t, p = paired_test(rng.normal(1.0, 1.0, 500), lag=2)
    assert t > 5 and p < 1e-4
    t, p = paired_test(rng.normal(0.0, 1.0, 500), lag=2)
    assert abs(t) < 4 and p > 1e-4
