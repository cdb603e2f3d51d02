"""The dashboard's jobs: per browser session, at most ``capacity`` running at once, the rest in a
first-come queue. One registry per server process; pages keep only job ids."""
from __future__ import annotations

import hmac
import os
import shutil
import threading
from collections.abc import Callable
from typing import Any

import pandas as pd

from .executors import EXECUTORS, JobError, make_executor
from .job import Job
from .task import Runner, Task


def gpu_present() -> bool:
    """An NVIDIA GPU is visible to this machine (checked without loading TensorFlow)."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return False
    return os.path.exists("/dev/nvidia0") or shutil.which("nvidia-smi") is not None


def default_capacity() -> int:
    """``PRICECAST_MAX_JOBS``, else one at a time on a GPU (jobs would fight over its memory) and
    half the cores (at least two) on a CPU: small networks train nearly as fast on one core as on
    two, so two sessions side by side each keep most of their speed."""
    setting = os.environ.get("PRICECAST_MAX_JOBS", "").strip()
    if setting:
        try:
            return max(1, int(setting))
        except ValueError:
            raise JobError(f"PRICECAST_MAX_JOBS must be a whole number, not '{setting}'") from None
    if gpu_present():
        return 1
    return max(2, (os.cpu_count() or 1) // 2)


def default_executor() -> str:
    name = os.environ.get("PRICECAST_EXECUTOR", "local").strip() or "local"
    if name not in EXECUTORS:
        raise JobError(f"PRICECAST_EXECUTOR must be one of {', '.join(EXECUTORS)}, not '{name}'")
    return name


class JobRegistry:
    def __init__(self, runner: Runner, capacity: int | None = None, keep: int = 20,
                 executors: dict[str, Any] | None = None) -> None:
        """``runner``: how the tasks are done (passed to every worker). ``executors``: ready-made
        executors by name (e.g. an experiment's pool of reusable workers); others are made on
        first use."""
        self.runner = runner
        self.capacity = capacity or default_capacity()
        self.keep = keep
        self._lock = threading.RLock()
        self._jobs: list[Job] = []  # every job still remembered, oldest first
        self._queue: list[Job] = []
        self._running: set[str] = set()
        self._executors: dict[str, Any] = dict(executors or {})

    # ---- executors ---------------------------------------------------------------------------
    def executor(self, name: str | None = None):
        name = name or default_executor()
        with self._lock:
            if name not in self._executors:
                threads = None
                if not gpu_present():
                    # Each job gets its fair share of the cores. Small networks train no faster on
                    # two threads than on one, but their two threads stall whenever anything else
                    # (this server, the browser, another job) takes a core: uncapped, a 95-second
                    # run took 1.8x as long with its page open (docs/BENCHMARKS.md, benchmark 7).
                    threads = max(1, (os.cpu_count() or 1) // self.capacity)
                # A killed server's trainings finish and save their runs (a server stopped on purpose
                # ends them; their runs are then listed as interrupted).
                self._executors[name] = make_executor(name, self.runner, threads=threads, finish_when_orphaned=True)
            return self._executors[name]

    def prewarm(self, executor: str | None = None) -> None:
        """Have a worker ready (TensorFlow loaded) for the next job, while nothing is running."""
        with self._lock:
            busy = bool(self._running)
        if not busy:
            self.executor(executor).prewarm()

    # ---- submitting --------------------------------------------------------------------------
    def submit(self, session_id: str, kind: str, payload: dict | None = None, candles: pd.DataFrame | None = None,
               label: str = "", context: Any = None, executor: str | None = None, exclusive: bool = True,
               owner: str = "") -> Job:
        """Queue a job for this session and start it when a slot is free. ``exclusive``: refuse
        while the session has an unfinished job of the same kind. ``owner``: a secret of the browser
        that submitted it (never in a link), the only key that lets a new session take the job back
        (:meth:`reclaim`)."""
        executor = executor or default_executor()
        self.executor(executor)  # an unknown executor or a missing Ray fails here, before queueing
        with self._lock:
            if exclusive and self.active(session_id, kind) is not None:
                raise JobError(f"a {kind} job is already going in this session: stop it first")
            job = Job(Task(kind, dict(payload or {}), candles), session_id, label, context, executor)
            job.owner = owner
            self._jobs.append(job)
            self._queue.append(job)
            self._forget_old(session_id)
        self._dispatch()
        return job

    def _dispatch(self) -> None:
        to_start: list[Job] = []
        with self._lock:
            self._queue = [j for j in self._queue if not j.finished]  # stopped while queued
            while self._queue and len(self._running) < self.capacity:
                job = self._queue.pop(0)
                self._running.add(job.id)
                to_start.append(job)
        for job in to_start:
            self._launch(job)

    def _launch(self, job: Job) -> None:
        def on_exit(exitcode: int | None) -> None:
            job.on_exit(exitcode)
            with self._lock:
                self._running.discard(job.id)
            self._dispatch()

        try:
            handle = self.executor(job.executor).launch(job.task, job.on_message, on_exit)
        except Exception as exc:  # noqa: BLE001 - e.g. no process could be started
            job.on_message(("error", f"the job could not be started: {exc}"))
            on_exit(None)
            return
        job.task.candles = None  # sent to the worker; the server keeps no second copy
        job.mark_running(handle)

    def _forget_old(self, session_id: str) -> None:
        """A session remembers its last ``keep`` jobs; the server its last ``keep`` x 10 finished ones
        (closed tabs' jobs hold their validation windows and histories: without a bound a busy server
        grows with every training)."""
        mine = [j for j in self._jobs if j.session_id == session_id]
        for job in mine[: max(0, len(mine) - self.keep)]:
            if job.finished:
                self._jobs.remove(job)
        finished = [j for j in self._jobs if j.finished]
        for job in finished[: max(0, len(finished) - self.keep * 10)]:
            self._jobs.remove(job)

    # ---- reading -----------------------------------------------------------------------------
    def jobs(self, session_id: str, kind: str | None = None) -> list[Job]:
        with self._lock:
            return [j for j in self._jobs if j.session_id == session_id and (kind is None or j.kind == kind)]

    def get(self, session_id: str, job_id: str) -> Job | None:
        """This session's job with that id (another session's jobs are never returned)."""
        return next((j for j in self.jobs(session_id) if j.id == job_id), None)

    def active(self, session_id: str, kind: str | None = None) -> Job | None:
        return next((j for j in reversed(self.jobs(session_id, kind)) if not j.finished), None)

    def latest(self, session_id: str, kind: str | None = None) -> Job | None:
        jobs = self.jobs(session_id, kind)
        return jobs[-1] if jobs else None

    def reclaim(self, session_id: str, owner: str, kind: str,
                is_connected: Callable[[str], bool] = lambda _session: False) -> Job | None:
        """A reloaded browser tab (a new session) takes back its browser's unfinished job of ``kind``
        (with the old tab's other jobs of that kind: its history). Only with the owner secret the job
        was submitted with, and never while the session that holds it is still connected (another
        open tab keeps its job): a job id alone, e.g. from a shared link, reaches nothing. A finished
        job stays where it is: its run is in the runs list, and a new tab starts clean."""
        if not owner:
            return None
        with self._lock:
            mine = [j for j in self._jobs if j.kind == kind and not j.finished and j.owner
                    and hmac.compare_digest(j.owner, owner) and j.session_id != session_id]
        for job in sorted(mine, key=lambda j: j.created, reverse=True):
            holder = job.session_id
            if is_connected(holder):
                continue
            with self._lock:
                if job.session_id != holder:  # taken by another tab meanwhile
                    continue
                for other in self._jobs:
                    if other.session_id == holder and other.kind == kind:
                        other.session_id = session_id
            return job
        return None

    def queue_position(self, job: Job) -> int | None:
        """1 for the next job to start; None when the job is not waiting."""
        with self._lock:
            return self._queue.index(job) + 1 if job in self._queue else None

    def snapshot(self, job: Job):
        return job.snapshot(self.queue_position(job))

    def running_count(self) -> int:
        with self._lock:
            return len(self._running)

    def shutdown(self) -> None:
        with self._lock:
            jobs = [j for j in self._jobs if not j.finished]
            executors = list(self._executors.values())
        for job in jobs:
            job.kill()
        for executor in executors:
            executor.shutdown()
