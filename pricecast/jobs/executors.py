"""Where jobs run: a local worker process (default) or a Ray cluster, behind one interface.

``executor.launch(task, on_message, on_exit)`` starts the task and returns a :class:`Handle`
(``stop()``: end within one batch, best weights kept; ``kill()``: end now). ``on_message`` gets the
worker's ``("event"|"result"|"error", ...)`` tuples on a reader thread; ``on_exit(exitcode)`` is
called once at the end, however the worker ended.
"""
from __future__ import annotations

import multiprocessing.util
import os
import tempfile
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from pricecast.errors import PricecastError, describe
from pricecast.spawning import spawn_context, thread_env, without_main_script

from .task import Runner, Task, apply_env
from .worker import death_message
from .worker import main as worker_main

OnMessage = Callable[[tuple], None]
OnExit = Callable[["int | None"], None]
EXECUTORS: tuple[str, ...] = ("local", "ray")


class JobError(PricecastError):
    """A job cannot be started as asked (unknown executor, Ray missing, no capacity ...)."""


class Handle(Protocol):
    def stop(self) -> None: ...
    def kill(self) -> None: ...


# ---- local worker processes ----------------------------------------------------------------------
_EXECUTORS: weakref.WeakSet = weakref.WeakSet()  # every LocalExecutor still in use


def _shut_down_all() -> None:
    for executor in list(_EXECUTORS):
        executor.shutdown()


# At interpreter exit multiprocessing joins every child that is not a daemon, and workers are not
# (see _Worker): a spare worker waiting for a task, or one still training, would keep the process
# (a stopped dashboard server, pytest after the page tests) from ever exiting. Finalizers with an
# exit priority run in that same exit handler just before the join.
multiprocessing.util.Finalize(None, _shut_down_all, exitpriority=10)


class _Worker:
    """A spawned worker process, its pipe and its stop flag."""

    def __init__(self, env: dict[str, str], runner: Runner, finish_when_orphaned: bool = False) -> None:
        ctx = spawn_context()
        self.conn, child = ctx.Pipe(duplex=True)
        self.stop_event = ctx.Event()
        # Not a daemon: an experiment's worker starts its own process pool.
        self.process = ctx.Process(target=worker_main,
                                   args=(child, self.stop_event, os.getpid(), env, runner, finish_when_orphaned),
                                   name="pricecast-job", daemon=False)
        with without_main_script():
            self.process.start()
        child.close()

    def stop(self) -> None:
        self.stop_event.set()

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()

    def quit(self) -> None:
        """Ask an idle worker to end (it finishes nothing: it has no task)."""
        try:
            self.conn.send(None)
        except OSError:
            pass

    @property
    def alive(self) -> bool:
        return self.process.is_alive()

    @property
    def pid(self) -> int | None:
        return self.process.pid


