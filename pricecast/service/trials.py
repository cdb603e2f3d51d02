"""Where an experiment's trials run: this process, or as jobs (:mod:`pricecast.jobs`) on local
worker processes or a Ray cluster — the same executors the dashboard's jobs use.

Every trial is an ordinary :func:`pricecast.training.pipeline.train` with the trial's seed
(:func:`run_trial`), or, in an experiment with ``folds``, a walk-forward
:func:`pricecast.backtest.walkforward.run_backtest` scored on its pooled folds; trials that can train
together do, as one group (:func:`run_trials`). Each finished trial's record goes to ``on_result`` as
it arrives. The record
file is written as soon as the trial is done (by the worker for local processes, by this process
for Ray), so a kill loses only the trials that were running.

Local workers are spawned (TensorFlow does not survive ``fork``), cap TensorFlow's thread pools at
cores / workers, and are reused from trial to trial, so TensorFlow loads once per worker.
"""
from __future__ import annotations

import importlib.util
import math
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from pricecast.backtest.pooled import decision_scores, fold_scores, fold_size_for, pool_folds
from pricecast.backtest.result import BacktestResult
from pricecast.backtest.spec import BacktestSpec
from pricecast.backtest.walkforward import run_backtest, run_backtests
from pricecast.experiments.spec import ExperimentError, Trial
from pricecast.experiments.storage import save_record
from pricecast.jobs import executors as job_executors
from pricecast.jobs.job import JobState
from pricecast.jobs.registry import JobRegistry
from pricecast.jobs.task import Runner, Task
from pricecast.models.checks import count_params
from pricecast.paths import home
from pricecast.specs import RunSpec
from pricecast.training.backend import jax_cache_env, warm_up
from pricecast.training.fused import GROUP_LIMIT, fusion_key
from pricecast.training.pipeline import train, train_group
from pricecast.training.runs import store_run_files
from pricecast.training.types import Run

OnResult = Callable[[dict], None]
RAY_MISSING = job_executors.RAY_MISSING


def task_of(trial: Trial) -> dict:
    """A trial as plain data (it crosses process and machine boundaries)."""
    return {"key": trial.key, "variation": trial.variation, "label": trial.label, "repeat": trial.repeat,
            "seed": trial.seed, "spec": trial.spec.to_dict(), "folds": trial.folds}


def run_trial(task: dict, candles: pd.DataFrame, exp_dir: Path | str, stop: threading.Event | None = None) -> dict:
    """Train one trial into ``<exp_dir>/trials`` and return its record. A failing trial gives a
    record with ``status: error`` (the experiment goes on); one stopped midway gives ``stopped``
    and leaves no folder, so it runs again on resume."""
    exp_dir = Path(exp_dir)
    record = _header(task)
    started = time.perf_counter()
    if task.get("folds"):
        return _walk_forward_trial(task, candles, record, started, stop)
    try:
        run = train(RunSpec.from_dict(task["spec"]), candles=candles, runs_root=exp_dir / "trials", stop=stop)
    except Exception as exc:  # noqa: BLE001 - one bad trial must not end the experiment
        return _failed(record, exc, time.perf_counter() - started)
    if run.metrics.get("stopped_by_user"):
        shutil.rmtree(run.run_dir, ignore_errors=True)
        return {**record, "status": "stopped"}
    return _finished(record, run, exp_dir, time.perf_counter() - started)


