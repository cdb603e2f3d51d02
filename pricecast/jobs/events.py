"""What a running job reports, as typed events. They cross process (and Ray) boundaries, so they
are plain frozen dataclasses of numbers, strings and arrays.

The library's own progress callbacks speak dicts (``{"type": "epoch", ...}``); :func:`from_train`,
:func:`from_backtest` and :func:`from_experiment` turn those into these events in the worker.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Started:
    """The model is built and training begins (TensorFlow is loaded by now)."""

    device: str = ""
    backend: str = ""
    params: int | None = None
    epochs: int = 0
    sizes: dict[str, int] = field(default_factory=dict)  # train/val/test windows
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Batch:
    epoch: int
    batch: int
    batches: int | None  # batches per epoch, when Keras knows it
    loss: float
    elapsed: float


@dataclass(frozen=True)
class Epoch:
    epoch: int
    epochs: int
    loss: float
    val_loss: float
    seconds: float
    elapsed: float
    samples_per_s: float | None = None
    val_pred: np.ndarray | None = None  # (val windows, K) prices after this epoch


@dataclass(frozen=True)
class Progress:
    """Generic progress of a multi-step job (a backtest's folds, an experiment's trials)."""

    fraction: float
    text: str
    eta: float | None = None


@dataclass(frozen=True)
class Fold:
    """One walk-forward fold finished."""

    fold: int
    folds: int
    rmse: float
    persistence_rmse: float
    skill: float
    cached: bool = False
    fraction: float = 0.0  # of the whole backtest
    eta: float | None = None


@dataclass(frozen=True)
class Trial:
    """One experiment trial finished (its record, as stored in the experiment folder)."""

    done: int
    total: int
    record: dict
    eta: float | None = None


Event = Started | Batch | Epoch | Progress | Fold | Trial


def _f(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def from_train(event: dict) -> Event | None:
    """A :func:`pricecast.training.pipeline.train` listener dict as an event (``done`` is the job's result)."""
    kind = event.get("type")
    if kind == "start":
        sizes = {k.removesuffix("_windows"): int(event[k]) for k in ("train_windows", "val_windows", "test_windows")
                 if k in event}
        return Started(device=str(event.get("device", "")), backend=str(event.get("backend", "")),
                       params=event.get("params"), epochs=int(event.get("epochs") or 0), sizes=sizes,
                       warnings=tuple(event.get("warnings") or ()))
    if kind == "batch":
        return Batch(epoch=int(event["epoch"]), batch=int(event["batch"]), batches=event.get("batches"),
                     loss=_f(event.get("loss")), elapsed=_f(event.get("elapsed")))
    if kind == "epoch":
        pred = event.get("val_pred")
        return Epoch(epoch=int(event["epoch"]), epochs=int(event["epochs"]), loss=_f(event.get("loss")),
                     val_loss=_f(event.get("val_loss")), seconds=_f(event.get("seconds")),
                     elapsed=_f(event.get("elapsed")), samples_per_s=event.get("samples_per_s"),
                     val_pred=None if pred is None else np.asarray(pred, dtype=np.float64))
    return None


def from_backtest(event: dict) -> Event | None:
    """A :func:`pricecast.backtest.walkforward.run_backtest` progress dict as an event."""
    kind = event.get("type")
    frac = _f(event.get("progress"))
    frac = 0.0 if not math.isfinite(frac) else min(max(frac, 0.0), 1.0)
    eta = event.get("eta")
    if kind == "fold":
        return Fold(fold=int(event["fold"]), folds=int(event["folds"]), rmse=_f(event.get("rmse")),
                    persistence_rmse=_f(event.get("persistence_rmse")), skill=_f(event.get("skill")),
                    cached=bool(event.get("cached")), fraction=frac, eta=eta)
    if kind == "epoch":
        return Progress(frac, f"Fold {event['fold']}/{event['folds']}: training epoch {event['epoch']}/{event['epochs']}",
                        eta)
    if kind == "control":
        return Progress(frac, "Shuffled-time control: training on shuffled targets")
    if kind == "start":
        return Progress(0.0, f"{event.get('folds', '?')} folds planned, {event.get('models_to_train', 0)} model(s) to train")
    return None


def from_experiment(event: dict) -> Event | None:
    """A :func:`pricecast.service.experiments.run_experiment` progress dict as an event."""
    kind = event.get("type")
    total = int(event.get("total") or 0)
    done = int(event.get("done") or 0)
    if kind == "trial":
        return Trial(done=done, total=total, record=dict(event.get("record") or {}), eta=event.get("eta"))
    if kind == "start":
        return Progress(done / total if total else 0.0,
                        f"{done} of {total} trainings already done; {event.get('todo', 0)} to run on "
                        f"{event.get('workers', 1)} worker(s) ({event.get('executor', 'local')})")
    return None
