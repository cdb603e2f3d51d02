"""Experiments: grid, presets, summary statistics, resume after a kill, the local process pool,
Ray parity (same seeds -> same trial results), the CLI's JSON and the Experiments page."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from pricecast.experiments import core as ex
from pricecast.models.builders import ModelSpec
from pricecast.prep.windows import WindowSpec
from pricecast.specs import RunSpec, TrainSpec

REPO = Path(__file__).resolve().parents[2]
METRICS = ("test_rmse", "persistence_rmse", "skill", "best_val_loss", "val_rmse", "epochs_run")


def tiny(name: str, variations: tuple[ex.Variation, ...] | None = None, repeats: int = 2) -> ex.ExperimentSpec:
    """2 settings x 2 repeats x 1 epoch of a 4-unit GRU on the last 240 AAPL days: seconds per trial."""
    base = RunSpec(data="sample:AAPL", window=WindowSpec(n=10, k=2), scaling="logratio",
                   model=ModelSpec(arch="gru", units=(4,)), train=TrainSpec(epochs=1, batch_size=64, patience=0))
    return ex.ExperimentSpec(name=name, base=base, variations=variations or ex.grid(units=[(4,), (6,)]),
                             repeats=repeats, base_seed=7, last_rows=240)


def by_key(exp: ex.Experiment) -> dict[str, dict]:
    return {r["key"]: r for r in exp.records}


# ---- pure logic --------------------------------------------------------------------------------
def _records(values: dict[str, list[float]]) -> list[dict]:
    out = []
    for vid, xs in values.items():
        for i, x in enumerate(xs):
            out.append({"key": f"{vid}#r{i}", "variation": vid, "label": vid.upper(), "repeat": i, "seed": i,
                        "status": "ok", "test_rmse": x, "persistence_rmse": 2.5, "skill": 1 - x / 2.5,
                        "best_val_loss": x / 10, "train_seconds": 1.0 + i, "seconds_per_epoch": 0.5, "params": 10})
    return out


def test_summary_statistics_on_known_numbers():
    records = _records({"a": [1.0, 2.0, 3.0], "b": [10.0, 11.0, 12.0], "c": [1.6, 2.6, 3.6]})
    frame = ex.trials_frame(records)
    summary = ex.summarize(frame).set_index("variation")
    a = summary.loc["a"]
    assert a["rank"] == 1 and a["n"] == 3
    assert a["test_rmse_mean"] == pytest.approx(2.0)
    assert a["test_rmse_std"] == pytest.approx(1.0)  # sample std (ddof=1)
    assert (a["test_rmse_median"], a["test_rmse_min"], a["test_rmse_max"]) == (2.0, 1.0, 3.0)
    assert a["skill_mean"] == pytest.approx(0.2) and a["persistence_rmse"] == 2.5
    assert a["best_val_loss_min"] == pytest.approx(0.1) and a["best_val_loss_mean"] == pytest.approx(0.2)
    assert a["train_seconds_mean"] == pytest.approx(2.0)
    assert list(summary.sort_values("rank").index) == ["a", "c", "b"]
    assert summary.loc["a", "vs_best"] == "best"
    assert summary.loc["c", "vs_best"] == "within the spread"
    assert summary.loc["b", "vs_best"] == "worse beyond the spread"
    scipy_stats = pytest.importorskip("scipy.stats")
    expected = scipy_stats.ttest_ind([10.0, 11.0, 12.0], [1.0, 2.0, 3.0], equal_var=False).pvalue
    assert summary.loc["b", "p_vs_best"] == pytest.approx(expected)
    note = ex.ranking_note(ex.summarize(frame))
    assert "Lowest mean test RMSE: A" in note and "within the run-to-run spread" in note and "C" in note
    assert "1 of 3 settings beat persistence" in note
    table = ex.comparison_table(ex.summarize(frame))
    assert list(table["Setting"]) == ["A", "C", "B"] and table["Test RMSE (mean ± sd)"].iloc[0] == "2 ± 1"


def test_welch_p_matches_the_t_distribution_without_loading_scipy_stats():
    # scipy.stats takes 1-4 s to import and the Experiments page computes p-values when it opens.
    script = ("import json, sys\n"
              "from pricecast.experiments.core import welch_p\n"
              "p = welch_p([1.0, 1.2, 0.9, 1.1, 1.05], [1.3, 1.5, 1.2, 1.6, 1.1, 1.4, 1.45])\n"
              "print(json.dumps({'p': p, 'stats': 'scipy.stats' in sys.modules}))\n")
    out = json.loads(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                                    cwd=REPO).stdout.strip().splitlines()[-1])
    assert out["stats"] is False
    assert out["p"] == pytest.approx(0.0035685, rel=1e-4)  # Welch's two-sided p (scipy.stats.ttest_ind, equal_var=False)


def test_welch_edge_cases_and_single_runs():
    assert math.isnan(ex.welch_p([1.0], [2.0, 3.0]))
    assert ex.welch_p([1.0, 1.0], [1.0, 1.0]) == 1.0
    assert ex.welch_p([1.0, 1.0], [2.0, 2.0]) == 0.0
    summary = ex.summarize(ex.trials_frame(_records({"a": [1.0], "b": [2.0]})))
    assert summary.set_index("variation").loc["b", "vs_best"] == "too few repeats to tell"
    assert math.isnan(summary["test_rmse_std"].iloc[0])
    assert "too few finished runs" in ex.ranking_note(summary)


def test_grid_expansion_and_overrides():
    variations = ex.grid(arch=["lstm", "gru"], dropout=[0.0, 0.2])
    assert [v.id for v in variations] == ["arch=lstm,dropout=0", "arch=lstm,dropout=0.2", "arch=gru,dropout=0",
                                          "arch=gru,dropout=0.2"]
    exp = tiny("grid", variations, repeats=3)
    trials = ex.expand(exp)
    assert len(trials) == 12 and len({t.key for t in trials}) == 12
    assert [t.seed for t in trials[:4]] == [7] * 4 and trials[-1].seed == 9  # base_seed + repeat, same per setting
    assert trials[5].spec.model.arch == "lstm" and trials[5].spec.model.dropout == 0.2
    assert trials[5].spec.train.seed == 8 and trials[5].spec.model.units == (4,)
    spec = ex.apply_overrides(exp.base, {"window.n": 20, "train.batch_size": 8, "scaling": "minmax", "l2": 0.01})
    assert (spec.window.n, spec.train.batch_size, spec.scaling, spec.model.l2) == (20, 8, "minmax", 0.01)
    with pytest.raises(ex.ExperimentError, match="cannot vary 'seed'"):
        ex.apply_overrides(exp.base, {"seed": 3})
    with pytest.raises(ex.ExperimentError, match="cannot vary"):
        ex.apply_overrides(exp.base, {"colour": "red"})
    assert ex.parse_vary(["l2=0,0.01", "units=32,64/64", "arch=lstm"]) == {
        "l2": [0, 0.01], "units": [(32,), (64, 64)], "arch": ["lstm"]}
    with pytest.raises(ex.ExperimentError):
        ex.parse_vary(["l2"])
    with pytest.raises(ex.ExperimentError, match="variation 'units=0'"):
        ex.validate(tiny("bad", ex.grid(units=[(0,)])))
    with pytest.raises(ex.ExperimentError, match="name"):
        ex.validate(tiny("bad name/.."))


def test_spec_round_trip_and_definition_guard(tmp_path):
    exp = tiny("guard")
    again = ex.ExperimentSpec.from_dict(json.loads(json.dumps(exp.to_dict())))
    assert again.identity() == exp.identity() and again.variations[0].overrides["units"] == [4]
    ex.prepare_folder(exp, tmp_path)
    ex.prepare_folder(exp.replace(repeats=5), tmp_path)  # more repeats extend the same experiment
    with pytest.raises(ex.ExperimentError, match="already exists with a different setup"):
        ex.prepare_folder(exp.replace(base_seed=1), tmp_path)


def test_seed_presets_and_size():
    presets = ex.experiment_presets()
    bias = presets["bias-regularizers"].spec
    assert bias.repeats == 30 and bias.base.train.epochs == 30 and bias.base.train.batch_size == 8
    assert len(bias.variations) == 9
    assert [(v.overrides["l1"], v.overrides["l2"]) for v in bias.variations] == [
        (0.0, 0.0), (0.1, 0.0), (0.01, 0.0), (0.001, 0.0), (0.0001, 0.0), (0.0, 0.1), (0.0, 0.01), (0.0, 0.001),
        (0.0, 0.0001)]
    model = bias.base.model
    assert (model.arch, model.units, model.regularize, model.dropout, model.output_activation) == (
        "lstm", (50,), ("bias",), 0.2, "leaky_relu")
    small = ex.scale(bias, 0.1, rows_available=3270)
    assert (small.repeats, small.base.train.epochs) == (3, 3)
    assert small.last_rows == max(ex.min_rows(small.base), 327)
    arch = presets["architectures"].spec
    assert [v.id for v in arch.variations] == ["cnn-2-relu", "cnn-2-leaky", "cnn-3-relu", "cnn-3-leaky", "cnn-4-relu",
                                               "cnn-4-leaky", "lstm", "gru"]
    assert (arch.base.window.n, arch.base.window.k) == (256, 16)
    ex.validate(arch)  # every seed CNN's conv head fits N=256 -> K=16
    ex.validate(small)
    assert ex.scale(arch, 0.1, rows_available=3270).last_rows is None  # N=256 needs all of daily AAPL
    candles = ex.load_candles(arch)
    ex.check_data(arch, candles)
    with pytest.raises(ex.ExperimentError, match="cannot use this data"):
        ex.check_data(arch, candles.iloc[-500:])
    named = ex.from_preset("bias-regularizers", size=0.1, data="sample:MSFT")
    assert named.name == "bias-regularizers-sample-MSFT-s0-1".replace("s0-1", "s0.1") and named.base.data == "sample:MSFT"


# ---- running -----------------------------------------------------------------------------------
class Killed(RuntimeError):
    pass


@pytest.mark.slow
def test_resume_after_kill_runs_only_the_rest(tmp_path):
    # Two identical settings: same spec + same seed in one process must give the same metrics.
    same = (ex.Variation("a", {"units": (4,)}), ex.Variation("b", {"units": [4]}))
    exp = tiny("resume", same)
    seen: list[str] = []

    def dies_after_two(event: dict) -> None:
        if event["type"] == "trial":
            seen.append(event["record"]["key"])
            if len(seen) == 2:
                raise Killed("simulated kill")

    with pytest.raises(Killed):
        ex.run_experiment(exp, executor="serial", progress=dies_after_two, root=tmp_path)
    half = ex.load_experiment("resume", tmp_path)
    assert half.done == 2 and len(half.missing()) == 2
    first = by_key(half)
    for metric in METRICS:
        assert first["a#r0"][metric] == first["b#r0"][metric], metric

    events: list[dict] = []
    done = ex.run_experiment(exp, executor="serial", progress=events.append, root=tmp_path)
    start = events[0]
    assert (start["done"], start["todo"], start["total"]) == (2, 2, 4)
    ran = [e["record"]["key"] for e in events if e["type"] == "trial"]
    assert sorted(ran) == ["a#r1", "b#r1"]
    assert done.done == 4 and not done.missing()
    assert len([p for p in (done.dir / "trials").iterdir() if not p.name.startswith(".")]) == 4
    for record in done.records:
        assert (done.dir / record["run_dir"] / "metrics.json").exists()
    assert by_key(done)["a#r0"]["test_rmse"] == first["a#r0"]["test_rmse"]  # finished trials were not redone
    # A third run has nothing to do.
    events.clear()
    ex.run_experiment(exp, executor="serial", progress=events.append, root=tmp_path)
    assert events[0]["todo"] == 0 and not [e for e in events if e["type"] == "trial"]


@pytest.fixture(scope="module")
def local_pool_result(tmp_path_factory):
    """The tiny experiment on the local process pool with 2 workers (shared by the parity test)."""
    root = tmp_path_factory.mktemp("experiments")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PRICECAST_HOME", str(tmp_path_factory.mktemp("home")))
        events: list[dict] = []
        exp = ex.run_experiment(tiny("parity-local"), executor="local", workers=2, progress=events.append, root=root)
    return exp, events, root


@pytest.mark.slow
def test_local_executor_two_workers(local_pool_result):
    exp, events, _ = local_pool_result
    assert exp.done == 4
    assert events[0]["workers"] == 2 and events[-1]["type"] == "finish"
    trials = [e for e in events if e["type"] == "trial"]
    assert [e["done"] for e in trials] == [1, 2, 3, 4]
    assert trials[-1]["eta"] == 0
    assert all(r["pid"] != os.getpid() for r in exp.records)  # trained in the worker processes
    summary = exp.summary()
    assert list(summary["n"]) == [2, 2] and summary["test_rmse_mean"].notna().all()
    # every trial is an ordinary run folder
    from pricecast.training.runs import list_runs, load_run

    assert len(list_runs(exp.dir / "trials")) == 4
    run = load_run(exp.run_dir(exp.records[0]))
    assert run.spec.train.seed == exp.records[0]["seed"]


@pytest.mark.slow
def test_ray_executor_gives_the_same_table(local_pool_result, tmp_path):
    pytest.importorskip("ray")
    local, _, _ = local_pool_result
    events: list[dict] = []
    remote = ex.run_experiment(tiny("parity-ray"), executor="ray", workers=2, progress=events.append, root=tmp_path)
    assert remote.done == 4
    a, b = by_key(local), by_key(remote)
    assert set(a) == set(b)
    for key in a:
        for metric in METRICS:
            assert b[key][metric] == pytest.approx(a[key][metric], rel=1e-6, abs=1e-9), (key, metric)
    columns = ["variation", "n", "test_rmse_mean", "test_rmse_std", "skill_mean", "best_val_loss_min"]
    pd.testing.assert_frame_equal(local.summary()[columns], remote.summary()[columns], rtol=1e-6)
    # the Ray trials' run folders were gathered into this experiment's folder
    for record in remote.records:
        assert (remote.dir / record["run_dir"] / "model.keras").exists()


def test_ray_missing_says_how_to_install(monkeypatch):
    import sys

    from pricecast.experiments import execution as experiment_exec

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ex.ExperimentError, match="requirements-ray.txt"):
        experiment_exec.import_ray()


@pytest.mark.slow
def test_cli_json(local_pool_result, capsys, tmp_path):
    from pricecast.cli.main import main

    exp, _, root = local_pool_result
    assert main(["experiment", "show", exp.spec.name, "--root", str(root), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["done"] == 4 and shown["total"] == 4 and len(shown["summary"]) == 2
    assert {"rank", "label", "test_rmse_mean", "test_rmse_std", "test_rmse_median", "skill_mean", "vs_best"} <= set(
        shown["summary"][0])
    assert len(shown["trials"]) == 4 and shown["note"].startswith("Lowest mean test RMSE")

    assert main(["experiment", "list", "--root", str(root), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["experiments"]
    assert [r["name"] for r in listed] == ["parity-local"] and listed[0]["done"] == 4

    # Running the same definition again resumes: nothing left, same table.
    assert main(["experiment", "run", "--spec", str(exp.dir / "experiment.json"), "--root", str(root), "--json",
                 "--executor", "serial"]) == 0
    captured = capsys.readouterr()
    rerun = json.loads(captured.out)
    assert rerun["done"] == 4 and "already finished" in captured.err
    assert [r["test_rmse_mean"] for r in rerun["summary"]] == [r["test_rmse_mean"] for r in shown["summary"]]

    assert main(["experiment", "show", "nope", "--root", str(root)]) == 2
    assert "no experiment 'nope'" in capsys.readouterr().err
    assert main(["experiment", "run", "--root", str(tmp_path)]) == 2
    assert "--preset" in capsys.readouterr().err


@pytest.mark.slow
def test_figures(local_pool_result):
    from pricecast.plots.experiments import box_figure, loss_curves_figure

    exp, _, _ = local_pool_result
    order = [v.label for v in exp.spec.variations]
    box = box_figure(exp.frame(), "test_rmse", order)
    assert [t.type for t in box.data] == ["box", "box"] and [t.name for t in box.data] == order
    assert all(len(t.y) == 2 for t in box.data)
    curves = loss_curves_figure(exp.records, "val_loss", order)
    assert len(curves.data) == 4 and sum(bool(t.showlegend) for t in curves.data) == 2


# ---- the page ----------------------------------------------------------------------------------
@pytest.mark.slow
def test_experiments_page_runs_a_tiny_experiment():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(REPO / "pages" / "6_Experiments.py"), default_timeout=60)
    at.run()
    assert not at.exception
    assert any("No experiments yet" in i.value for i in at.info)
    at.radio(key="exp_mode").set_value("custom").run()
    at.text_input(key="exp_values_units").set_value("4, 6")
    at.slider(key="exp_size").set_value(0.02)
    at.number_input(key="exp_repeats").set_value(1)
    at.number_input(key="exp_workers").set_value(1)
    at.run()
    assert not at.exception and not at.error
    assert any("2 settings × 1 repeats = 2 trainings" in m.value for m in at.markdown)
    at.button(key="exp_run").click().run()
    from pricecast.jobs import registry

    job = registry().latest(at.session_state["pc_session_id"], "experiment")  # in a worker process
    assert job.wait(timeout=240), "the experiment did not finish"
    at.run()
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    snap = job.snapshot()
    assert snap.state == "done" and [t.done for t in snap.trials] == [1, 2]
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert any(trace.get("type") == "box" for chart in charts for trace in chart["data"])
    assert any("Lowest mean test RMSE" in i.value for i in at.info)
    # One row per setting as a plain table: the page loads no data grid until "Every training" is opened.
    assert len(at.table) == 1 and not at.dataframe