def run_trials(tasks: Sequence[dict], candles: pd.DataFrame, exp_dir: Path | str,
               stop: threading.Event | None = None, on_record: OnResult | None = None) -> list[dict]:
    """Several trials: trained together as one group when they can be (:func:`fusable_groups`
    made them so; :func:`pricecast.training.pipeline.train_group`, or for walk-forward trials with
    one ``folds`` :func:`pricecast.backtest.walkforward.run_backtests`), else one after another. One
    record per task, in order, each as :func:`run_trial` gives it, and each (but a stopped one) to
    ``on_record`` as soon as its run folder is saved (so a kill between two trials of a group loses
    no saved run); a stopped group gives ``stopped`` records and leaves no folders."""
    on_record = on_record or (lambda record: None)
    reported: list[dict] = []

    def done(record: dict) -> dict:
        if record["status"] != "stopped":
            reported.append(record)
            on_record(record)
        return record

    folds = {int(t.get("folds") or 0) for t in tasks}
    if len(tasks) == 1 or len(folds) > 1:
        return [done(run_trial(task, candles, exp_dir, stop) if not (stop and stop.is_set())
                     else {**_header(task), "status": "stopped"}) for task in tasks]
    started = time.perf_counter()
    if folds != {0}:
        return [done(record) for record in _walk_forward_trials(tasks, candles, started, stop)]
    exp_dir = Path(exp_dir)

    def record_of(i: int, result: Run | Exception) -> dict:
        share = (time.perf_counter() - started) / len(tasks)  # each trial's part of the group's wall time
        head = _header(tasks[i])
        return _failed(head, result, share) if isinstance(result, Exception) else _finished(head, result, exp_dir, share)

    records: list[dict] = []
    try:
        results = train_group([RunSpec.from_dict(t["spec"]) for t in tasks], candles=candles,
                              runs_root=exp_dir / "trials", stop=stop,
                              each=lambda i, result: records.append(done(record_of(i, result))))
    except Exception as exc:  # the group's data or settings: every trial of it failed
        if reported:  # raised by on_record, after trials were saved: the caller's, not the group's
            raise
        return [done(_failed(_header(t), exc, (time.perf_counter() - started) / len(tasks))) for t in tasks]
    if not results:
        return [{**_header(t), "status": "stopped"} for t in tasks]
    return records


def fusable_groups(tasks: Sequence[dict], workers: int = 1, limit: int = GROUP_LIMIT) -> list[list[dict]]:
    """The trials as groups to train together: those with one
    :func:`~pricecast.training.fused.fusion_key` and one number of walk-forward ``folds`` (those
    that cannot fuse alone), in the order they came. A group is cut into parts of at most ``limit``,
    in whole rounds of ``workers`` (two half groups side by side beat one whole group on two cores,
    and past a few branches a group's step costs in proportion to its size: docs/BENCHMARKS.md)."""
    keyed: dict[tuple[str, int], list[dict]] = {}
    alone: list[list[dict]] = []
    for task in tasks:
        key = fusion_key(RunSpec.from_dict(task["spec"]))
        if key is None:
            alone.append([task])
        else:  # walk-forward trials walk together only over the same folds
            keyed.setdefault((key, int(task.get("folds") or 0)), []).append(task)
    workers = max(1, workers)
    out = []
    for group in keyed.values():
        # as many parts as the limit asks, rounded up to whole rounds of the workers (10 parts of 27
        # on 2 workers end together; 9 of 30 leave one worker idle for the last)
        parts = min(len(group), math.ceil(math.ceil(len(group) / limit) / workers) * workers)
        out += [group[round(i * len(group) / parts): round((i + 1) * len(group) / parts)] for i in range(parts)]
    return out + alone


def _header(task: dict) -> dict:
    return {**{k: task[k] for k in ("key", "variation", "label", "repeat", "seed")},
            "host": socket.gethostname(), "pid": os.getpid()}


def _failed(record: dict, exc: BaseException, seconds: float) -> dict:
    return {**record, "status": "error", "error": f"{type(exc).__name__}: {exc}", "wall_seconds": seconds,
            "finished_at": _now()}


def _finished(record: dict, run: Run, exp_dir: Path, wall_seconds: float) -> dict:
    """A trained trial's record from its run."""
    m = run.metrics
    test, val = m.get("test") or {}, m.get("val") or {}
    network = test.get("network") or test.get("model") or {}
    history = run.history
    epochs = max(1, int(m.get("epochs_run") or 1))
    return {
        **record,
        "status": "ok", "error": "",
        "run_dir": os.path.relpath(run.run_dir, exp_dir),
        "test_rmse": test.get("rmse"), "persistence_rmse": test.get("persistence_rmse"), "skill": test.get("skill"),
        # the network's own scores (what an experiment ranks) beside the decision's (test_rmse, skill)
        "network_rmse": network.get("rmse", test.get("rmse")), "network_skill": network.get("skill", test.get("skill")),
        "decision": test.get("decision", "network"), "decision_p": test.get("decision_p"),
        "test_mae": network.get("mae"), "test_direction": network.get("direction"),
        "val_rmse": (val.get("network") or val).get("rmse"),
        "as_persistence": float(test.get("decision", "network") != "network"),
        "best_val_loss": m.get("best_val_loss"), "best_epoch": m.get("best_epoch"), "epochs_run": m.get("epochs_run"),
        "train_seconds": m.get("train_seconds"),
        "seconds_per_epoch": (m.get("train_seconds") or 0.0) / epochs,
        "params": m.get("params"), "device": m.get("device"),
        "fused": (m.get("fused") or {}).get("branches", 1),
        "history": {c: [float(x) for x in history[c]] for c in ("loss", "val_loss") if c in history},
        "wall_seconds": wall_seconds, "finished_at": _now(),
    }


