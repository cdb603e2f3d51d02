"""What the dashboard's jobs do, run inside a worker process (or a Ray task): the only place where
the dashboard's work meets TensorFlow.

:data:`RUNNER` runs a :class:`~.task.Task` of one of :data:`KINDS` with an ``emit`` callback for
events and a ``stop`` flag (anything with ``is_set()``), and returns the job's result.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from pricecast.backtest.control import BacktestOutcome, backtest_with_control
from pricecast.jobs import events
from pricecast.jobs.task import Runner, Task
from pricecast.models.builders import build_model, model_summary
from pricecast.paths import runs_dir
from pricecast.report.script import script_text
from pricecast.service.experiments import run_experiment
from pricecast.specs import RunSpec
from pricecast.training.backend import warm_up as load_backend
from pricecast.training.pipeline import train
from pricecast.training.predicting import forecast_with_run
from pricecast.training.runs import load_run, running_marker, store_run_files

Emit = Callable[[events.Event], None]

KINDS: tuple[str, ...] = ("train", "backtest", "experiment", "summary", "forecast", "script")


@dataclass(frozen=True)
class TrainResult:
    run_dir: str
    metrics: dict


def run_task(task: Task, emit: Emit, stop) -> Any:
    if task.kind not in KINDS:
        raise ValueError(f"unknown job kind '{task.kind}'; choose from {', '.join(KINDS)}")
    return _RUNNERS[task.kind](task.payload, task.candles, emit, stop)


def warm_up() -> None:
    """Load what every training needs (TensorFlow above all) before a task arrives, so a worker
    started ahead of time begins training at once."""
    from pricecast.training import (  # the modules that import Keras at their top
        callbacks,  # noqa: F401
        feeding,  # noqa: F401
    )

    load_backend()


def _relay(convert: Callable[[dict], events.Event | None], emit: Emit) -> Callable[[dict], None]:
    def listener(raw: dict) -> None:
        event = convert(raw)
        if event is not None:
            emit(event)

    return listener


def _train(payload: dict, candles: pd.DataFrame | None, emit: Emit, stop) -> TrainResult:
    spec = RunSpec.from_dict(payload["spec"])
    # A worker killed with its server leaves this marker: the run list says the training was interrupted.
    with running_marker(spec, payload.get("runs_root")):
        run = train(spec, listener=_relay(events.from_train, emit), stop=stop, candles=candles,
                    runs_root=payload.get("runs_root"))
    return TrainResult(str(run.run_dir), run.metrics)


def _backtest(payload: dict, candles: pd.DataFrame | None, emit: Emit, stop) -> BacktestOutcome:
    def control(event: dict) -> None:
        emit(events.Progress(1.0, event["text"]))

    return backtest_with_control(RunSpec.from_dict(payload["spec"]), payload["bt"], bool(payload.get("shuffled")),
                                 candles=candles, progress=_relay(events.from_backtest, emit), stop=stop,
                                 on_control=control)


def _experiment(payload: dict, candles: pd.DataFrame | None, emit: Emit, stop) -> str:
    exp = run_experiment(payload["exp"], payload.get("executor", "local"), payload.get("workers"),
                         payload.get("address"), _relay(events.from_experiment, emit), stop,
                         payload.get("root"), candles)
    return str(exp.dir)


def _summary(payload: dict, candles: pd.DataFrame | None, emit: Emit, stop) -> dict:
    spec = RunSpec.from_dict(payload["spec"])
    w = spec.window
    model = build_model(spec.model, w.n, w.k, w.features, w.target)
    return {"text": model_summary(model), "params": int(model.count_params())}


def _forecast(payload: dict, candles: pd.DataFrame | None, emit: Emit, stop) -> pd.DataFrame:
    run = load_run(payload["run_dir"])
    return forecast_with_run(run, candles)  # the run's decision's forecast, the network's beside it


def _script(payload: dict, candles: pd.DataFrame | None, emit: Emit, stop) -> str:
    """The standalone training script of a saved run (its network's code needs Keras' layer defaults)."""
    return script_text(load_run(payload["run_dir"]), payload.get("data_file", ""))


_RUNNERS: dict[str, Callable[[dict, pd.DataFrame | None, Emit, Any], Any]] = {
    "train": _train, "backtest": _backtest, "experiment": _experiment, "summary": _summary, "forecast": _forecast,
    "script": _script,
}

def prepare_remote(task: Task, scratch: str) -> None:
    """A training on another machine writes its run folder to a scratch folder there."""
    if task.kind == "train":
        task.payload = {**task.payload, "runs_root": scratch}


def written_folder(task: Task, result: Any, scratch: Path) -> Path | None:
    return Path(result.run_dir) if isinstance(result, TrainResult) else None


def finish_remote(kind: str, local: dict, result: Any, files: dict[str, bytes], rel: str | None) -> Any:
    """Here, after a training on another machine: its run folder, which came back as files, goes
    where the training would have written it on this machine."""
    if rel and isinstance(result, TrainResult):
        root = Path(local.get("runs_root") or runs_dir())
        root.mkdir(parents=True, exist_ok=True)
        result = TrainResult(str(store_run_files(root, Path(rel).name, files)), result.metrics)
    return result


RUNNER = Runner(run=run_task, warm_up=warm_up, prepare_remote=prepare_remote, written_folder=written_folder,
                finish_remote=finish_remote)
