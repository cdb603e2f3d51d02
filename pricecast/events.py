"""What a running training, backtest or experiment reports while it works: one vocabulary of typed
events for every listener (the CLI's progress lines, the dashboard's jobs, TensorBoard, Optuna's pruning).

Events cross process and Ray boundaries (a dashboard job's worker sends them to the server), so they
are plain frozen dataclasses of numbers, strings, tuples, dicts and arrays: they pickle as they are.
This module is on the ground floor: it imports nothing from pricecast.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Started:
    """A training's model is built and fitting begins (TensorFlow is loaded by now)."""

    device: str = ""
    backend: str = ""
    params: int | None = None
    epochs: int = 0
    sizes: dict[str, int] = field(default_factory=dict)  # windows per part: train/val/test
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Batch:
    """A training batch ended (sent at most a few times a second, when per-batch updates are on)."""

    epoch: int  # the epoch under way, from 1
    batch: int  # batches done in it, from 1
    batches: int | None  # batches per epoch, when Keras knows it
    loss: float
    elapsed: float  # seconds since training began


@dataclass(frozen=True)
class Epoch:
    """An epoch ended: of a training, or of a backtest fold's model (``fold`` > 0)."""

    epoch: int  # from 1
    epochs: int
    loss: float
    val_loss: float
    seconds: float = math.nan  # this epoch took
    elapsed: float = math.nan  # since the training (the backtest) began
    eta: float | None = None  # seconds left: of the training, or of the whole backtest
    fraction: float = 0.0  # of the training (the whole backtest) done
    samples_per_s: float | None = None
    val_pred: np.ndarray | None = None  # (val windows, K) forecasts after this epoch, for the live chart
    fold: int = 0  # the backtest fold whose model trains (from 1); 0 in a training
    folds: int = 0


@dataclass(frozen=True)
class FoldsPlanned:
    """A backtest's folds are planned; ``cached`` of them need no training."""

    folds: int
    cached: int
    models_to_train: int
    epochs: int


@dataclass(frozen=True)
class Fold:
    """One walk-forward fold is forecast and scored."""

    fold: int  # from 1
    folds: int
    rmse: float
    persistence_rmse: float
    skill: float
    cached: bool = False
    retrained: bool = False
    fraction: float = 0.0  # of the whole backtest done
    eta: float | None = None


@dataclass(frozen=True)
class TrialsPlanned:
    """An experiment knows its trials: ``done`` of ``total`` finished before, ``todo`` to run now."""

    name: str
    dir: str
    done: int
    total: int
    todo: int
    executor: str
    workers: int


@dataclass(frozen=True)
class Trial:
    """One experiment trial finished (its record, as stored in the experiment folder)."""

    done: int  # trials finished well, this one included
    total: int
    record: dict
    ran: int = 0  # trials run in this call (failed ones too)
    todo: int = 0
    elapsed: float = 0.0
    eta: float | None = None


@dataclass(frozen=True)
class Progress:
    """Any other step of a job, in words (the shuffled-time control, a search's trial)."""

    fraction: float
    text: str
    eta: float | None = None


@dataclass(frozen=True)
class Done:
    """The training, backtest or experiment ended, finished or ``stopped`` by a request."""

    stopped: bool = False
    seconds: float = 0.0


Event = Started | Batch | Epoch | FoldsPlanned | Fold | TrialsPlanned | Trial | Progress | Done
Listener = Callable[[Event], None]


def ignore(event: Event) -> None:
    """The listener of a caller that listens to nothing."""


def together(*listeners: Listener | None) -> Listener:
    """One listener that passes every event to each of ``listeners`` in turn (None ones skipped)."""
    chosen = [listener for listener in listeners if listener is not None]

    def listener(event: Event) -> None:
        for each in chosen:
            each(event)

    return listener
