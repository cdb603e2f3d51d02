"""Dashboard jobs run in worker processes: events cross the boundary, Stop keeps the best weights,
a killed worker becomes a message, capacity queues, sessions stay apart, tabs reattach."""
from __future__ import annotations

import os
import signal
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pricecast.data.samples import load_sample
from pricecast.events import Batch, Epoch, Started
from pricecast.jobs.executors import JobError
from pricecast.jobs.job import Job, JobState
from pricecast.jobs.registry import JobRegistry
from pricecast.jobs.task import Task
from pricecast.models.spec import ModelSpec
from pricecast.prep.windows import WindowSpec
from pricecast.service.dashboard import tune_for_dashboard
from pricecast.service.tasks import RUNNER
from pricecast.specs import RunSpec, TrainSpec
from pricecast.training.runs import list_runs, scan_runs

pytestmark = pytest.mark.slow  # (nearly) every test here trains a Keras model

TINY = RunSpec(data="sample:IBM", window=WindowSpec(n=10, k=2), scaling="logratio",
               model=ModelSpec(arch="gru", units=(4,)), train=TrainSpec(epochs=2, batch_size=64, patience=0),
               preset="test")
LONG = TINY.replace(train=replace(TINY.train, epochs=500, batch_size=8))


@pytest.fixture(scope="module")
def candles() -> pd.DataFrame:
    return load_sample("IBM").iloc[:600]


@pytest.fixture
def jobs():
    reg = JobRegistry(RUNNER, capacity=2)
    yield reg
    reg.shutdown()


def _train(reg: JobRegistry, session: str, spec: RunSpec, candles: pd.DataFrame):
    return reg.submit(session, "train", {"spec": tune_for_dashboard(spec).to_dict()}, candles=candles)


def _wait_for(predicate, timeout: float = 120.0) -> None:
    deadline = time.time() + timeout
    while not predicate():
        assert time.time() < deadline, "timed out"
        time.sleep(0.1)


def test_training_runs_in_another_process_and_streams_its_progress(jobs, candles, pricecast_home):
    job = _train(jobs, "tab-a", TINY, candles)
    assert job.handle.pid != os.getpid()
    assert job.wait(180)
    snap = jobs.snapshot(job)
    assert snap.state is JobState.DONE, snap.error
    t = snap.training
    assert list(t.history["epoch"]) == [1, 2] and t.history["val_loss"].notna().all()
    assert t.val_pred is not None and t.val_pred.shape[1] == 2 and t.val_pred_epoch == 2
    assert len(t.batch_losses) >= 1 and t.batches  # progress inside an epoch, with its batch count
    assert t.device and t.params and t.sizes["train"] > 0 and snap.progress == 1.0
    assert Path(snap.run_dir).is_dir() and Path(snap.run_dir).is_relative_to(pricecast_home)
    assert snap.result.metrics["epochs_run"] == 2


def test_stop_keeps_the_best_weights_across_the_process_boundary(jobs, candles):
    job = _train(jobs, "tab-a", LONG, candles)
    _wait_for(lambda: len(job.snapshot().training.history) >= 2)
    job.stop()
    assert job.wait(120)
    snap = job.snapshot()
    assert snap.state == "stopped" and snap.stop_requested
    m = snap.result.metrics
    assert m["stopped_by_user"] and 2 <= m["epochs_run"] < 500
    history = pd.read_csv(Path(snap.run_dir) / "history.csv")
    # the network keeps its best epoch's weights whatever the decision (network or 'no change')
    best = (int(history.loc[history["val_loss"].idxmin(), "epoch"]), history["val_loss"].min())
    assert m["best_epoch"] == best[0] and m["best_val_loss"] == pytest.approx(best[1])
    assert m["decision"]["choice"] in ("network", "persistence")


def test_a_killed_worker_becomes_a_message_and_leaves_no_half_run(jobs, candles, pricecast_home):
    job = _train(jobs, "tab-a", LONG, candles)
    _wait_for(lambda: len(job.snapshot().training.history) >= 1)
    os.kill(job.handle.pid, signal.SIGKILL)  # as the kernel's out-of-memory killer would
    assert job.wait(60)
    snap = job.snapshot()
    assert snap.state == "error" and "killed" in snap.error and "nothing of this run was saved" in snap.error
    assert list_runs() == []
    assert not [p for p in (pricecast_home / "runs").glob("*") if not p.name.startswith(".")]
    assert [r["preset"] for r in scan_runs().interrupted] == ["test"]  # not gone without a trace
    again = _train(jobs, "tab-a", TINY, candles)  # the next Train works
    assert again.wait(180) and again.snapshot().state == "done"
    assert len(scan_runs().interrupted) == 1 and len(list_runs()) == 1  # a finished one leaves no marker


def test_kill_from_the_page_ends_a_worker_that_ignores_stop(jobs, candles):
    job = _train(jobs, "tab-a", LONG, candles)
    _wait_for(lambda: job.snapshot().training.epochs > 0)
    job.kill()
    assert job.wait(60)
    snap = job.snapshot()
    assert snap.state == "error" and snap.killed and "Kill" in snap.error


def test_a_bad_setup_becomes_a_plain_message(jobs, candles):
    job = _train(jobs, "tab-a", TINY.replace(window=replace(TINY.window, n=5000)), candles)
    assert job.wait(120)
    snap = job.snapshot()
    assert snap.state == "error" and "N+K" in snap.error and "Traceback" not in snap.error


