"""The dashboard's side of the jobs: one registry per server process, running the dashboard's own
kinds (:data:`~pricecast.service.tasks.RUNNER`), and the spec as the dashboard trains it.

A module of its own (not the package's ``__init__``) so that loading the job machinery, as the
experiments' trial runner does, never loads :mod:`.tasks`, which reaches the experiments.
"""
from __future__ import annotations

import threading
from dataclasses import replace

from pricecast.jobs.registry import JobRegistry
from pricecast.service.tasks import RUNNER
from pricecast.specs import RunSpec

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
