"""Experiments end to end: resume after a kill, the local process pool, Ray parity (same seeds ->
same trial results), the CLI's JSON, the figures and the Experiments page. The pure logic is tested
beside its module (test_spec, test_presets, test_storage, test_stats, test_execution)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from pricecast.events import Done, Trial, TrialsPlanned
from pricecast.experiments.spec import Variation
from pricecast.experiments.storage import load_experiment
from pricecast.service.experiments import run_experiment

from ..dashboard.charts import figures
from .conftest import METRICS, by_key, tiny

REPO = Path(__file__).resolve().parents[2]


# ---- running -----------------------------------------------------------------------------------
class Killed(RuntimeError):
    pass


@pytest.mark.slow
def test_resume_after_kill_runs_only_the_rest(tmp_path):
    # Two identical settings: same spec + same seed in one process must give the same metrics.
    same = (Variation("a", {"units": (4,)}), Variation("b", {"units": [4]}))
    exp = tiny("resume", same)
    seen: list[str] = []

    def dies_after_two(event: dict) -> None:
        if isinstance(event, Trial):
            seen.append(event.record["key"])
            if len(seen) == 2:
                raise Killed("simulated kill")

    with pytest.raises(Killed):
        run_experiment(exp, executor="serial", progress=dies_after_two, root=tmp_path)
    half = load_experiment("resume", tmp_path)
    assert half.done == 2 and len(half.missing()) == 2
    first = by_key(half)
    for metric in METRICS:
        assert first["a#r0"][metric] == first["b#r0"][metric], metric

    events: list = []
    done = run_experiment(exp, executor="serial", progress=events.append, root=tmp_path)
    start = events[0]
    assert isinstance(start, TrialsPlanned) and (start.done, start.todo, start.total) == (2, 2, 4)
    ran = [e.record["key"] for e in events if isinstance(e, Trial)]
    assert sorted(ran) == ["a#r1", "b#r1"]
    assert done.done == 4 and not done.missing()
    assert len([p for p in (done.dir / "trials").iterdir() if not p.name.startswith(".")]) == 4
    for record in done.records:
        assert (done.dir / record["run_dir"] / "metrics.json").exists()
    assert by_key(done)["a#r0"]["test_rmse"] == first["a#r0"]["test_rmse"]  # finished trials were not redone
    # A third run has nothing to do.
    events.clear()
    run_experiment(exp, executor="serial", progress=events.append, root=tmp_path)
    assert events[0].todo == 0 and not [e for e in events if isinstance(e, Trial)]


@pytest.fixture(scope="module")
def local_pool_result(tmp_path_factory):
    """The tiny experiment on the local process pool with 2 workers (shared by the parity test)."""
    root = tmp_path_factory.mktemp("experiments")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PRICECAST_HOME", str(tmp_path_factory.mktemp("home")))
        events: list = []
        exp = run_experiment(tiny("parity-local"), executor="local", workers=2, progress=events.append, root=root)
    return exp, events, root


@pytest.mark.slow
def test_local_executor_two_workers(local_pool_result):
    exp, events, _ = local_pool_result
    assert exp.done == 4
    assert events[0].workers == 2 and isinstance(events[-1], Done) and not events[-1].stopped
    trials = [e for e in events if isinstance(e, Trial)]
    assert [e.done for e in trials] == [1, 2, 3, 4]
    assert trials[-1].eta == 0
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
    events: list = []
    remote = run_experiment(tiny("parity-ray"), executor="ray", workers=2, progress=events.append, root=tmp_path)
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


@pytest.mark.slow
def test_cli_json(local_pool_result, capsys, tmp_path):
    from pricecast.cli.main import main

    exp, _, root = local_pool_result
    assert main(["experiment", "show", exp.spec.name, "--root", str(root), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["done"] == 4 and shown["total"] == 4 and len(shown["summary"]) == 2
    assert {"rank", "label", "test_rmse_mean", "test_rmse_std", "test_rmse_median", "skill_mean", "vs_best"} <= set(
        shown["summary"][0])
    assert len(shown["trials"]) == 4 and shown["note"].startswith("Lowest mean network test RMSE")

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
    from pricecast.plots.experiments import loss_curves_figure, spread_figure

    exp, _, _ = local_pool_result
    order = [v.label for v in exp.spec.variations]
    spread = spread_figure(exp.frame(), "test_rmse", order)
    dots = [t for t in spread.data if t.meta == "trials"]
    assert [t.name for t in dots] == order and all(len(t.y) == 2 for t in dots)
    assert [t.meta for t in spread.data] == ["trials", "median", "mean"] * 2
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
    from pricecast.service.dashboard import registry

    job = registry().latest(at.session_state["pc_session_id"], "experiment")  # in a worker process
    assert job.wait(timeout=240), "the experiment did not finish"
    at.run()
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    snap = job.snapshot()
    assert snap.state == "done" and [t.done for t in snap.trials] == [1, 2]
    charts = figures(at)
    assert any(trace.get("meta") == "trials" for chart in charts for trace in chart["data"])
    assert any("Lowest mean network test RMSE" in i.value for i in at.info)
    # One row per setting as a plain table: the page loads no data grid until "Every training" is opened.
    assert len(at.table) == 1 and not at.dataframe