def test_capacity_queues_jobs_and_sessions_never_see_each_other(candles):
    reg = JobRegistry(RUNNER, capacity=1)
    try:
        first = _train(reg, "tab-a", TINY, candles)
        second = _train(reg, "tab-b", TINY, candles)
        assert reg.snapshot(second).state == "queued" and reg.snapshot(second).queue_position == 1
        assert reg.get("tab-b", first.id) is None and reg.get("tab-c", second.id) is None
        assert reg.jobs("tab-c") == []
        with pytest.raises(JobError, match="already going"):
            _train(reg, "tab-a", TINY, candles)
        assert first.wait(180) and second.wait(180)
        assert first.snapshot().state == second.snapshot().state == "done"
        assert second.snapshot().started >= first.snapshot().ended - 0.5  # it waited for the free slot
    finally:
        reg.shutdown()


def test_a_queued_job_stopped_before_it_starts_never_runs(candles):
    reg = JobRegistry(RUNNER, capacity=1)
    try:
        first = _train(reg, "tab-a", TINY, candles)
        second = _train(reg, "tab-b", TINY, candles)
        second.stop()
        assert second.snapshot().state == "stopped" and second.handle is None
        assert first.wait(180)
        assert second.handle is None
    finally:
        reg.shutdown()


def test_a_reloaded_tab_takes_its_job_back_with_its_browser_secret(jobs, candles):
    job = jobs.submit("old-tab", "summary", {"spec": TINY.to_dict()}, exclusive=False, owner="a" * 32)
    assert jobs.reclaim("new-tab", "b" * 32, "summary") is None
    assert jobs.reclaim("new-tab", "a" * 32, "summary") is job
    assert jobs.get("new-tab", job.id) is job and jobs.get("old-tab", job.id) is None
    assert job.wait(120)
    summary = job.snapshot().result
    assert "gru" in summary["text"].lower() and summary["params"] > 0


def test_backtest_and_experiment_jobs(jobs, candles, pricecast_home):
    from pricecast.backtest.spec import BacktestSpec
    from pricecast.experiments.spec import ExperimentSpec, Variation

    bt = BacktestSpec(folds=2, fold_size=40, epochs=1)
    job = jobs.submit("tab-a", "backtest", {"spec": TINY.to_dict(), "bt": bt}, candles=candles)
    exp = ExperimentSpec(name="jobs-test", base=TINY.replace(train=replace(TINY.train, epochs=1)),
                         variations=(Variation("a", {}),), repeats=1)
    ejob = jobs.submit("tab-a", "experiment", {"exp": exp, "executor": "serial", "workers": 1}, candles=candles)
    assert job.wait(240) and ejob.wait(240)
    snap = job.snapshot()
    assert snap.state == "done", snap.error
    assert len(snap.result.result.folds) == 2 and len(snap.folds) == 2 and snap.progress == 1.0
    esnap = ejob.snapshot()
    assert esnap.state == "done", esnap.error
    assert len(esnap.trials) == 1 and esnap.trials[0].record["status"] == "ok"
    assert Path(esnap.result).is_dir()


def test_unknown_executor_is_refused_before_queueing(jobs):
    with pytest.raises(JobError, match="unknown executor"):
        jobs.submit("tab-a", "summary", {"spec": TINY.to_dict()}, executor="slurm")
    assert jobs.jobs("tab-a") == []


def test_progress_and_time_left_come_from_measured_batches_in_the_first_epoch():
    job = Job(Task("train"), "tab")
    job.on_message(("event", Started(epochs=10)))
    job._epoch_started -= 2.0  # two seconds into the first epoch ...
    job.on_message(("event", Batch(epoch=1, batch=25, batches=100, loss=0.1, elapsed=2.0)))  # ... a quarter done
    snap = job.snapshot()
    assert snap.progress == pytest.approx(0.025)
    assert snap.eta == pytest.approx(8.0 * 10 - 2.0, rel=0.05)  # 8 s an epoch, 9.75 epochs to go
    job.on_message(("event", Epoch(epoch=1, epochs=10, loss=0.1, val_loss=0.2, seconds=4.0, elapsed=4.0,
                                    val_pred=np.zeros((3, 2)))))
    snap = job.snapshot()
    assert snap.eta == pytest.approx(36.0) and snap.training.val_pred_epoch == 1 and snap.version == 3


def test_a_worker_dying_without_an_answer_is_explained():
    job = Job(Task("train"), "tab")
    job.on_exit(-signal.SIGSEGV)
    assert job.snapshot().state == "error" and "segmentation fault" in job.snapshot().error
    job = Job(Task("train"), "tab")
    job.on_exit(3)
    assert "exit code 3" in job.snapshot().error


def test_a_training_job_on_ray_streams_events_and_lands_its_run_here(candles, pricecast_home):
    """The same job through the Ray executor (a local Ray instance here; RAY_ADDRESS for a cluster):
    events come back through the channel actor, the run folder travels back as files."""
    ray = pytest.importorskip("ray")
    reg = JobRegistry(RUNNER, capacity=1)
    try:
        job = reg.submit("tab-a", "train", {"spec": tune_for_dashboard(TINY).to_dict()}, candles=candles,
                         executor="ray")
        assert job.wait(600)
        snap = job.snapshot()
        assert snap.state == "done", snap.error
        assert list(snap.training.history["epoch"]) == [1, 2] and snap.training.val_pred is not None
        run_dir = Path(snap.run_dir)
        assert run_dir.parent == pricecast_home / "runs" and (run_dir / "model.keras").is_file()
        assert [r["run_dir"] for r in list_runs()] == [str(run_dir)]
    finally:
        reg.shutdown()
        ray.shutdown()
