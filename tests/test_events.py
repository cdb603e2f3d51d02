"""The one vocabulary of progress: events pickle (they cross process and Ray boundaries), a job keeps
them typed per kind, and the CLI prints its lines from the same types."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

from pricecast import events
from pricecast.cli import backtest as cli_backtest
from pricecast.cli import experiment as cli_experiment
from pricecast.cli import train as cli_train
from pricecast.jobs.job import Job, JobState
from pricecast.jobs.task import Task

SAMPLES = [
    events.Started(device="CPU", backend="tensorflow", params=120, epochs=3, sizes={"train": 10, "val": 2, "test": 2},
                   warnings=("a warning",)),
    events.Batch(epoch=1, batch=2, batches=5, loss=0.5, elapsed=0.1),
    events.Epoch(epoch=1, epochs=3, loss=0.5, val_loss=0.6, seconds=1.0, elapsed=1.0, eta=2.0, fraction=1 / 3,
                 samples_per_s=10.0, val_pred=np.ones((2, 3))),
    events.FoldsPlanned(folds=3, cached=1, models_to_train=2, epochs=4),
    events.Fold(fold=1, folds=3, rmse=1.0, persistence_rmse=1.1, skill=0.09, cached=True, fraction=0.4, eta=3.0),
    events.TrialsPlanned(name="x", dir="/tmp/x", done=1, total=4, todo=3, executor="local", workers=2),
    events.Trial(done=2, total=4, record={"key": "a#r0", "status": "ok"}, ran=1, todo=3, elapsed=5.0, eta=10.0),
    events.Progress(1.0, "Shuffled-time control: training on shuffled targets"),
    events.Done(stopped=True, seconds=3.0),
]


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: type(e).__name__)
def test_every_event_survives_pickling(event):
    back = pickle.loads(pickle.dumps(event))
    assert type(back) is type(event)
    if isinstance(event, events.Epoch):
        np.testing.assert_array_equal(back.val_pred, event.val_pred)
    else:
        assert back == event


def test_together_passes_each_event_to_every_listener():
    a, b = [], []
    listener = events.together(a.append, None, b.append)
    listener(SAMPLES[0])
    assert a == b == [SAMPLES[0]]


def _job(kind: str) -> Job:
    job = Job(Task(kind), "tab")
    job.mark_running(handle=type("Handle", (), {"stop": lambda self: None})())
    return job


def test_a_backtest_job_shows_its_folds_and_the_epoch_of_the_fold_in_training():
    job = _job("backtest")
    job.on_message(("event", events.FoldsPlanned(folds=3, cached=0, models_to_train=3, epochs=2)))
    assert job.snapshot().text == "3 folds planned, 3 model(s) to train"
    job.on_message(("event", events.Epoch(epoch=1, epochs=2, loss=0.1, val_loss=0.2, eta=9.0, fraction=0.2,
                                          fold=1, folds=3)))
    snap = job.snapshot()
    assert snap.text == "Fold 1/3: training epoch 1/2" and snap.fraction == 0.2 and snap.eta == 9.0
    assert snap.training is None  # a fold's epoch is the backtest's progress, no training's loss curve
    fold = events.Fold(fold=1, folds=3, rmse=1.0, persistence_rmse=1.1, skill=0.1, cached=True, fraction=0.4, eta=5.0)
    job.on_message(("event", fold))
    job.on_message(("event", events.Done(stopped=False, seconds=4.0)))
    snap = job.snapshot()
    assert snap.folds == (fold,) and snap.text == "Fold 1/3 done (from cache)" and snap.state is JobState.RUNNING


def test_an_experiment_job_counts_its_trials():
    job = _job("experiment")
    job.on_message(("event", events.TrialsPlanned(name="x", dir="d", done=1, total=4, todo=3, executor="local",
                                                  workers=2)))
    assert job.snapshot().fraction == 0.25 and "3 to run on 2 worker(s) (local)" in job.snapshot().text
    job.on_message(("event", events.Trial(done=2, total=4, record={"status": "ok"}, eta=7.0)))
    snap = job.snapshot()
    assert snap.text == "2 of 4 trainings done" and snap.fraction == 0.5 and snap.eta == 7.0 and len(snap.trials) == 1


def test_a_training_job_keeps_its_progress_typed():
    job = _job("train")
    for event in SAMPLES[:3]:
        job.on_message(("event", event))
    t = job.snapshot().training
    assert (t.device, t.params, t.sizes["train"], t.epoch, t.epochs) == ("CPU", 120, 10, 1, 3)
    assert t.batch == 0 and t.batches == 5  # the batch counted belonged to the finished epoch
    assert t.val_pred_epoch == 1 and list(t.history["epoch"]) == [1] and len(t.batch_losses) == 1
    job.on_message(("event", events.Batch(epoch=2, batch=3, batches=5, loss=0.4, elapsed=1.5)))
    assert job.snapshot().training.batch == 3
    job.on_message(("result", None))
    snap = job.snapshot()
    assert snap.state is JobState.DONE and snap.state == "done" and snap.progress == 1.0  # a str enum: JSON as before


def test_the_cli_prints_its_progress_lines_from_the_events(capsys):
    cli_train._listener(SAMPLES[0])
    cli_train._listener(SAMPLES[2])
    for event in (SAMPLES[3], events.Epoch(epoch=2, epochs=4, loss=0.5, val_loss=0.6, eta=3.0, fraction=0.5, fold=1,
                                           folds=3), SAMPLES[4], SAMPLES[7]):
        cli_backtest._listener(event)
    printer = cli_experiment._progress_printer(quiet=False)
    for event in (SAMPLES[5], events.Done(stopped=True)):
        printer(event)
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        "device: CPU; windows train/val/test = 10/2/2; 120 parameters",
        "epoch 1/3  loss 0.5  val_loss 0.6  10 samples/s  eta 2s",
        "3 folds, 1 cached, 2 model(s) to train",
        "fold 1/3 epoch 2/4  loss 0.5  val_loss 0.6  50%  eta 3s",
        "fold 1/3 done (cached): RMSE 1 vs persistence 1.1, skill +9.00%  40%  eta 3s",
        "Shuffled-time control: training on shuffled targets",
        "experiment 'x': 3 trials to run (1 already finished) with the local executor, 2 at a time -> /tmp/x",
        "stopped; run the same command again to resume",
    ]
