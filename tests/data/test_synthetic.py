"""The signal sandbox: ``synthetic:pattern?...`` refs, their knobs, and the candles they make."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pricecast.data.datasets import display_name, kind_of, link_data_problem, load_data
from pricecast.data.synthetic import KNOBS, SyntheticError, load_synthetic, parse_ref, synthetic_ref
from pricecast.errors import PricecastError
from pricecast.evaluation.predictability import autocorrelation
from pricecast.spec_io import spec_from_link, spec_from_yaml, spec_to_params, spec_to_yaml
from pricecast.specs import RunSpec

FLAT = "synthetic:pattern?noise=0&daily=0"


def _changes(frame: pd.DataFrame) -> np.ndarray:
    return np.diff(np.log(frame["close"].to_numpy()))


def test_same_ref_same_candles_other_seed_other_candles():
    a = load_synthetic("synthetic:pattern?noise=0.5&seed=3")
    b = load_data("synthetic:pattern?seed=3,noise=0.5").candles  # knob order and separator do not matter
    pd.testing.assert_frame_equal(a, b)
    c = load_synthetic("synthetic:pattern?noise=0.5&seed=4")
    assert not np.allclose(a["close"], c["close"])
    assert list(a.columns) == ["open", "high", "low", "close", "volume"] and len(a) == KNOBS["length"].default


def test_candles_are_valid_and_the_index_follows_length_and_timeframe():
    frame = load_synthetic("synthetic:pattern?length=500&timeframe=15m&noise=1&regimes=3&ar=0.4&trend=50")
    assert len(frame) == 500 and frame.index[1] - frame.index[0] == pd.Timedelta(minutes=15)
    assert (frame["high"] >= frame[["open", "close"]].max(axis=1)).all()
    assert (frame["low"] <= frame[["open", "close"]].min(axis=1)).all()
    assert (frame["volume"] > 0).all()


def test_each_knob_does_what_it_says():
    flat = load_synthetic(FLAT)["close"]
    assert np.allclose(flat, 100.0)  # nothing on: a constant price
    up = load_synthetic(FLAT + "&trend=100")["close"]
    assert up.iloc[-1] > up.iloc[0] and (np.diff(up) > 0).all()
    # A daily cycle on hourly candles repeats every 24 candles; on daily candles it cannot show.
    daily = _changes(load_synthetic("synthetic:pattern?noise=0"))
    assert autocorrelation(daily, 24)[23] > 0.9
    assert np.allclose(load_synthetic("synthetic:pattern?noise=0&timeframe=1d")["close"], 100.0)
    weekly = _changes(load_synthetic("synthetic:pattern?noise=0&daily=0&weekly=2&timeframe=1d"))
    assert autocorrelation(weekly, 7)[6] > 0.9
    noisy = _changes(load_synthetic("synthetic:pattern?noise=2&daily=0"))
    assert noisy.std() == pytest.approx(0.02, rel=0.1) and abs(autocorrelation(noisy, 1)[0]) < 0.1
    momentum = _changes(load_synthetic("synthetic:pattern?noise=2&daily=0&ar=0.6"))
    assert autocorrelation(momentum, 1)[0] == pytest.approx(0.6, abs=0.06)
    switching = _changes(load_synthetic("synthetic:pattern?noise=1&daily=0&regimes=6&length=6000"))
    sizes = [part.std() for part in np.array_split(switching, 30)]
    assert max(sizes) / min(sizes) > 1.5  # the shocks' size changes from regime to regime


def test_the_ref_is_spelled_one_way():
    assert synthetic_ref({k.name: k.default for k in KNOBS.values()}) == "synthetic:pattern"
    recipe = parse_ref("  synthetic:Pattern?seed=3 , noise=0.50 ")
    assert recipe.ref == "synthetic:pattern?noise=0.5&seed=3"
    assert parse_ref(recipe.ref).values == recipe.values
    assert "not a market" in recipe.lines()[0] and "seed 3" in recipe.lines()[0]


@pytest.mark.parametrize("ref, words", [
    ("synthetic:wave", ["no synthetic generator 'wave'", "pattern"]),
    ("synthetic:pattern?nois=1", ["unknown knob 'nois'", "noise, daily"]),
    ("synthetic:pattern?noise=loud", ["noise must be a number from 0 to 3", "'loud'"]),
    ("synthetic:pattern?noise=4", ["noise must be a number from 0 to 3"]),
    ("synthetic:pattern?noise=nan", ["noise must be a number"]),
    ("synthetic:pattern?length=10", ["length must be a whole number from 200 to 50,000"]),
    ("synthetic:pattern?seed=1.5", ["seed must be a whole number"]),
    ("synthetic:pattern?timeframe=2h", ["timeframe must be one of 5m, 15m, 1h, 4h, 1d"]),
    ("synthetic:pattern?seed", ["seed needs a value"]),
    ("synthetic:pattern?seed=1&seed=2", ["seed is given twice"]),
])
def test_a_bad_knob_is_named(ref, words):
    with pytest.raises(SyntheticError) as info:
        load_data(ref)
    assert isinstance(info.value, PricecastError)
    assert all(w in str(info.value) for w in words), str(info.value)
    assert link_data_problem(ref) == str(info.value)  # a link gets the same message


def test_synthetic_refs_are_a_kind_of_data_links_and_yaml_may_name():
    ref = "synthetic:pattern?noise=0.5&seed=3"
    assert kind_of(ref) == kind_of(ref + "#clean") == "synthetic"
    assert display_name(ref) == ref  # it says "synthetic" itself
    assert link_data_problem(ref) is None
    spec = RunSpec(data=ref)
    assert spec_to_params(spec)["data"] == ref
    linked, dropped = spec_from_link(spec_to_params(spec), data_problem=link_data_problem)
    assert linked.data == ref and not dropped
    assert spec_from_yaml(spec_to_yaml(spec)).data == ref
    clean = load_data(ref + "#clean")
    assert len(clean.candles) == KNOBS["length"].default and not clean.warnings
