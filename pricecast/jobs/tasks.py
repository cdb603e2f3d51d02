"""What a job does, run inside a worker process (or a Ray task): the only place where the
dashboard's work meets TensorFlow.

A :class:`Task` is plain data; :func:`run_task` executes it with an ``emit`` callback for events
and a ``stop`` flag (anything with ``is_set()``), and returns the job's result.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from . import events

Emit = Callable[[events.Event], None]

KINDS: tuple[str, ...] = ("train", "backtest", "experiment", "trial", "summary", "forecast")


ENV_PREFIX = "PRICECAST_"


@dataclass
class Task:
    kind: str
    payload: dict[str, Any] = field(default_factory=dict)
    candles: pd.DataFrame | None = None
    # pricecast's own settings (PRICECAST_HOME ...) as they were when the job was submitted: a
    # worker started earlier, with TensorFlow loaded in advance, must still use today's folders.
    env: dict[str, str] = field(default_factory=lambda: settings_env())


def settings_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIX)}


def apply_env(env: dict[str, str]) -> None:
    for key in [k for k in os.environ if k.startswith(ENV_PREFIX) and k not in env]:
        del os.environ[key]
    os.environ.update(env)


@dataclass(frozen=True)
class TrainResult:
    run_dir: str
    metrics: dict


@dataclass(frozen=True)
class BacktestOutcome:
    result: Any  # pricecast.backtest.BacktestResult
    shuffled: Any = None  # a leakage.Finding when the shuffled-time control ran


def run_task(task: Task, emit: Emit, stop) -> Any:
    if task.kind not in KINDS:
        raise ValueError(f"unknown job kind '{task.kind}'; choose from {', '.join(KINDS)}")
    apply_env(task.env)
    return _RUNNERS[task.kind](task.payload, task.candles, emit, stop)


def warm_up() -> None:
    """Load what every training needs (TensorFlow above all) before a task arrives, so a worker
    started ahead of time begins training at once."""
    import keras  # noqa: F401

    from .. import callbacks, feeding, training  # noqa: F401
    from ..backend import configure_device

    configure_device()


def _relay(convert: Callable[[dict], events.Event | None], emit: Emit) -> Callable[[dict], None]:
    def listener(raw: dict) -> None:
        event = convert(raw)
        if event is not None:
            emit(event)

    return listener


def _train(payload: dict, candles: pd.DataFrame | None, emit: Emit, stop) -> TrainResult:
    from ..specs import RunSpec
    from ..training import train

    run = train(RunSpec.from_dict(payload["spec"]), listener=_relay(events.from_train, emit), stop=stop,
                candles=candles, runs_root=payload.get("runs_root"))
    return TrainResult(str(run.run_dir), run.metrics)


def _backtest(payload: dict, candles: pd.DataFrame | None, emit: Emit, stop) -> BacktestOutcome:
    from ..backtest import run_backtest
    from ..specs import RunSpec

    spec = RunSpec.from_dict(payload["spec"])
    result = run_backtest(spec, payload["bt"], candles=candles, progress=_relay(events.from_backtest, emit), stop=stop)
    shuffled = None
    if payload.get("shuffled") and not stop.is_set():
        from ..leakage import shuffled_time_control

        emit(events.Progress(1.0, "Shuffled-time control: training on shuffled targets"))
        shuffled = shuffled_time_control(spec, candles=candles)
    return BacktestOutcome(result, shuffled)


def _experiment(payload: dict, candles: pd.DataFrame | None, emit: Emit, stop) -> str:
    from ..experiments import run_experiment

    exp = run_experiment(payload["exp"], payload.get("executor", "local"), payload.get("workers"),
                         payload.get("address"), _relay(events.from_experiment, emit), stop,
                         payload.get("root"), candles)
    return str(exp.dir)


def _trial(payload: dict, candles: pd.DataFrame | None, emit: Emit, stop) -> dict:
    """One experiment trial; its record is written here, in the worker, as soon as it is done, so a
    finished trial is kept even if the experiment's driver dies."""
    from ..experiment_exec import run_trial
    from ..experiments import save_record

    record = run_trial(payload["task"], candles, payload["exp_dir"], stop)
    if record["status"] != "stopped" and payload.get("save", True):
        save_record(payload["exp_dir"], record)
    return record


def _summary(payload: dict, candles: pd.DataFrame | None, emit: Emit, stop) -> dict:
    from ..models import build_model, model_summary
    from ..specs import RunSpec

    spec = RunSpec.from_dict(payload["spec"])
    w = spec.window
    model = build_model(spec.model, w.n, w.k, w.features, w.target)
    return {"text": model_summary(model), "params": int(model.count_params())}


def _forecast(payload: dict, candles: pd.DataFrame | None, emit: Emit, stop) -> pd.DataFrame:
    from ..runs import load_run
    from ..training import forecast_next

    run = load_run(payload["run_dir"])
    return forecast_next(run.load_model(), candles, run.spec, run.scaler)


_RUNNERS: dict[str, Callable[[dict, pd.DataFrame | None, Emit, Any], Any]] = {
    "train": _train, "backtest": _backtest, "experiment": _experiment, "trial": _trial, "summary": _summary,
    "forecast": _forecast,
}

# Where a task writes its run folder; on another machine that is a scratch folder, and the folder
# comes back as files (see executors.RayExecutor).
_OUTPUT_KEY = {"train": "runs_root", "trial": "exp_dir"}


def prepare_remote(task: Task, scratch: str) -> None:
    """Point a task that runs on another machine at a scratch folder there."""
    key = _OUTPUT_KEY.get(task.kind)
    if key:
        task.payload = {**task.payload, key: scratch, "save": False}


def finish_remote(kind: str, local: dict, result: Any, files: dict[str, bytes], rel: str | None) -> Any:
    """On this machine, after a remote task: store the run folder that came back as files where the
    task would have written it here, and record a trial."""
    from pathlib import Path

    from ..paths import runs_dir
    from ..runs import store_run_files

    if rel:
        key = _OUTPUT_KEY[kind]
        root = Path(local.get(key) or runs_dir())
        rel_path = Path(rel)
        (root / rel_path.parent).mkdir(parents=True, exist_ok=True)
        stored = store_run_files(root / rel_path.parent, rel_path.name, files)
        if isinstance(result, TrainResult):
            result = TrainResult(str(stored), result.metrics)
    if kind == "trial" and isinstance(result, dict) and result.get("status") != "stopped":
        from ..experiments import save_record

        save_record(local["exp_dir"], result)
    return result