def backtest_of(spec: RunSpec, folds: int, rows: int) -> BacktestSpec:
    """The walk a trial with ``folds`` runs: that many test folds over the newest share of the
    candles the setup's split tests on (20% where it has no test part), each trained on
    everything before it (expanding window), nothing cached (every trial trains)."""
    share = spec.window.split[2] if len(spec.window.split) > 2 and spec.window.split[2] > 0 else 0.2
    return BacktestSpec(folds=folds, fold_size=fold_size_for(rows, folds, share, spec.window.k))


def _walk_forward_trial(task: dict, candles: pd.DataFrame, record: dict, started: float,
                        stop: threading.Event | None) -> dict:
    """A trial walked forward: the model's and persistence's RMSE pooled over every fold's test
    points (:func:`pricecast.backtest.pooled.pool_folds`, as ``bench/quality.py`` reports them)."""
    spec = RunSpec.from_dict(task["spec"])
    try:
        result: BacktestResult | Exception = run_backtest(
            spec, backtest_of(spec, int(task["folds"]), len(candles)), candles=candles, stop=stop, use_cache=False)
    except Exception as exc:  # noqa: BLE001 - one bad trial must not end the experiment
        result = exc
    return _walked(spec, record, result, started)


def _walk_forward_trials(tasks: Sequence[dict], candles: pd.DataFrame, started: float,
                         stop: threading.Event | None) -> list[dict]:
    """Walk-forward trials with one fusion key and one ``folds``, walked together (each fold's
    models trained as one group); each record as :func:`_walk_forward_trial` gives it, its wall
    time its share of the group's."""
    specs = [RunSpec.from_dict(t["spec"]) for t in tasks]
    try:
        results: list[BacktestResult | Exception] = run_backtests(
            specs, backtest_of(specs[0], int(tasks[0]["folds"]), len(candles)), candles=candles, stop=stop,
            use_cache=False)
    except Exception as exc:  # noqa: BLE001 - the group's data or settings: every trial of it failed
        results = [exc] * len(tasks)
    if any(isinstance(r, BacktestResult) and r.stopped for r in results):
        return [{**_header(t), "status": "stopped"} for t in tasks]
    records = [_walked(spec, _header(t), r, started) for t, spec, r in zip(tasks, specs, results)]
    share = (time.perf_counter() - started) / len(tasks)
    return [{**r, "wall_seconds": share} for r in records]


def _walked(spec: RunSpec, record: dict, result: BacktestResult | Exception, started: float) -> dict:
    """A walk-forward trial's record from its backtest (or the exception that ended it)."""
    try:
        if isinstance(result, Exception):
            raise result
        if result.stopped:
            return {**record, "status": "stopped"}
        scores = fold_scores(result)
        if not scores or sum(len(s.actual) for s in scores) == 0:
            raise ExperimentError("no fold produced a test forecast")
        pooled = pool_folds(scores)  # the folds' networks
        used = pool_folds(decision_scores(result))  # what the folds' runs would forecast
    except Exception as exc:  # noqa: BLE001 - one bad trial must not end the experiment
        return {**record, "status": "error", "error": f"{type(exc).__name__}: {exc}",
                "wall_seconds": time.perf_counter() - started, "finished_at": _now()}
    infos = [f.model_info for f in result.folds]
    seconds = float(sum(i.get("train_seconds") or 0.0 for i in infos))
    epochs = int(sum(i.get("epochs_run") or 0 for i in infos))
    best = [i["best_val_loss"] for i in infos if i.get("best_val_loss") is not None]
    model = result.overall["model"]
    w = spec.window
    record.update({
        "status": "ok", "error": "", "run_dir": None, "folds": pooled["folds_done"],
        "test_rmse": used["rmse"], "persistence_rmse": pooled["persistence_rmse"],
        "skill": 1.0 - used["ratio"] if np.isfinite(used["ratio"]) else None,
        "paired_p": pooled["p_value"], "fold_wins": pooled["fold_wins"], "forecasts": pooled["forecasts"],
        # the folds' networks are scored; the share of folds whose run would have fallen back to 'no change'
        "network_rmse": pooled["rmse"], "network_skill": 1.0 - pooled["ratio"] if np.isfinite(pooled["ratio"]) else None,
        "decision": _majority(infos),
        "as_persistence": sum(_fell_back(i) for i in infos) / max(1, len(infos)),
        "test_mae": model.get("mae"), "test_direction": model.get("direction"), "val_rmse": None,
        "best_val_loss": float(np.mean(best)) if best else None, "best_epoch": None, "epochs_run": epochs,
        "train_seconds": seconds, "seconds_per_epoch": seconds / max(1, epochs),
        "params": count_params(spec.model, w.n, w.k, len(w.features)), "device": None, "history": {},
        "fused": max([int(i.get("fused") or 1) for i in infos] or [1]),  # branches its folds trained with
        "wall_seconds": time.perf_counter() - started, "finished_at": _now(),
    })
    return record


