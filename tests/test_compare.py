"""The what-if comparison of saved runs: settings that differ, scores side by side, the paired test
on shared test forecasts, run labels, the "repeat them" experiment and ``runs compare --json``."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pricecast.catalogue import with_overrides
from pricecast.cli.main import main
from pricecast.compare import CompareError, compare_runs, network_forecasts, repeat_experiment
from pricecast.plots.runs import compare_forecasts_figure
from pricecast.presets import PRESETS, setup_label
from pricecast.specs import RunSpec

DEFAULT = PRESETS["default"].spec


def saved_run(root: Path, name: str, spec: RunSpec, noise: float, *, seed: int = 0, windows: int = 120,
              k: int = 2, start: str = "2024-01-01", offset: float = 0.0, fell_back: bool = False) -> Path:
    """A run folder as save_run writes it, with test forecasts ``noise`` away from a shared random
    walk (``offset`` shifts the actual values: another target on the same times)."""
    folder = root / name
    folder.mkdir(parents=True)
    times = pd.date_range(start, periods=windows + k + 5, freq="D", tz="UTC")
    walk = 100 + np.cumsum(np.random.default_rng(7).normal(size=len(times))) + offset
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(windows):
        for s in range(1, k + 1):
            actual = walk[i + s]
            rows.append({"part": "test" if i >= 20 else "val", "origin_time": times[i], "step": s,
                         "time": times[i + s], "actual": actual, "predicted": walk[i] if fell_back else actual,
                         "persistence": walk[i], "network": actual + rng.normal(scale=noise)})
    frame = pd.DataFrame(rows)
    frame.to_csv(folder / "predictions.csv", index=False)
    test = frame[frame["part"] == "test"]
    rmse = float(np.sqrt(((test["network"] - test["actual"]) ** 2).mean()))
    pers = float(np.sqrt(((test["persistence"] - test["actual"]) ** 2).mean()))
    network = {"rmse": rmse, "skill": 1 - rmse / pers}
    used = {"rmse": pers, "skill": 0.0} if fell_back else network
    (folder / "spec.json").write_text(json.dumps(spec.to_dict()))
    (folder / "metrics.json").write_text(json.dumps({
        "test": {**used, "persistence_rmse": pers, "network": network},
        "decision": {"choice": "persistence" if fell_back else "network", "p_value": 0.3 if fell_back else 0.001}}))
    (folder / "history.csv").write_text("epoch,loss,val_loss\n1,0.5,0.6\n2,0.4,0.5\n")
    (folder / "model.keras").write_bytes(b"not opened here")
    return folder


def test_labels_say_what_differs_from_the_preset():
    assert setup_label(DEFAULT) == "GRU"
    assert setup_label(with_overrides(DEFAULT, {"n": 60}).replace(preset="custom (from default)")) == "GRU · N=60"
    assert setup_label(with_overrides(DEFAULT, {"arch": "lstm", "dropout": 0.2})) == "LSTM · dropout=0.2"
    assert setup_label(DEFAULT.replace(data="sample:IBM")) == "GRU"  # the data is shown beside, not in it
    tsla = PRESETS["tsla-lstm"].spec
    assert setup_label(tsla) == "tsla-lstm"
    assert setup_label(with_overrides(tsla, {"epochs": 10, "k": 2})) == "tsla-lstm · K=2 · epochs=10"
    assert setup_label(RunSpec(preset="")) == "GRU"  # no preset: just the network


def test_comparison_of_two_runs_that_differ_in_n(tmp_path):
    a = saved_run(tmp_path, "20260101-000000-a", with_overrides(DEFAULT, {"n": 60}), noise=1.0, seed=1)
    b = saved_run(tmp_path, "20260101-000100-b", DEFAULT, noise=1.0, seed=2, fell_back=True)
    c = compare_runs([a, b])
    assert c.differing == {"n": [60, 30]}
    assert [r.name for r in c.runs] == ["N=60", "N=30"]
    assert [r.label for r in c.runs] == ["GRU · N=60", "GRU"]
    assert [r.decision for r in c.runs] == ["network", "persistence"]
    assert c.runs[1].used_skill == 0.0 and c.runs[1].network_skill != 0.0  # the network's own, apart
    (pair,) = c.pairs
    assert pair.shared_forecasts == 200 and pair.shared_windows == 100  # the test part only
    assert pair.p is not None and pair.p > 0.05 and pair.better is None
    # both test parts are the same windows here, so the skills on the shared forecasts are the runs' own
    assert pair.skill_a == pytest.approx(c.runs[0].network_skill) and pair.skill_b == pytest.approx(c.runs[1].network_skill)
    assert pair.sentence.startswith(f"N=60 vs N=30: {pair.skill_a * 100:+.1f}% vs {pair.skill_b * 100:+.1f}% skill on "
                                    "their 200 shared test forecasts; ")
    assert "within noise (p = " in pair.sentence and "200 shared test forecasts" in pair.sentence
    assert c.notes and "loss curves" in c.notes[0]  # another N: losses on other windows
    frame = c.differing_frame()
    assert frame.loc["n"].tolist() == ["60", "30"]


def test_a_clearly_better_network_is_named_and_less_noise_wins(tmp_path):
    a = saved_run(tmp_path, "20260101-000000-a", with_overrides(DEFAULT, {"units": (64,)}), noise=3.0, seed=1)
    b = saved_run(tmp_path, "20260101-000100-b", DEFAULT, noise=0.5, seed=2)
    (pair,) = compare_runs([a, b]).pairs
    assert pair.p < 0.001 and pair.better == "units=32" and pair.rmse_b < pair.rmse_a
    assert "units=32's network forecasts better, beyond noise" in pair.sentence


def test_runs_on_other_data_or_target_get_no_p(tmp_path):
    a = saved_run(tmp_path, "20260101-000000-a", DEFAULT, noise=1.0)
    b = saved_run(tmp_path, "20260101-000100-b", DEFAULT.replace(data="sample:IBM"), noise=1.0, start="2023-01-01")
    c = compare_runs([a, b])
    assert c.pairs[0].p is None and "different data (sample:AAPL vs sample:IBM)" in c.pairs[0].sentence
    assert "no paired test" in c.pairs[0].sentence
    d = saved_run(tmp_path, "20260101-000200-d", with_overrides(DEFAULT, {"target": "volume"}), noise=1.0, offset=50)
    pair = compare_runs([a, d]).pairs[0]
    assert pair.p is None and pair.shared_forecasts == 0 and "same value at the same time" in pair.reason


def test_same_settings_are_named_by_label_and_time_and_cannot_be_an_experiment(tmp_path):
    a = saved_run(tmp_path, "20260101-000000-a", DEFAULT, noise=1.0, seed=1)
    b = saved_run(tmp_path, "20260101-000100-b", with_overrides(DEFAULT, {"seed": 5}), noise=1.0, seed=2)
    c = compare_runs([a, b])
    assert c.differing == {"seed": [DEFAULT.train.seed, 5]}
    with pytest.raises(CompareError, match="only their seed"):
        repeat_experiment(c)
    with pytest.raises(CompareError, match="at least two"):
        compare_runs([a, a])
    with pytest.raises(CompareError, match="not a run folder"):
        compare_runs([a, tmp_path / "nope"])


def test_repeat_trains_exactly_the_compared_setups(tmp_path):
    a = saved_run(tmp_path, "20260101-000000-a", with_overrides(DEFAULT, {"n": 60, "units": (64,)}), noise=1.0)
    b = saved_run(tmp_path, "20260101-000100-b", DEFAULT, noise=1.0, seed=2)
    exp = repeat_experiment(compare_runs([a, b]))
    assert exp.repeats == 3 and exp.base.window.n == 60
    assert [v.overrides for v in exp.variations] == [{"n": 60, "units": (64,)}, {"n": 30, "units": (32,)}]
    assert exp.name.startswith("whatif-") and exp.name == repeat_experiment(compare_runs([a, b])).name
    assert [v.label for v in exp.variations] == ["N=60 units=64", "N=30 units=32"]


def test_overlay_figure_draws_scatter_lines_only(tmp_path):
    a = saved_run(tmp_path, "20260101-000000-a", with_overrides(DEFAULT, {"n": 60}), noise=1.0, seed=1)
    b = saved_run(tmp_path, "20260101-000100-b", DEFAULT, noise=1.0, seed=2)
    fig = compare_forecasts_figure({"N=60": network_forecasts(a), "N=30": network_forecasts(b)})
    assert [t.type for t in fig.data] == ["scatter"] * 3
    assert [t.name for t in fig.data] == ["actual", "network: N=60", "network: N=30"]
    other = saved_run(tmp_path, "20260101-000200-c", with_overrides(DEFAULT, {"target": "volume"}), noise=1.0, offset=9)
    fig = compare_forecasts_figure({"close": network_forecasts(a), "volume": network_forecasts(other)})
    assert [t.name for t in fig.data][0] == "actual (close)" and "different values" in fig.layout.title.text


def test_cli_runs_compare_json(tmp_path, capsys):
    saved_run(tmp_path, "20260101-000000-a", with_overrides(DEFAULT, {"n": 60}), noise=1.0, seed=1)
    saved_run(tmp_path, "20260101-000100-b", DEFAULT, noise=1.0, seed=2)
    code = main(["runs", "compare", "20260101-000000-a", "20260101-000100-b", "--runs-dir", str(tmp_path), "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["differing"] == {"n": [60, 30]}
    assert [r["label"] for r in out["runs"]] == ["GRU · N=60", "GRU"]
    assert {"network_rmse", "network_skill", "decision", "decision_p", "used_rmse", "used_skill"} <= set(out["runs"][0])
    assert out["pairs"][0]["shared_forecasts"] == 200 and 0 <= out["pairs"][0]["p"] <= 1
    assert out["sentences"] == [out["pairs"][0]["sentence"]]
    assert main(["runs", "compare", "20260101-000000-a", "--runs-dir", str(tmp_path)]) != 0
    assert "at least two different runs" in capsys.readouterr().err
    code = main(["runs", "compare", "20260101-000000-a", "20260101-000100-b", "--runs-dir", str(tmp_path)])
    text = capsys.readouterr().out
    assert code == 0 and "Settings that differ" in text and "within noise" in text


def test_cli_writes_the_repeat_experiment_for_experiment_run(tmp_path, capsys):
    from pricecast.experiments.spec import ExperimentSpec

    a = saved_run(tmp_path, "20260101-000000-a", with_overrides(DEFAULT, {"n": 60}), noise=1.0, seed=1)
    b = saved_run(tmp_path, "20260101-000100-b", DEFAULT, noise=1.0, seed=2)
    path = tmp_path / "repeat.json"
    assert main(["runs", "compare", str(a), str(b), "--repeat-experiment", str(path), "--json"]) == 0
    assert "experiment run --spec" in capsys.readouterr().err
    exp = ExperimentSpec.from_dict(json.loads(path.read_text()))
    assert exp == repeat_experiment(compare_runs([a, b]))


def test_a_dashboard_run_is_labelled_like_the_same_run_from_the_command_line():
    """The dashboard asks every run for live charts (per-batch updates, validation forecasts each epoch);
    that changes no result, so it is neither in the label nor a difference between two runs."""
    from pricecast.presets import get_preset, setup_label
    from pricecast.service.dashboard import tune_for_dashboard

    spec = get_preset("default").spec
    assert setup_label(tune_for_dashboard(spec)) == setup_label(spec) == "GRU"