class LocalExecutor:
    """Jobs in spawned worker processes.

    - ``spare``: one extra worker is kept started with TensorFlow already loaded, so the next job
      trains at once instead of paying the import (the dashboard).
    - ``keep_idle``: up to this many workers are kept after their task for the next one (an
      experiment's many short trials: TensorFlow is loaded once per worker, not once per trial).
      The dashboard uses a fresh process per job, so one job's memory or crash never reaches the next.
    - ``threads``: TensorFlow's thread pools per worker (None: TensorFlow's default).
    """

    name = "local"

    def __init__(self, runner: Runner, threads: int | None = None, spare: bool = True, keep_idle: int = 0,
                 finish_when_orphaned: bool = False, kill_on_shutdown: bool | None = None) -> None:
        self.runner = runner
        # Shutdown (this process exiting on purpose) kills busy workers unless they are to finish
        # their task; a worker whose parent died (killed) finishes its task with finish_when_orphaned.
        self.kill_on_shutdown = (not finish_when_orphaned) if kill_on_shutdown is None else kill_on_shutdown
        self.env = thread_env(threads) if threads else {"TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3")}
        self.spare_wanted = spare
        self.keep_idle = keep_idle
        self.finish_when_orphaned = finish_when_orphaned
        self._spare: _Worker | None = None
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._lock = threading.Lock()
        _EXECUTORS.add(self)

    def _new_worker(self) -> _Worker:
        return _Worker(self.env, self.runner, self.finish_when_orphaned)

    def prewarm(self) -> None:
        """Start the spare worker if there is none (it loads TensorFlow in the background)."""
        if not self.spare_wanted:
            return
        with self._lock:
            if self._spare is None or not self._spare.alive:
                self._spare = self._new_worker()

    def launch(self, task: Task, on_message: OnMessage, on_exit: OnExit) -> _Worker:
        worker = None
        with self._lock:
            while self._idle and worker is None:
                candidate = self._idle.pop()
                worker = candidate if candidate.alive else None
            if worker is None:
                worker, self._spare = self._spare, None
        if worker is None or not worker.alive:
            worker = self._new_worker()
        worker.stop_event.clear()  # a Stop meant for this worker's previous task
        with self._lock:
            self._busy.add(worker)
        worker.conn.send(task)
        threading.Thread(target=self._read, args=(worker, on_message, on_exit), name="pricecast-job-reader",
                         daemon=True).start()
        return worker

    def _read(self, worker: _Worker, on_message: OnMessage, on_exit: OnExit) -> None:
        final = False
        while not final:
            try:
                message = worker.conn.recv()
            except (EOFError, OSError):
                break
            except Exception as exc:  # noqa: BLE001 - a message that cannot be unpickled here
                message = ("error", f"the worker's answer could not be read: {describe(exc)}")
            final = message[0] in ("result", "error")
            on_message(message)
        with self._lock:
            self._busy.discard(worker)
        if final and worker.alive:
            with self._lock:
                keep = len(self._idle) < self.keep_idle
                if keep:
                    self._idle.append(worker)
            if keep:
                on_exit(0)
                return
            worker.quit()
        worker.process.join(timeout=30 if final else 5)
        if worker.process.is_alive():
            worker.kill()
            worker.process.join(timeout=5)
        worker.conn.close()
        on_exit(worker.process.exitcode)

    def shutdown(self) -> None:
        """End every worker: spare and idle ones now; busy ones now too, or, with
        ``finish_when_orphaned``, after their task (the trial still records itself)."""
        with self._lock:
            spare, self._spare = self._spare, None
            idle, self._idle = self._idle, []
            busy = list(self._busy)
        for worker in busy:
            if not self.kill_on_shutdown:
                worker.quit()  # read once the task is done: the worker then ends
            else:
                worker.kill()
        for worker in idle:
            worker.quit()
        for worker in idle:
            worker.process.join(timeout=10)
            worker.kill()
        if spare is not None:
            spare.kill()


# ---- Ray ------------------------------------------------------------------------------------------
RAY_MISSING = ("the Ray executor needs the optional 'ray' package: pip install -r requirements-ray.txt "
               "(or use the local executor)")


def import_ray():
    try:
        import ray
    except ImportError as exc:
        raise JobError(RAY_MISSING) from exc
    return ray


def _channel_class(ray):
    @ray.remote(num_cpus=0)
    class Channel:
        """Events from the task to the driver, and the stop request from the driver to the task."""

        def __init__(self) -> None:
            self.messages: list = []
            self.stop = False

        def put(self, message) -> None:
            self.messages.append(message)

        def take(self) -> list:
            out, self.messages = self.messages, []
            return out

        def request_stop(self) -> None:
            self.stop = True

        def stop_requested(self) -> bool:
            return self.stop

    return Channel


def _ray_job(task: Task, runner: Runner, channel) -> tuple:
    """Runs on a Ray worker: the task, with events sent through ``channel``. A run folder it
    writes travels back as bytes, so it lands on the driver's disk even without a shared one."""
    import ray

    stop = threading.Event()
    done = threading.Event()

    def poll_stop() -> None:
        while not done.is_set():
            if ray.get(channel.stop_requested.remote()):
                stop.set()
                return
            time.sleep(0.5)

    threading.Thread(target=poll_stop, daemon=True).start()
    try:
        with tempfile.TemporaryDirectory(prefix="pricecast-job-") as scratch:
            runner.prepare_remote(task, scratch)
            try:
                apply_env(task.env)
                result = runner.run(task, lambda event: channel.put.remote(("event", event)), stop)
            except Exception as exc:  # noqa: BLE001 - every failure becomes a message on the page
                return ("error", describe(exc)), {}, None
            folder = runner.written_folder(task, result, Path(scratch))
            files: dict[str, bytes] = {}
            rel = None
            if folder is not None:
                files = {str(f.relative_to(folder)): f.read_bytes() for f in folder.rglob("*") if f.is_file()}
                rel = str(folder.relative_to(scratch))
            return ("result", result), files, rel
    finally:
        done.set()