def _fell_back(info: dict) -> bool:
    return info.get("decision", "network") != "network" or bool(info.get("ended_as_persistence"))


def _majority(infos: list[dict]) -> str:
    """A walk-forward trial's decision: ``persistence`` when most folds fell back, else ``network``."""
    return "persistence" if infos and sum(_fell_back(i) for i in infos) * 2 > len(infos) else "network"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def execute(executor: str, trials: Sequence[Trial], candles: pd.DataFrame, folder: Path, on_result: OnResult,
            stop: threading.Event, workers: int, address: str | None = None, fuse: bool = True) -> None:
    """Run ``trials``, each record to ``on_result`` as it is saved. With ``fuse`` (and JAX
    installed) trials that can train together do, in worker processes on the JAX backend
    (:mod:`pricecast.training.fused`); a lone worker then still runs apart from this process, whose
    Keras backend may already be chosen."""
    tasks = [task_of(t) for t in trials]
    fuse = fuse and fusion_available()
    groups = fusable_groups(tasks, workers) if fuse else [[t] for t in tasks]
    if executor == "serial" or (executor == "local" and workers <= 1 and not fuse):
        run_serial(groups, candles, folder, on_result, stop)
    else:
        run_jobs(executor, groups, candles, folder, on_result, stop, workers, address, fused=fuse)


def fusion_available() -> bool:
    """JAX is installed (trials then train together; without it, one by one)."""
    return importlib.util.find_spec("jax") is not None


# ---- this process ------------------------------------------------------------------------------
def run_serial(groups: Sequence[Sequence[dict]], candles: pd.DataFrame, folder: Path, on_result: OnResult,
               stop: threading.Event) -> None:
    """One group after another in this process (one worker, a GPU, or debugging); a group trains
    together only where this process's Keras runs on JAX."""
    for group in groups:
        if stop.is_set():
            return
        def arrived(record: dict) -> None:
            save_record(folder, record)
            on_result(record)

        if any(r["status"] == "stopped" for r in run_trials(group, candles, folder, stop, on_record=arrived)):
            return


# ---- jobs: local worker processes or Ray ---------------------------------------------------------
def _trial_task(task: Task, emit, stop) -> list[dict]:
    """A group of trials in a job worker; each record is written there as soon as its trial is
    saved, so finished trials are kept even if the experiment's driver dies (a trial killed midway
    leaves nothing, and a resume trains it again)."""
    exp_dir = task.payload["exp_dir"]
    save = task.payload.get("save", True)
    return run_trials(task.payload["tasks"], task.candles, exp_dir, stop,
                      on_record=(lambda record: save_record(exp_dir, record)) if save else None)


def _trial_scratch(task: Task, scratch: str) -> None:
    task.payload = {**task.payload, "exp_dir": scratch, "save": False}  # recorded here, by the driver


def _trial_folder(task: Task, records: list[dict], scratch: Path) -> Path | None:
    """The group's run folders travel back as one folder: the scratch experiment's ``trials``."""
    return scratch / "trials" if any(r.get("run_dir") for r in records) else None


