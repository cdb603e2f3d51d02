"""bench/sandbox.py's pure parts: the volume setup per series, when a verdict agrees with a network, the
tables. No training here: the benchmark itself is run by hand (docs/BENCHMARKS.md, section 9)."""
from __future__ import annotations

from bench.sandbox import NOISES, agrees, markdown, volume_spec
from pricecast.data.synthetic import KNOBS
from pricecast.spec_io import validate_spec

OK = {"status": "ok", "skill": 0.2, "ratio": 0.8, "p_value": 0.0001, "fold_wins": 3, "folds_done": 3, "seconds": 9.0}
FLAT = {**OK, "skill": 0.0, "ratio": 1.0, "p_value": 0.9}


def test_the_sweep_runs_from_the_default_noise_to_the_highest():
    assert NOISES[0] == KNOBS["noise"].default and NOISES[-1] == KNOBS["noise"].hi


def test_volume_uses_the_clock_it_has():
    hourly, daily = volume_spec("BTC-USD-1H"), volume_spec("AAPL")
    validate_spec(hourly)
    assert hourly.window.target == "volume" and hourly.scaling == "standard"
    assert "hour_sin" in hourly.window.features and "hour_sin" not in daily.window.features


def test_a_verdict_agrees_when_the_network_does_what_it_said():
    assert agrees("predictable", OK) and agrees("random_walk", FLAT)
    assert not agrees("predictable", FLAT) and not agrees("random_walk", OK)
    assert agrees("weak", OK) and agrees("weak", FLAT)
    assert agrees("predictable", {"status": "failed", "reason": "x"}) is None


def test_tables_name_every_row():
    sandbox = [{"ref": "synthetic:pattern", "verdict": "predictable", "linear_skill": 0.8, "decision": OK,
                "network": OK}]
    verdicts = [{"series": "AAPL", "target": "close", "n": 30, "k": 5, "verdict": "random_walk",
                 "linear_skill": -0.01, "network": FLAT, "agrees": True}]
    text = markdown(sandbox, verdicts)
    assert "| `synthetic:pattern` | predictable (+80.0%) | +20.00% (p <0.001, 3/3 folds, 9 s)" in text
    assert "| AAPL | close, 30, 5 | random_walk (-1.0%) | +0.00% (p 0.900, 3/3 folds, 9 s) | yes |" in text
