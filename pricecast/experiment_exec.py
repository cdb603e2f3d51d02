"""Where an experiment's trials run: this process, a local process pool, or a Ray cluster.

Every executor trains a trial with :func:`run_trial` (an ordinary :func:`pricecast.training.train`
with the trial's seed) and hands each finished trial's record to ``on_result`` as it arrives. The
record file is written as soon as the trial is done (by the worker for local executors, by the
driver for Ray), so a kill loses only the trials that were running.

TensorFlow does not survive ``fork``, so the pool uses the ``spawn`` start method, and each worker
caps TensorFlow's thread pools (cores / workers) before TensorFlow is imported in it.
"""
from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from .experiments import ExperimentError, Trial, save_record
from .runs import store_run_files
from .spawning import spawn_context, thread_env, watch_parent, without_main_script
from .specs import RunSpec

OnResult = Callable[[dict], None]
PACKAGE_DIR = Path(__file__).resolve().parent

_worker_candles: pd.DataFrame | None = None


def task_of(trial: Trial) -> dict:
    """A trial as plain data (it crosses process and machine boundaries)."""
    return {"key": trial.key, "variation": trial.variation, "label": trial.label, "repeat": trial.repeat,
            "seed": trial.seed, "spec": trial.spec.to_dict()}


def run_trial(task: dict, candles: pd.DataFrame, exp_dir: Path | str, stop: threading.Event | None = None) -> dict:
    """Train one trial into ``<exp_dir>/trials`` and return its record. A failing trial gives a
    record with ``status: error`` (the experiment goes on); one stopped midway gives ``stopped``
    and leaves no folder, so it runs again on resume."""
    from .training import train

    exp_dir = Path(exp_dir)
    record = {k: task[k] for k in ("key", "variation", "label", "repeat", "seed")}
    record.update(host=socket.gethostname(), pid=os.getpid())
    started = time.perf_counter()
    try:
        run = train(RunSpec.from_dict(task["spec"]), candles=candles, runs_root=exp_dir / "trials", stop=stop)
    except Exception as exc:  # noqa: BLE001 - one bad trial must not end the experiment
        return {**record, "status": "error", "error": f"{type(exc).__name__}: {exc}",
                "wall_seconds": time.perf_counter() - started, "finished_at": _now()}
    if run.metrics.get("stopped_by_user"):
        shutil.rmtree(run.run_dir, ignore_errors=True)
        return {**record, "status": "stopped"}
    m = run.metrics
    test, val = m.get("test") or {}, m.get("val") or {}
    history = run.history
    epochs = max(1, int(m.get("epochs_run") or 1))
    record.update({
        "status": "ok", "error": "",
        "run_dir": os.path.relpath(run.run_dir, exp_dir),
        "test_rmse": test.get("rmse"), "persistence_rmse": test.get("persistence_rmse"), "skill": test.get("skill"),
        "test_mae": (test.get("model") or {}).get("mae"), "test_direction": (test.get("model") or {}).get("direction"),
        "val_rmse": val.get("rmse"),
        "best_val_loss": m.get("best_val_loss"), "best_epoch": m.get("best_epoch"), "epochs_run": m.get("epochs_run"),
        "train_seconds": m.get("train_seconds"),
        "seconds_per_epoch": (m.get("train_seconds") or 0.0) / epochs,
        "params": m.get("params"), "device": m.get("device"),
        "history": {c: [float(x) for x in history[c]] for c in ("loss", "val_loss") if c in history},
        "wall_seconds": time.perf_counter() - started, "finished_at": _now(),
    })
    return record


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def execute(executor: str, trials: Sequence[Trial], candles: pd.DataFrame, folder: Path, on_result: OnResult,
            stop: threading.Event, workers: int, address: str | None = None) -> None:
    tasks = [task_of(t) for t in trials]
    if executor == "ray":
        run_ray(tasks, candles, folder, on_result, stop, workers, address)
    elif executor == "serial" or workers <= 1:
        run_serial(tasks, candles, folder, on_result, stop)
    else:
        run_pool(tasks, candles, folder, on_result, stop, workers)


# ---- this process ------------------------------------------------------------------------------
def run_serial(tasks: Sequence[dict], candles: pd.DataFrame, folder: Path, on_result: OnResult,
               stop: threading.Event) -> None:
    """One trial after another in this process (one worker, a GPU, or debugging)."""
    for task in tasks:
        if stop.is_set():
            return
        record = run_trial(task, candles, folder, stop)
        if record["status"] == "stopped":
            return
        save_record(folder, record)
        on_result(record)


# ---- local process pool ------------------------------------------------------------------------
_worker_parent: int | None = None
_worker_busy = threading.Event()


def _parent_gone() -> bool:
    return _worker_parent is not None and os.getppid() != _worker_parent


def _init_worker(threads: int, candles: pd.DataFrame) -> None:
    global _worker_candles, _worker_parent
    for key, value in thread_env(threads).items():
        os.environ[key] = value
    _worker_candles = candles
    _worker_parent = os.getppid()
    # A killed parent leaves its pool workers behind; they end themselves between trials (a trial
    # already running is finished and recorded first: resuming then skips it).
    watch_parent(_worker_parent, may_exit=lambda: not _worker_busy.is_set())


