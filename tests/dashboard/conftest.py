"""Fixtures for the dashboard's tests."""
from __future__ import annotations

import sys

import pytest


@pytest.fixture(autouse=True)
def no_jobs_left_behind():
    """Every test starts with an empty dashboard job registry. AppTests in one process share
    Streamlit's session id, so a job one test leaves behind (a failed fake training, say) would be
    the next test's "latest training" and its page would show that job's error. The registry's
    executors (warm worker processes) are kept: they hold no session's state."""
    yield
    dashboard = sys.modules.get("pricecast.service.dashboard")  # never imported here: nothing to clear
    registry = getattr(dashboard, "_REGISTRY", None)
    if registry is None:
        return
    with registry._lock:
        jobs = list(registry._jobs)
        registry._jobs.clear()
        registry._queue.clear()
    for job in jobs:
        if not job.finished:
            job.kill()
