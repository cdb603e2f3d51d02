"""Background training jobs: events collected, stop honoured, errors as messages, sessions apart."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from pricecast.jobs import JobRegistry, TrainingJob, tune_for_dashboard
from pricecast.models import ModelSpec
from pricecast.samples import load_sample
from pricecast.specs import RunSpec, TrainSpec
from pricecast.windows import WindowSpec

TINY = RunSpec(data="sample:IBM", window=WindowSpec(n=10, k=2), scaling="logratio",
               model=ModelSpec(arch="gru", units=(4,)), train=TrainSpec(epochs=2, batch_size=64, patience=0),
               preset="test")


@pytest.fixture
def candles():
    return load_sample("IBM").iloc[:600]


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("PRICECAST_HOME", str(tmp_path))
    return tmp_path


def test_job_collects_history_and_live_val_predictions(candles, home):
    job = TrainingJob(tune_for_dashboard(TINY), candles=candles).start()
    assert job.join(120)
    snap = job.snapshot()
    assert snap.state == "done", snap.error
    assert list(snap.history["epoch"]) == [1, 2] and snap.history["val_loss"].notna().all()
    assert snap.val_pred is not None and snap.val_pred.shape[1] == 2 and snap.val_pred_epoch == 2
    assert snap.device and snap.params and snap.progress == 1.0
    assert Path(snap.run_dir).is_dir() and Path(snap.run_dir).is_relative_to(home)
    assert job.run is not None and len(job.run.history) == 2


def test_stop_ends_training_and_keeps_a_run(candles):
    spec = TINY.replace(train=replace(TINY.train, epochs=500))
    job = TrainingJob(spec, candles=candles)
    job.stop()  # before the first batch: training must end within one batch
    job.start()
    assert job.join(120)
    snap = job.snapshot()
    assert snap.state == "stopped" and snap.stop_requested
    assert job.run.metrics["stopped_by_user"] and job.run.metrics["epochs_run"] <= 1


def test_bad_setup_becomes_a_message(candles):
    spec = TINY.replace(window=replace(TINY.window, n=5000))
    job = TrainingJob(spec, candles=candles).start()
    assert job.join(60)
    snap = job.snapshot()
    assert snap.state == "error" and "N+K" in snap.error and "Traceback" not in snap.error


def test_registry_keeps_sessions_apart(candles):
    reg = JobRegistry(keep=2)
    a = reg.start("tab-a", TINY, candles=candles)
    with pytest.raises(RuntimeError, match="already going"):
        reg.start("tab-a", TINY, candles=candles)
    b = reg.start("tab-b", TINY, candles=candles)
    assert reg.jobs("tab-a") == [a] and reg.jobs("tab-b") == [b]
    assert reg.get("tab-b", a.id) is None and reg.get("tab-a", a.id) is a
    assert a.join(120) and b.join(120)
    assert reg.active("tab-a") is None and reg.latest("tab-a") is a
    assert a.snapshot().run_dir != b.snapshot().run_dir
    for _ in range(3):  # finished jobs beyond `keep` are forgotten (their runs stay on disk)
        reg.add("tab-a", TrainingJob(TINY))
    assert len(reg.jobs("tab-a")) <= 3


def test_tune_for_dashboard_streams_batches_for_long_epochs():
    assert tune_for_dashboard(TINY).train.live_val_predictions
    assert not tune_for_dashboard(TINY, train_windows=1000).train.per_batch_updates
    assert tune_for_dashboard(TINY, train_windows=64 * 1000).train.per_batch_updates


def test_snapshot_before_start_is_empty():
    snap = TrainingJob(TINY).snapshot()
    assert snap.state == "pending" and snap.epoch == 0 and snap.progress == 0.0 and snap.val_pred is None
    assert np.isclose(snap.epochs, 2)


def test_stopping_one_tab_leaves_the_other_training(candles):
    reg = JobRegistry()
    long = TINY.replace(train=replace(TINY.train, epochs=300, per_batch_updates=True))
    a = reg.start("tab-a", TINY.replace(data="sample:MSFT"), candles=load_sample("MSFT").iloc[:600])
    b = reg.start("tab-b", long, candles=candles)
    reg.active("tab-b").stop()
    assert a.join(120) and b.join(120)
    sa, sb = a.snapshot(), b.snapshot()
    assert sa.state == "done" and not sa.stop_requested and list(sa.history["epoch"]) == [1, 2]
    assert sb.state == "stopped" and b.run.metrics["epochs_run"] < 300
    assert a.run.spec.data == "sample:MSFT" and b.run.spec.data == "sample:IBM"
