"""One job as the dashboard sees it: its state, the events received so far, and a consistent
snapshot to draw from. The work itself happens elsewhere (an executor's worker)."""
from __future__ import annotations

import math
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

import numpy as np
import pandas as pd

from pricecast.events import Batch, Epoch, Event, Fold, FoldsPlanned, Progress, Started, Trial, TrialsPlanned

from .task import Task
from .worker import death_message

HISTORY_COLUMNS = ["epoch", "loss", "val_loss", "seconds"]
BATCH_COLUMNS = ["epoch", "batch", "loss", "elapsed"]


class JobState(str, Enum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    STOPPED = "stopped"  # by the user; the best weights are kept
    ERROR = "error"  # a message says why (bad setup, worker died, killed)

    @property
    def finished(self) -> bool:
        return self in (JobState.DONE, JobState.STOPPED, JobState.ERROR)


@dataclass(frozen=True)
class TrainingProgress:
    """What a training job's events said so far (the Train page's status line and live charts)."""

    setup: Started | None = None  # once the model is built: device, parameters, windows, warnings
    epoch: int = 0  # epochs finished
    epochs: int = 0
    batch: int = 0  # batches finished in the epoch under way
    batches: int | None = None  # per epoch, when Keras knows it
    samples_per_s: float | None = None
    history: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=HISTORY_COLUMNS))
    batch_losses: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=BATCH_COLUMNS))
    val_pred: np.ndarray | None = None  # the latest validation forecasts ...
    val_pred_epoch: int = 0  # ... made after this epoch

    @property
    def device(self) -> str:
        return self.setup.device if self.setup is not None else ""

    @property
    def params(self) -> int | None:
        return self.setup.params if self.setup is not None else None

    @property
    def sizes(self) -> dict[str, int]:
        return dict(self.setup.sizes) if self.setup is not None else {}


@dataclass
class JobSnapshot:
    """A consistent copy of a job's progress, safe to read on the page's thread. Every kind has the
    state, times and overall progress; a training has its :class:`TrainingProgress`, a backtest its
    folds, an experiment its trials."""

    id: str
    kind: str
    label: str
    state: JobState
    created: float
    started: float | None
    ended: float | None
    queue_position: int | None = None
    fraction: float = 0.0  # of the whole job
    text: str = ""  # what it does now, in words (backtests, experiments, searches)
    eta: float | None = None  # seconds left
    training: TrainingProgress | None = None  # a training job's own progress
    folds: tuple[Fold, ...] = ()
    trials: tuple[Trial, ...] = ()
    result: Any = None
    error: str = ""
    stop_requested: bool = False
    killed: bool = False
    version: int = 0  # grows with every event: a page redraws only when it changed

    @property
    def finished(self) -> bool:
        return self.state.finished

    @property
    def elapsed(self) -> float:
        if self.started is None:
            return 0.0
        return (self.ended or time.time()) - self.started

    @property
    def progress(self) -> float:
        return 1.0 if self.state in (JobState.DONE, JobState.STOPPED) else min(max(self.fraction, 0.0), 1.0)

    @property
    def run_dir(self) -> str:
        return getattr(self.result, "run_dir", "") or ""


def progress_of(event: Event) -> Progress | None:
    """What a backtest's or an experiment's event says of the whole job, for its progress bar."""
    match event:
        case Progress():
            return event
        case Epoch():
            return Progress(event.fraction, f"Fold {event.fold}/{event.folds}: training epoch {event.epoch}/{event.epochs}",
                            event.eta)
        case FoldsPlanned():
            return Progress(0.0, f"{event.folds} folds planned, {event.models_to_train} model(s) to train")
        case Fold():
            return Progress(event.fraction, f"Fold {event.fold}/{event.folds} done" + (" (from cache)" if event.cached else ""),
                            event.eta)
        case TrialsPlanned():
            return Progress(event.done / event.total if event.total else 0.0,
                            f"{event.done} of {event.total} trainings already done; {event.todo} to run on "
                            f"{event.workers} worker(s) ({event.executor})")
        case Trial():
            return Progress(event.done / event.total if event.total else 0.0,
                            f"{event.done} of {event.total} trainings done", event.eta)
    return None


