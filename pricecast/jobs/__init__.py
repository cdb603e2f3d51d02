"""Jobs: trainings, walk-forward backtests, experiments (and the few other things that need
TensorFlow) started from the dashboard run in worker processes, never in the server's.

- :mod:`.task`: a task as data and the runner that does it; :mod:`.tasks`: what the dashboard's
  jobs do, in the worker (the only module here that reaches training); :mod:`.worker`: the
  worker process's main;
- :mod:`.executors`: where it runs (a local process, or Ray) behind one ``launch`` interface;
- :mod:`.events`: typed progress events; :mod:`.job`: one job's state and snapshots;
- :mod:`.registry`: jobs per browser session, capacity and queue.

Importing this package loads no TensorFlow.
"""
from __future__ import annotations

import threading
from dataclasses import replace

from pricecast.specs import RunSpec

from .events import Batch, Epoch, Fold, Progress, Started, Trial
from .executors import EXECUTORS, JobError, LocalExecutor, RayExecutor
from .job import Job, JobSnapshot, JobState
from .registry import JobRegistry, default_capacity
from .task import Runner, Task
from .tasks import RUNNER

_REGISTRY: JobRegistry | None = None
_REGISTRY_LOCK = threading.Lock()


def registry() -> JobRegistry:
    """The process-wide registry of the dashboard's jobs (one Streamlit server process serves every
    browser tab)."""
    global _REGISTRY
    with _REGISTRY_LOCK:
        if _REGISTRY is None:
            _REGISTRY = JobRegistry(RUNNER)
        return _REGISTRY


def tune_for_dashboard(spec: RunSpec) -> RunSpec:
    """The spec as the dashboard trains it: validation forecasts every epoch (the live chart) and
    the loss after every few batches (progress inside the first epoch, which can take minutes)."""
    return spec.replace(train=replace(spec.train, live_val_predictions=True, per_batch_updates=True))


__all__ = ["Batch", "Epoch", "Fold", "Progress", "Started", "Trial", "EXECUTORS", "JobError", "LocalExecutor",
           "RayExecutor", "Job", "JobSnapshot", "JobState", "JobRegistry", "default_capacity", "registry", "Runner", "RUNNER",
           "Task", "tune_for_dashboard"]
