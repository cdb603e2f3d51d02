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

from pricecast import events
from pricecast.backtest.control import BacktestOutcome, backtest_with_control
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

Emit = events.Listener

KINDS: tuple[str, ...] = ("train", "backtest", "experiment", "summary", "forecast", "script", "tune")


@dataclass(frozen=True)
class TrainResult:
    run_dir: str
    metrics: dict
    warnings: tuple[str, ...] = ()  # tracking that failed (an MLflow server down): the run is saved all the same


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


def _train(payload: dict, candles: pd.DataFrame | None, emit: Emit, stop) -> TrainResult:
    spec = RunSpec.from_dict(payload["spec"])
    board = _tensorboard() if payload.get("tensorboard") else None
    listener = events.together(emit, board)
    # A worker killed with its server leaves this marker: the run list says the training was interrupted.
    try:
        with running_marker(spec, payload.get("runs_root")):
            run = train(spec, listener=listener, stop=stop, candles=candles, runs_root=payload.get("runs_root"))
    except BaseException:
        if board is not None:
            board.discard()
        raise
    if board is not None:
        board.move_into(run.run_dir)
    warnings: list[str] = []
    if payload.get("mlflow"):
        _log_to_mlflow(run, warnings.append)
    return TrainResult(str(run.run_dir), run.metrics, tuple(warnings))


def _tensorboard():
    from pricecast.tracking import TensorBoardLogger

    return TensorBoardLogger()


def _log_to_mlflow(run, warn: Callable[[str], None]) -> None:
    """Log the saved run to ``PRICECAST_MLFLOW_URI`` (or the local default: the switch asked for it,
    whatever the variable says); any failure is a warning."""
    from pricecast.tracking import MlflowTracker, default_uri, mlflow_installed, tracking_uri

    if not mlflow_installed():
        warn("MLflow is not installed here (pip install -r requirements-ml.txt); the run is saved, not logged")
        return
    MlflowTracker(tracking_uri() or default_uri(), warn=warn).log_run(run)


def _backtest(payload: dict, candles: pd.DataFrame | None, emit: Emit, stop) -> BacktestOutcome:
    return backtest_with_control(RunSpec.from_dict(payload["spec"]), payload["bt"], bool(payload.get("shuffled")),
                                 candles=candles, progress=emit, stop=stop)


def _experiment(payload: dict, candles: pd.DataFrame | None, emit: Emit, stop) -> str:
    exp = run_experiment(payload["exp"], payload.get("executor", "local"), payload.get("workers"),
                         payload.get("address"), emit, stop,
                         payload.get("root"), candles)
    return str(exp.dir)


def _tune(payload: dict, candles: pd.DataFrame | None, emit: Emit, stop) -> dict:
    """An Optuna search (:func:`pricecast.tuning.run_search`); its result with Optuna's figures as
    plotly JSON, made here so the dashboard's server never opens the study."""
    from pricecast import tuning

    spec: tuning.TuneSpec = payload["tune"]
    if candles is None:
        from pricecast.data.datasets import load_data

        candles = load_data(spec.base.data, *spec.data_range).candles
    seen = [0]

    def on_event(text: str) -> None:
        seen[0] += 1
        emit(events.Progress(min(seen[0] / spec.trials, 1.0), f"{seen[0]} of {spec.trials} trials · {text}"))

    result = tuning.run_search(spec, candles, on_event=on_event)
    figures = {name: fig if isinstance(fig, str) else fig.to_json()
               for name, fig in tuning.study_figures(spec).items()}
    return {**result.to_dict(), "figures": figures}


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
    "script": _script, "tune": _tune,
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
