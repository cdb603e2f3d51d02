"""``data show``: the sandbox's recipe and the predictability check, in text and JSON."""
from __future__ import annotations

import json

from pricecast.cli.main import main


def test_data_show_judges_predictability_for_the_given_window(capsys):
    assert main(["data", "show", "sample:BTC-USD-1H", "--target", "volume", "--n", "48", "--k", "6", "--json"]) == 0
    judged = json.loads(capsys.readouterr().out)["predictability"]
    assert (judged["n"], judged["k"], judged["verdict"]) == (48, 6, "predictable")
    assert judged["sentence"].startswith("sample:BTC-USD-1H volume is forecastable")
    assert judged["training_rows"] < 17000 * 0.71  # the training part only
    assert main(["data", "show", "sample:AAPL"]) == 0  # the default preset's window: close, N=30, K=5
    out = capsys.readouterr().out
    assert "Predictability of close for N=30, K=5 (training part only):" in out
    assert "sample:AAPL close behaves like a random walk" in out and "variance ratio over 5 steps" in out


def test_data_show_of_a_synthetic_series_shows_its_recipe(capsys):
    assert main(["data", "show", "synthetic:pattern?noise=0.5&seed=3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["synthetic"]["knobs"]["noise"] == 0.5 and out["synthetic"]["knobs"]["seed"] == 3
    assert "not a market" in out["synthetic"]["recipe"][0]
    assert out["predictability"]["verdict"] == "predictable"
    assert main(["data", "show", "synthetic:pattern"]) == 0
    assert capsys.readouterr().out.startswith("Recipe: synthetic data made up by pricecast (not a market)")


def test_data_show_names_a_bad_knob_and_a_window_too_long_to_judge(capsys):
    assert main(["data", "show", "synthetic:pattern?noise=9"]) == 2
    assert "noise must be a number from 0 to 3" in capsys.readouterr().err
    assert main(["data", "show", "synthetic:pattern?length=200", "--n", "100", "--json"]) == 0
    assert "too short to judge" in json.loads(capsys.readouterr().out)["predictability"]["error"]