class _RayHandle:
    def __init__(self, ref, channel) -> None:
        self.ref, self.channel = ref, channel

    def stop(self) -> None:
        self.channel.request_stop.remote()

    def kill(self) -> None:
        import ray

        ray.cancel(self.ref, force=True)


class RayExecutor:
    """Each job a Ray task on ``address`` (or ``$RAY_ADDRESS``); without one, a local Ray instance
    with this machine's cores. The pricecast package travels with the task (``py_modules``) to a
    remote cluster; its dependencies must be installed on the nodes."""

    name = "ray"

    def __init__(self, runner: Runner, address: str | None = None, num_cpus: int = 1,
                 threads: int | None = None) -> None:
        self.runner = runner
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        self.num_cpus = num_cpus
        self.env = thread_env(threads) if threads else {"TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3")}
        self._remote = None
        self._channel = None
        self._lock = threading.Lock()

    def _setup(self):
        ray = import_ray()
        with self._lock:
            if self._remote is None:
                package = Path(__file__).resolve().parents[1]
                if not ray.is_initialized():
                    if self.address:
                        ray.init(address=self.address, log_to_driver=False)
                    else:
                        ray.init(num_cpus=os.cpu_count() or 1, include_dashboard=False, log_to_driver=False)
                if self.address:
                    runtime_env = {"py_modules": [str(package)], "env_vars": dict(self.env)}
                else:
                    paths = [str(package.parent)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
                    runtime_env = {"env_vars": {**self.env, "PYTHONPATH": os.pathsep.join(paths)}}
                gpus = float(ray.cluster_resources().get("GPU", 0))
                self._remote = ray.remote(_ray_job).options(num_cpus=self.num_cpus, num_gpus=1 if gpus else 0,
                                                            max_retries=0, runtime_env=runtime_env)
                self._channel = _channel_class(ray).options(runtime_env=runtime_env)
        return ray

    def prewarm(self) -> None:
        pass

    def launch(self, task: Task, on_message: OnMessage, on_exit: OnExit) -> _RayHandle:
        ray = self._setup()
        if self.address:
            task.env = {}  # this machine's folders mean nothing on the cluster's nodes
        channel = self._channel.remote()
        local = dict(task.payload)  # where the results belong on this machine
        handle = _RayHandle(self._remote.remote(task, self.runner, channel), channel)
        threading.Thread(target=self._read, args=(ray, handle, task.kind, local, on_message, on_exit),
                         name="pricecast-ray-reader", daemon=True).start()
        return handle

    def _read(self, ray, handle: _RayHandle, kind: str, local: dict, on_message: OnMessage, on_exit: OnExit) -> None:
        def drain() -> None:
            for message in ray.get(handle.channel.take.remote()):
                on_message(message)

        exitcode: int | None = 0
        while True:
            ready, _ = ray.wait([handle.ref], timeout=0.25)
            drain()
            if ready:
                break
        try:
            final, files, rel = ray.get(handle.ref)
            drain()
            if final[0] == "result":
                final = ("result", self.runner.finish_remote(kind, local, final[1], files, rel))
            on_message(final)
        except Exception as exc:  # noqa: BLE001 - cancelled, worker died, node lost
            name = type(exc).__name__
            exitcode = -9 if "Cancel" in name else 1
            on_message(("error", death_message(-9) if exitcode == -9 else f"the Ray task failed: {describe(exc)}"))
        ray.kill(handle.channel)
        on_exit(exitcode)

    def shutdown(self) -> None:
        pass


def make_executor(name: str, runner: Runner, address: str | None = None, threads: int | None = None,
                  finish_when_orphaned: bool = False):
    """``finish_when_orphaned`` (local workers): a worker whose parent process is killed finishes its
    task (a training saves its run) instead of ending with it; a parent that exits on purpose still
    ends its workers."""
    if name == "local":
        return LocalExecutor(runner, threads, finish_when_orphaned=finish_when_orphaned, kill_on_shutdown=True)
    if name == "ray":
        return RayExecutor(runner, address, threads=threads)
    raise JobError(f"unknown executor '{name}'; choose from {', '.join(EXECUTORS)}")


__all__ = ["EXECUTORS", "Handle", "JobError", "LocalExecutor", "RayExecutor", "make_executor", "import_ray",
           "RAY_MISSING"]
