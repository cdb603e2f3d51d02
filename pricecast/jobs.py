"""Background training for the dashboard: a run on a thread, stoppable, observable from any rerun.

A :class:`TrainingJob` runs :func:`pricecast.training.train` on a daemon thread and collects the
listener's events under a lock; the page reads a consistent copy with :meth:`TrainingJob.snapshot`.
Jobs live in a process-wide :class:`JobRegistry` keyed by a per-browser-session id, so a run keeps
going while its user moves between pages and two browser tabs never see each other's runs.

No Streamlit and no Keras at import time (training imports Keras on its own thread).
"""
from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .specs import RunSpec

# Above this many batches per epoch the loss is also streamed per batch, so the live curve moves
# while an epoch that takes minutes is still running.
PER_BATCH_THRESHOLD = 200

STATES = ("pending", "running", "done", "stopped", "error")


@dataclass
class JobSnapshot:
    """A consistent copy of a job's progress, safe to use on the script thread."""

    id: str
    state: str
    spec: RunSpec
    started_at: float
    device: str = ""
    backend: str = ""
    params: int | None = None
    epoch: int = 0
    epochs: int = 0
    eta: float | None = None
    elapsed: float = 0.0
    samples_per_s: float | None = None
    sizes: dict[str, int] = field(default_factory=dict)
    history: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["epoch", "loss", "val_loss", "seconds"]))
    batches: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["epoch", "batch", "loss", "elapsed"]))
    val_pred: np.ndarray | None = None  # (m_val, k) prices after the latest epoch
    val_pred_epoch: int = 0
    error: str = ""
    run_dir: str = ""
    stop_requested: bool = False

    @property
    def finished(self) -> bool:
        return self.state in ("done", "stopped", "error")

    @property
    def progress(self) -> float:
        """0..1 by epochs (early stopping may end before 1)."""
        if self.state in ("done", "stopped"):
            return 1.0
        return min(1.0, self.epoch / self.epochs) if self.epochs else 0.0


def tune_for_dashboard(spec: RunSpec, train_windows: int | None = None) -> RunSpec:
    """The spec as the dashboard trains it: validation forecasts every epoch (the live chart),
    per-batch loss when an epoch has many batches."""
    per_batch = spec.train.per_batch_updates
    if train_windows is not None and spec.train.batch_size > 0:
        per_batch = per_batch or train_windows / spec.train.batch_size > PER_BATCH_THRESHOLD
    return spec.replace(train=replace(spec.train, live_val_predictions=True, per_batch_updates=per_batch))