def _pool_trial(task: dict, exp_dir: str) -> dict:
    if _parent_gone():
        os._exit(0)  # queued before the parent died: nobody waits for it
    _worker_busy.set()
    try:
        record = run_trial(task, _worker_candles, exp_dir)
        save_record(exp_dir, record)  # here, not in the parent: a finished trial is kept even if the parent dies
    finally:
        _worker_busy.clear()
    if _parent_gone():
        os._exit(0)
    return record


def run_pool(tasks: Sequence[dict], candles: pd.DataFrame, folder: Path, on_result: OnResult,
             stop: threading.Event, workers: int) -> None:
    """Trials on ``workers`` spawned processes, each with cores // workers TensorFlow threads."""
    from concurrent.futures.process import BrokenProcessPool

    threads = max(1, (os.cpu_count() or 1) // workers)
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=spawn_context(),
                               initializer=_init_worker, initargs=(threads, candles))
    try:
        with without_main_script():  # the workers are started by these submits (spawn starts them on demand)
            pending = {pool.submit(_pool_trial, task, str(folder)): task for task in tasks}
        while pending and not stop.is_set():
            finished, _ = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            for future in finished:
                pending.pop(future)
                try:
                    record = future.result()
                except BrokenProcessPool as exc:
                    raise ExperimentError(
                        "a worker process died (out of memory?); finished trials are kept: run the experiment "
                        "again, with fewer workers, to resume") from exc
                on_result(record)
    finally:
        # Queued trials are dropped; running ones finish and record themselves (no half-done folders).
        pool.shutdown(wait=True, cancel_futures=True)


# ---- Ray ---------------------------------------------------------------------------------------
RAY_MISSING = ("the Ray executor needs the optional 'ray' package: pip install -r requirements-ray.txt "
               "(or use --executor local)")


def import_ray():
    try:
        import ray
    except ImportError as exc:
        raise ExperimentError(RAY_MISSING) from exc
    return ray


def _ray_trial(task: dict, candles: pd.DataFrame) -> tuple[dict, dict[str, bytes]]:
    """A Ray task: train into a scratch folder on whichever node runs it and send the run folder's
    files back, so the results land in the driver's experiment folder even without a shared disk."""
    with tempfile.TemporaryDirectory(prefix="pricecast-trial-") as scratch:
        record = run_trial(task, candles, scratch)
        files: dict[str, bytes] = {}
        if record.get("run_dir"):
            run_path = Path(scratch) / record["run_dir"]
            files = {str(f.relative_to(run_path)): f.read_bytes() for f in run_path.rglob("*") if f.is_file()}
    return record, files


def _store_run_files(folder: Path, record: dict, files: dict[str, bytes]) -> None:
    if record.get("run_dir"):
        rel = Path(record["run_dir"])
        (folder / rel.parent).mkdir(parents=True, exist_ok=True)
        store_run_files(folder / rel.parent, rel.name, files)


def run_ray(tasks: Sequence[dict], candles: pd.DataFrame, folder: Path, on_result: OnResult,
            stop: threading.Event, workers: int, address: str | None = None) -> None:
    """Each trial a Ray task. Connects to ``address`` (or ``$RAY_ADDRESS``), else starts a local
    Ray instance with this machine's cores, ``workers`` trials at a time; reuses an instance this
    process already started. The pricecast package travels with the tasks (``py_modules``) when
    the cluster is not local; its dependencies (TensorFlow...) must be installed on the nodes."""
    ray = import_ray()
    address = address or os.environ.get("RAY_ADDRESS") or None
    cores = os.cpu_count() or 1
    started_here = False
    if not ray.is_initialized():
        if address:
            ray.init(address=address, log_to_driver=False)
            remote_cluster = True
        else:
            ray.init(num_cpus=cores, include_dashboard=False, log_to_driver=False)
            remote_cluster = False
        started_here = True
    else:
        remote_cluster = bool(address)
    try:
        resources = ray.cluster_resources()
        gpus = float(resources.get("GPU", 0))
        if remote_cluster:
            threads = 1  # many small trials side by side use a cluster best
        else:
            threads = max(1, int(resources.get("CPU", cores)) // max(1, workers))
        env = thread_env(threads)
        if remote_cluster:
            runtime_env = {"env_vars": env, "py_modules": [str(PACKAGE_DIR)]}
        else:
            paths = [str(PACKAGE_DIR.parent)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
            runtime_env = {"env_vars": {**env, "PYTHONPATH": os.pathsep.join(paths)}}
        remote = ray.remote(_ray_trial).options(num_cpus=threads, num_gpus=1 if gpus else 0, max_retries=1,
                                                runtime_env=runtime_env)
        candles_ref = ray.put(candles)
        pending = [remote.remote(task, candles_ref) for task in tasks]
        try:
            while pending and not stop.is_set():
                ready, pending = ray.wait(pending, num_returns=1, timeout=0.5)
                for ref in ready:
                    record, files = ray.get(ref)
                    _store_run_files(folder, record, files)
                    save_record(folder, record)
                    on_result(record)
        finally:
            for ref in pending:
                ray.cancel(ref)
    finally:
        if started_here:
            ray.shutdown()


__all__ = ["run_trial", "execute", "run_serial", "run_pool", "run_ray", "thread_env", "import_ray", "RAY_MISSING"]