def _trial_arrived(kind: str, local: dict, records: list[dict], files: dict[str, bytes], rel: str | None) -> list[dict]:
    """Here, after a group on another machine: its run folders (sent back as files) and its records."""
    folder = Path(local["exp_dir"])
    by_run: dict[str, dict[str, bytes]] = {}
    for path, data in files.items():
        run, _, inside = path.partition("/")
        by_run.setdefault(run, {})[inside] = data
    for run, run_files in by_run.items():
        (folder / "trials").mkdir(parents=True, exist_ok=True)
        store_run_files(folder / "trials", run, run_files)
    for record in records:
        if record.get("status") != "stopped":
            save_record(folder, record)
    return records


# warm_up loads Keras in a waiting worker; training (imported above) loads with this module.
TRIALS = Runner(run=_trial_task, warm_up=warm_up, prepare_remote=_trial_scratch, written_folder=_trial_folder,
                finish_remote=_trial_arrived)


def import_ray():
    try:
        return job_executors.import_ray()
    except job_executors.JobError as exc:
        raise ExperimentError(str(exc)) from exc


def _executor(name: str, workers: int, address: str | None):
    cores = os.cpu_count() or 1
    if name == "ray":
        ray = import_ray()
        address = address or os.environ.get("RAY_ADDRESS") or None
        if not ray.is_initialized() and not address:
            # A local Ray sized to this machine; a cluster is sized by its own nodes.
            ray.init(num_cpus=cores, include_dashboard=False, log_to_driver=False)
        threads = 1 if address else max(1, cores // max(1, workers))  # many small trials side by side
        return job_executors.RayExecutor(TRIALS, address, num_cpus=threads, threads=threads)
    return job_executors.LocalExecutor(TRIALS, threads=max(1, cores // workers), spare=False, keep_idle=workers,
                                       finish_when_orphaned=True)


def run_jobs(executor: str, groups: Sequence[Sequence[dict]], candles: pd.DataFrame, folder: Path,
             on_result: OnResult, stop: threading.Event, workers: int, address: str | None = None,
             fused: bool = False) -> None:
    """Each group of trials a job, ``workers`` at a time (``fused``: the workers run Keras on JAX).
    Stop drops the queued groups; the running ones finish and are recorded (a half-trained trial is
    never kept)."""
    started_ray = executor == "ray" and not _ray_running()
    chosen = _executor(executor, workers, address)
    if fused:
        # compiled programs kept under this machine's home (a cluster's nodes have their own); JAX
        # would otherwise take three quarters of a GPU's memory at start, whoever else trains there
        here = executor != "ray" or not (address or os.environ.get("RAY_ADDRESS"))
        chosen.env = {**chosen.env, "KERAS_BACKEND": "jax", "XLA_PYTHON_CLIENT_PREALLOCATE": "false",
                      **(jax_cache_env(home() / "jax-cache") if here else {})}
    registry = JobRegistry(TRIALS, capacity=workers, keep=len(groups) + 1, executors={executor: chosen})
    jobs = [registry.submit("experiment", "trials", {"tasks": list(group), "exp_dir": str(folder)}, candles=candles,
                            executor=executor, exclusive=False) for group in groups]
    pending = list(jobs)
    try:
        while pending:
            if stop.is_set():
                for job in pending:
                    if job.handle is None:
                        job.stop()  # still queued: dropped
            for job in [j for j in pending if j.finished]:
                pending.remove(job)
                snap = job.snapshot()
                if snap.state is JobState.ERROR:
                    raise ExperimentError(
                        f"a worker process failed ({snap.error}); finished trials are kept: run the experiment "
                        "again, with fewer workers, to resume")
                if snap.state is JobState.DONE:
                    for record in snap.result or []:
                        if record.get("status") != "stopped":
                            on_result(record)
            time.sleep(0.2)
    finally:
        registry.shutdown()
        if started_ray:
            import ray  # optional (requirements-ray.txt): imported only where Ray is in use

            ray.shutdown()


def _ray_running() -> bool:
    try:
        import ray
    except ImportError:
        return False
    return ray.is_initialized()


__all__ = ["run_trial", "run_trials", "fusable_groups", "execute", "run_serial", "run_jobs", "import_ray", "RAY_MISSING"]
