"""Running an experiment: the trials its folder does not hold yet, on this process, a local
process pool or Ray (the executors live in :mod:`pricecast.service.trials`), with progress
events and a stop. Nothing here loads Keras, Ray or Streamlit at import time.
"""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pandas as pd

from pricecast import events
from pricecast.experiments.candles import check_data, load_candles
from pricecast.experiments.spec import ExperimentError, ExperimentSpec, expand
from pricecast.experiments.storage import (
    Experiment,
    FolderLock,
    done_keys,
    load_experiment,
    prepare_folder,
    read_records,
    save_workers,
    saved_workers,
)
from pricecast.service import trials

EXECUTORS: tuple[str, ...] = ("local", "serial", "ray")


def default_workers(gpu: bool | None = None) -> int:
    """One worker per core, or 1 when a GPU trains (trials on one GPU are serialised)."""
    if gpu is None:
        gpu = gpu_present()
    return 1 if gpu else max(1, os.cpu_count() or 1)


def gpu_present() -> bool:
    """A cheap look for an NVIDIA GPU without importing TensorFlow."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1"):
        return False
    return Path("/dev/nvidia0").exists() or Path("/dev/nvidiactl").exists()


def run_experiment(exp: ExperimentSpec, executor: str = "local", workers: int | None = None,
                   address: str | None = None, progress: events.Listener | None = None,
                   stop: threading.Event | None = None, root: Path | str | None = None,
                   candles: pd.DataFrame | None = None, fuse: bool = True) -> Experiment:
    """Run the trials not yet finished in the experiment's folder and return the experiment.

    ``executor``: ``local`` (a process pool of ``workers``; default: what the experiment was last run
    with, else one per core; 1 worker trains in this process), ``serial`` (this process) or ``ray`` (each trial a Ray task; ``address`` or
    ``RAY_ADDRESS``, else a local Ray instance). ``progress`` gets :mod:`pricecast.events`:
    ``TrialsPlanned``, a ``Trial`` after each finished trial (done, total, eta seconds, the record) and ``Done``. ``stop`` ends the
    experiment after the running trials; an exception (or a kill) loses only running trials.
    ``fuse``: trials that can train together do (:mod:`pricecast.training.fused`, JAX workers)."""
    if executor not in EXECUTORS:
        raise ExperimentError(f"unknown executor '{executor}'; choose from {', '.join(EXECUTORS)}")
    folder = prepare_folder(exp, root)
    progress = progress or events.ignore
    stop = stop or threading.Event()
    with FolderLock(folder):
        finished = done_keys(read_records(folder), exp)
        todo = [t for t in expand(exp) if t.key not in finished]
        total = len(finished) + len(todo)
        if workers is None:  # a resume keeps what the run was started with (--workers 1: one GPU, little memory)
            workers = saved_workers(folder) or default_workers()
        else:
            save_workers(folder, workers)
        workers = max(1, min(int(workers), max(1, len(todo))))
        started = time.perf_counter()
        progress(events.TrialsPlanned(name=exp.name, dir=str(folder), done=len(finished), total=total,
                                      todo=len(todo), executor=executor, workers=workers))
        counter = {"done": len(finished), "ran": 0}

        def on_result(record: dict) -> None:
            if record.get("status") == "ok":
                counter["done"] += 1
            counter["ran"] += 1
            elapsed = time.perf_counter() - started
            left = len(todo) - counter["ran"]
            eta = elapsed / counter["ran"] * left if counter["ran"] else None
            progress(events.Trial(done=counter["done"], total=total, record=record, ran=counter["ran"],
                                  todo=len(todo), elapsed=elapsed, eta=eta))

        if todo:
            if candles is None:
                candles = load_candles(exp)
            check_data(exp, candles)
            trials.execute(executor, todo, candles, folder, on_result, stop, workers, address, fuse=fuse)
        progress(events.Done(stopped=stop.is_set(), seconds=time.perf_counter() - started))
    return load_experiment(folder)
