import tracemalloc

import numpy as np
import pandas as pd
import pytest

from bench._common import PastSampler  # the tutorial's sampler, verbatim: the reference to match
from pricecast.prep.windows import WindowError, WindowSpec, latest_window, make_windows, split_bounds

from ..conftest import make_candles


@pytest.mark.parametrize("sliding", [True, False])
def test_matches_the_seed_sampler_within_one_part(sliding):
    frame = make_candles(500)
    n, k = 20, 4
    spec = WindowSpec(n=n, k=k, stride=1 if sliding else n + k, split=(1.0, 0.0, 0.0))
    part = make_windows(frame, spec, require=("train",)).train
    seed_x, seed_y = PastSampler(n, k, sliding).transform(frame[["close"]].to_numpy()[:, None, :])
    m = min(len(part), len(seed_x))
    assert m > 0 and abs(len(part) - len(seed_x)) <= 1  # the seed drops a full last window in one branch
    np.testing.assert_array_equal(part.x[:m, :, 0], seed_x[:m, :, 0])
    np.testing.assert_array_equal(part.y[:m], seed_y[:m, :, 0])


def test_windows_are_views_and_never_straddle_a_boundary():
    frame = make_candles(1000)
    spec = WindowSpec(n=30, k=5, features=("close", "volume"))
    wset = make_windows(frame, spec)
    bounds = split_bounds(len(frame), spec.split)
    for name, part in wset.parts.items():
        assert np.shares_memory(part.x, wset.values), "inputs must be views, not copies"
        assert np.shares_memory(part.y, wset.target)
        a, b = bounds[name]
        first_input = part.origin - spec.n + 1
        last_target = part.origin + spec.k
        assert first_input.min() >= a and last_target.max() < b, name
        # what the view shows is exactly the series at those rows
        i = len(part) // 2
        np.testing.assert_array_equal(part.x[i], wset.values[first_input[i] : part.origin[i] + 1])
        np.testing.assert_array_equal(part.y[i], wset.target[part.origin[i] + 1 : last_target[i] + 1])
    sizes = wset.sizes()
    assert sizes["train"]["rows"] == 700 and sizes["train"]["windows"] == 700 - 35 + 1


def test_a_million_candles_cost_no_window_copies():
    rows = 1_000_000
    index = pd.date_range("2020-01-01", periods=rows, freq="min", tz="UTC", name="time")
    values = np.linspace(1, 2, rows)
    frame = pd.DataFrame({c: values for c in ("open", "high", "low", "close", "volume")}, index=index)
    spec = WindowSpec(n=256, k=16, features=("open", "high", "low", "close", "volume"))
    tracemalloc.start()
    wset = make_windows(frame, spec)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    input_bytes = rows * 5 * 8
    assert len(wset.train) > 690_000
    # The seed's fancy indexing would need ~rows*272*5*8 bytes (~11 GB); views need about the input.
    assert peak < 2 * input_bytes


def test_too_short_part_says_what_to_change():
    frame = make_candles(200)
    with pytest.raises(WindowError, match=r"N\+K = 40\+5 = 45 steps is longer than the validation part \(30 of 200"):
        make_windows(frame, WindowSpec(n=40, k=5))


@pytest.mark.parametrize(
    "spec, message",
    [
        (WindowSpec(n=0, k=1), "at least 1"),
        (WindowSpec(features=("close", "vwap")), "unknown input feature"),
        (WindowSpec(split=(0.5, 0.2, 0.2)), "add up to 1"),
        (WindowSpec(split=(0.0, 0.5, 0.5)), "train above 0"),
    ],
)
def test_bad_specs(spec, message):
    with pytest.raises(WindowError, match=message):
        spec.check()


def test_an_empty_test_share_is_refused_when_training():
    with pytest.raises(WindowError, match=r"longer than the test part \(0 of 200 candles, 0%\)"):
        make_windows(make_candles(200), WindowSpec(n=5, k=2, split=(0.8, 0.2, 0.0)))


def test_latest_window_is_the_last_n_rows():
    frame = make_candles(50)
    x = latest_window(frame, WindowSpec(n=7, k=2))
    np.testing.assert_array_equal(x[0, :, 0], frame["close"].to_numpy()[-7:])


def test_example_counts_refuse_a_setup_that_cannot_learn_and_say_how_to_fix_it():
    from pricecast.prep.windows import example_counts

    # The seed tutorial's 5-minute setup (N=256, K=16, non-overlapping) on ~13 years of daily candles.
    frame = make_candles(3270, freq="1D")
    seed = WindowSpec(n=256, k=16, stride=272, split=(0.8, 0.1, 0.1))
    counts = example_counts(make_windows(frame, seed), batch_size=8)
    assert (counts.train, counts.val, counts.test) == (9, 1, 1) and not counts.ok
    assert "9 training example" in counts.errors[0] and "sliding windows" in counts.errors[0]
    assert "5-minute" in counts.errors[0] and "smaller N+K" in counts.errors[0]

    sliding = example_counts(make_windows(frame, WindowSpec(n=30, k=5)), batch_size=64)
    assert sliding.ok and not sliding.errors and not sliding.warnings and sliding.train > 2000

    few = example_counts(make_windows(make_candles(600), WindowSpec(n=30, k=5)), batch_size=32)
    assert few.ok and few.warnings and "training examples" in few.warnings[0]
    # Hourly data already: more of it helps, "finer candles instead of daily" does not apply.
    assert "longer stretch of these candles (now 600 over 24 days)" in few.warnings[0]
    assert "instead of daily" not in few.warnings[0]
    one_batch = example_counts(make_windows(make_candles(600), WindowSpec(n=30, k=5)), batch_size=1024)
    assert not one_batch.ok and "fewer than one batch (1024)" in one_batch.errors[0]