class TrainingJob:
    """One training run on a background thread.

    ``prepared`` (from :func:`pricecast.training.prepare`) is optional; passing it lets the page
    report setting errors before the job starts and gives the live chart the validation windows.
    """

    def __init__(self, spec: RunSpec, candles: pd.DataFrame | None = None, prepared: Any = None,
                 runs_root: Path | str | None = None, job_id: str | None = None) -> None:
        self.id = job_id or uuid.uuid4().hex[:10]
        self.spec = spec
        self.candles = candles
        self.prepared = prepared
        self.runs_root = Path(runs_root) if runs_root else None
        self.stop_event = threading.Event()
        self.run: Any = None  # the finished pricecast.training.Run
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._state = "pending"
        self._started_at = time.time()
        self._info: dict[str, Any] = {}
        self._history: list[dict] = []
        self._batches: list[dict] = []
        self._val_pred: np.ndarray | None = None
        self._val_pred_epoch = 0
        self._error = ""
        self._run_dir = ""

    # ---- control -------------------------------------------------------------------------------
    def start(self) -> "TrainingJob":
        if self._thread is not None:
            raise RuntimeError("this job has already been started")
        with self._lock:
            self._state = "running"
            self._started_at = time.time()
        self._thread = threading.Thread(target=self._work, name=f"pricecast-train-{self.id}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask training to end after the current batch; the best weights are kept."""
        self.stop_event.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread; True when it has ended."""
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    @property
    def state(self) -> str:
        with self._lock:
            return self._state

    @property
    def finished(self) -> bool:
        return self.state in ("done", "stopped", "error")

    # ---- the thread ----------------------------------------------------------------------------
    def _work(self) -> None:
        from .training import train

        try:
            run = train(self.spec, listener=self._on_event, stop=self.stop_event, candles=self.candles,
                        runs_root=self.runs_root, prepared=self.prepared)
        except Exception as exc:  # noqa: BLE001 - any failure becomes a message on the page
            with self._lock:
                self._error = _plain_error(exc)
                self._state = "error"
            return
        with self._lock:
            self.run = run
            self._run_dir = str(run.run_dir)
            self._state = "stopped" if run.metrics.get("stopped_by_user") else "done"

    def _on_event(self, event: dict) -> None:
        kind = event.get("type")
        with self._lock:
            if kind == "start":
                self._info.update({k: v for k, v in event.items() if k != "type"})
            elif kind == "batch":
                self._batches.append({k: event.get(k) for k in ("epoch", "batch", "loss", "elapsed")})
            elif kind == "epoch":
                self._history.append({k: event.get(k) for k in ("epoch", "loss", "val_loss", "seconds")})
                self._info.update({k: event.get(k) for k in ("epoch", "epochs", "eta", "elapsed", "samples_per_s")})
                if event.get("val_pred") is not None:
                    self._val_pred = np.asarray(event["val_pred"], dtype=np.float64)
                    self._val_pred_epoch = int(event["epoch"])
            elif kind == "done":
                self._run_dir = str(event.get("run_dir", ""))

    # ---- reading -------------------------------------------------------------------------------
    def snapshot(self) -> JobSnapshot:
        with self._lock:
            info = dict(self._info)
            history = pd.DataFrame(self._history, columns=["epoch", "loss", "val_loss", "seconds"])
            batches = pd.DataFrame(self._batches, columns=["epoch", "batch", "loss", "elapsed"])
            return JobSnapshot(
                id=self.id, state=self._state, spec=self.spec, started_at=self._started_at,
                device=str(info.get("device", "")), backend=str(info.get("backend", "")),
                params=info.get("params"), epoch=int(info.get("epoch") or 0),
                epochs=int(info.get("epochs") or self.spec.train.epochs),
                eta=info.get("eta"), elapsed=float(info.get("elapsed") or 0.0),
                samples_per_s=info.get("samples_per_s"),
                sizes={k: int(info[k]) for k in ("train_windows", "val_windows", "test_windows") if k in info},
                history=history, batches=batches, val_pred=self._val_pred, val_pred_epoch=self._val_pred_epoch,
                error=self._error, run_dir=self._run_dir, stop_requested=self.stop_event.is_set(),
            )


def _plain_error(exc: BaseException) -> str:
    """The message a person can act on; the exception's class name only when it says nothing."""
    text = str(exc).strip()
    if isinstance(exc, (ValueError, KeyError, FileNotFoundError)) and text:
        return text.strip("'\"")
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class JobRegistry:
    """Jobs per browser session. Finished jobs are kept (newest last) up to ``keep`` per session."""

    def __init__(self, keep: int = 20) -> None:
        self.keep = keep
        self._lock = threading.Lock()
        self._jobs: dict[str, list[TrainingJob]] = {}

    def add(self, session_id: str, job: TrainingJob) -> TrainingJob:
        with self._lock:
            jobs = self._jobs.setdefault(session_id, [])
            jobs.append(job)
            # Forget the oldest finished jobs beyond the limit; their runs stay on disk.
            while len(jobs) > self.keep:
                old = next((j for j in jobs if j.finished), None)
                if old is None:
                    break
                jobs.remove(old)
        return job

    def start(self, session_id: str, spec: RunSpec, **kwargs: Any) -> TrainingJob:
        """Create, register and start a job, unless this session already has one running."""
        running = self.active(session_id)
        if running is not None:
            raise RuntimeError("a training run is already going in this session: stop it first")
        return self.add(session_id, TrainingJob(spec, **kwargs)).start()

    def jobs(self, session_id: str) -> list[TrainingJob]:
        with self._lock:
            return list(self._jobs.get(session_id, []))

    def get(self, session_id: str, job_id: str) -> TrainingJob | None:
        return next((j for j in self.jobs(session_id) if j.id == job_id), None)

    def active(self, session_id: str) -> TrainingJob | None:
        return next((j for j in reversed(self.jobs(session_id)) if not j.finished), None)

    def latest(self, session_id: str) -> TrainingJob | None:
        jobs = self.jobs(session_id)
        return jobs[-1] if jobs else None

    def remove_session(self, session_id: str) -> None:
        with self._lock:
            for job in self._jobs.pop(session_id, []):
                job.stop()


_REGISTRY = JobRegistry()


def registry() -> JobRegistry:
    """The process-wide registry (one Streamlit server process serves every browser tab)."""
    return _REGISTRY