class Job:
    """A submitted task, updated from its worker's messages (on the executor's reader thread)."""

    def __init__(self, task: Task, session_id: str, label: str = "", context: Any = None,
                 executor: str = "local") -> None:
        self.id = uuid.uuid4().hex
        self.owner = ""  # the submitting browser's secret: the key to take the job back after a reload
        self.task = task
        self.kind = task.kind
        self.session_id = session_id
        self.label = label
        self.context = context  # what the page keeps beside the job (e.g. the validation windows)
        self.executor = executor
        self.handle: Any = None
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._state = JobState.QUEUED
        self._created = time.time()
        self._started: float | None = None
        self._ended: float | None = None
        # a training's progress: its events, as they came (the last epoch without its forecasts)
        self._setup: Started | None = None
        self._batch: Batch | None = None
        self._batch_time = 0.0
        self._epoch: Epoch | None = None
        self._history: list[dict] = []
        self._batches: list[dict] = []
        self._val_pred: np.ndarray | None = None
        self._val_pred_epoch = 0
        # any other kind's: what it does now, its folds or trials
        self._progress = Progress(0.0, "")
        self._folds: list[Fold] = []
        self._trials: list[Trial] = []
        self._result: Any = None
        self._error = ""
        self._stop_requested = False
        self._killed = False
        self._version = 0
        self._epoch_started = 0.0
        self._snap: tuple[tuple[int, int | None], JobSnapshot] | None = None  # the last snapshot and its key

    # ---- control (called by the registry) ----------------------------------------------------
    def mark_running(self, handle: Any) -> None:
        with self._lock:
            self.handle = handle
            self._state = JobState.RUNNING
            self._started = time.time()
            self._version += 1
            stop = self._stop_requested
        if stop:
            handle.stop()

    def stop(self) -> None:
        """End within one batch, keeping the best weights (a queued job is simply dropped)."""
        with self._lock:
            self._stop_requested = True
            self._version += 1
            handle, queued = self.handle, self._state == JobState.QUEUED
        if handle is not None:
            handle.stop()
        elif queued:
            self._finish(JobState.STOPPED)

    def kill(self) -> None:
        """End now: for a worker that does not react to Stop. Nothing of the run is kept."""
        with self._lock:
            self._killed = True
            self._version += 1
            handle = self.handle
        if handle is not None:
            handle.kill()
        else:
            self.stop()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job has finished; True when it has."""
        return self._done.wait(timeout)

    @property
    def created(self) -> float:
        return self._created

    @property
    def state(self) -> JobState:
        with self._lock:
            return self._state

    @property
    def finished(self) -> bool:
        return self.state.finished

    # ---- from the worker ---------------------------------------------------------------------
    def on_message(self, message: tuple) -> None:
        kind = message[0]
        if kind == "event":
            self._on_event(message[1])
        elif kind == "result":
            with self._lock:
                self._result = message[1]
                stopped = bool((getattr(message[1], "metrics", None) or {}).get("stopped_by_user"))
                state = JobState.STOPPED if (stopped or self._stop_requested) else JobState.DONE
            self._finish(state)
        elif kind == "error":
            with self._lock:
                self._error = str(message[1])
            self._finish(JobState.ERROR)

    def on_exit(self, exitcode: int | None) -> None:
        """The worker is gone; without a result or an error first, it died."""
        if self.finished:
            return
        with self._lock:
            self._error = ("stopped by force (Kill): nothing of this run was saved" if self._killed
                           else death_message(exitcode))
        self._finish(JobState.ERROR)

    def _finish(self, state: JobState) -> None:
        with self._lock:
            if self._state.finished:
                return
            self._state = state
            self._ended = time.time()
            self._version += 1
        self._done.set()

    def _on_event(self, event: Event) -> None:
        with self._lock:
            self._version += 1
            if isinstance(event, Started | Batch) or (isinstance(event, Epoch) and not event.fold):
                self._on_training(event, time.time())
                return
            progress = progress_of(event)
            if progress is not None:
                self._progress = progress
            if isinstance(event, Fold):
                self._folds.append(event)
            elif isinstance(event, Trial):
                self._trials.append(event)

    def _on_training(self, event: Started | Batch | Epoch, now: float) -> None:
        """Called with the lock held."""
        if isinstance(event, Started):
            self._setup, self._epoch_started = event, now
        elif isinstance(event, Batch):
            self._batches.append({"epoch": event.epoch, "batch": event.batch, "loss": event.loss,
                                  "elapsed": event.elapsed})
            self._batch, self._batch_time = event, now
        else:
            self._history.append({"epoch": event.epoch, "loss": event.loss, "val_loss": event.val_loss,
                                  "seconds": event.seconds})
            self._epoch, self._epoch_started = replace(event, val_pred=None), now
            if event.val_pred is not None:
                self._val_pred, self._val_pred_epoch = event.val_pred, event.epoch

    # ---- reading -----------------------------------------------------------------------------
    def snapshot(self, queue_position: int | None = None) -> JobSnapshot:
        """A consistent copy of the progress. Pages poll it every second from every tab: while nothing
        changed (same version, same queue position) the same snapshot comes back at once, without
        copying the history into new tables (treat it as read-only)."""
        with self._lock:
            key = (self._version, queue_position)
            if self._snap is not None and self._snap[0] == key:
                return self._snap[1]
            snap = self._make_snapshot(queue_position)
            self._snap = (key, snap)
            return snap

    def _make_snapshot(self, queue_position: int | None) -> JobSnapshot:
        """Called with the lock held."""
        fraction, text, eta = self._progress.fraction, self._progress.text, self._progress.eta
        training = self._training() if self.kind == "train" else None
        if training is not None:
            fraction, eta = self._train_progress(training)
        return JobSnapshot(
            id=self.id, kind=self.kind, label=self.label, state=self._state, created=self._created,
            started=self._started, ended=self._ended, queue_position=queue_position,
            fraction=fraction, text=text, eta=eta, training=training,
            folds=tuple(self._folds), trials=tuple(self._trials), result=self._result, error=self._error,
            stop_requested=self._stop_requested, killed=self._killed, version=self._version,
        )

    def _training(self) -> TrainingProgress:
        """Called with the lock held."""
        last, batch = self._epoch, self._batch
        epoch = last.epoch if last is not None else 0
        epochs = last.epochs if last is not None else (self._setup.epochs if self._setup is not None else 0)
        return TrainingProgress(
            setup=self._setup, epoch=epoch, epochs=epochs,
            batch=batch.batch if batch is not None and batch.epoch > epoch else 0,  # a batch of the epoch under way
            batches=batch.batches if batch is not None else None,
            samples_per_s=last.samples_per_s if last is not None else None,
            history=pd.DataFrame(self._history, columns=HISTORY_COLUMNS),
            batch_losses=pd.DataFrame(self._batches, columns=BATCH_COLUMNS),
            val_pred=self._val_pred, val_pred_epoch=self._val_pred_epoch)

    def _train_progress(self, t: TrainingProgress) -> tuple[float, float | None]:
        """Fraction done and seconds left, from the measured epochs — or, inside the first epoch,
        from the measured batches (an epoch-based guess is impossible before one has ended)."""
        if not t.epochs:
            return 0.0, None
        within = t.batch / t.batches if t.batches and t.batch else 0.0
        fraction = min(1.0, (t.epoch + within) / t.epochs)
        seconds = [h["seconds"] for h in self._history if h["seconds"] is not None and math.isfinite(h["seconds"])]
        if seconds:
            per_epoch = sum(seconds) / len(seconds)
            return fraction, max(0.0, per_epoch * (t.epochs - t.epoch - within))
        if within > 0:
            spent = self._batch_time - self._epoch_started
            return fraction, max(0.0, spent / within * (t.epochs - within))
        return fraction, None
