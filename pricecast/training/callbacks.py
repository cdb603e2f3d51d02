"""Keras callbacks that stream progress, honour stop requests and keep the best weights.
Imports Keras: import this only once training starts."""
from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

import keras
import numpy as np

from pricecast.events import Batch, Epoch, Listener


class LiveHistory(keras.callbacks.Callback):
    """Sends an :class:`~pricecast.events.Epoch` after every epoch (and :class:`~pricecast.events.Batch`
    events if asked) to a listener.

    ``val_predict`` adds the validation forecasts to an epoch's event for the live chart, within a
    budget: after the first and the last epoch, and in between only while the time they take stays
    under ``val_budget`` of the training time (a chart redrawn once a second needs no more; on fast
    epochs, forecasting after every one cost a third of the run)."""

    def __init__(self, listener: Listener, epochs: int, samples: int, per_batch: bool = False,
                 val_predict: Callable[[], np.ndarray] | None = None, batch_interval_s: float = 0.2,
                 val_budget: float = 0.03) -> None:
        super().__init__()
        self.listener, self.epochs, self.samples = listener, epochs, samples
        self.per_batch, self.val_predict, self.batch_interval_s = per_batch, val_predict, batch_interval_s
        self.val_budget = val_budget
        self.started = time.perf_counter()
        self.epoch_started = self.started
        self.epoch_times: list[float] = []
        self.val_seconds, self.val_calls = 0.0, 0
        self._last_batch_sent = 0.0
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self.epoch_started = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if not self.per_batch:
            return
        now = time.perf_counter()
        if now - self._last_batch_sent < self.batch_interval_s:
            return  # a live chart cannot use more than a few points a second
        self._last_batch_sent = now
        self.listener(Batch(epoch=self._epoch + 1, batch=batch + 1, batches=(self.params or {}).get("steps"),
                            loss=float((logs or {}).get("loss", math.nan)), elapsed=now - self.started))

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        now = time.perf_counter()
        took = now - self.epoch_started
        self.epoch_times.append(took)
        mean = sum(self.epoch_times) / len(self.epoch_times)
        val_pred = None
        if self.val_predict is not None and (epoch + 1 == self.epochs or self._val_due(now)):
            t0 = time.perf_counter()
            val_pred = np.asarray(self.val_predict(), dtype=np.float64)
            self.val_seconds += time.perf_counter() - t0
            self.val_calls += 1
        self.listener(Epoch(epoch=epoch + 1, epochs=self.epochs, loss=float(logs.get("loss", math.nan)),
                            val_loss=float(logs.get("val_loss", math.nan)), seconds=took, elapsed=now - self.started,
                            eta=mean * (self.epochs - epoch - 1), fraction=(epoch + 1) / self.epochs if self.epochs else 1.0,
                            samples_per_s=self.samples / took if took > 0 else math.nan, val_pred=val_pred))

    def _val_due(self, now: float) -> bool:
        """The first epoch always; later ones while the forecasts, the next one included (about the
        mean so far), stay within the budget share of the time since training began."""
        if self.val_calls == 0:
            return True
        mean = self.val_seconds / self.val_calls
        return self.val_seconds + mean <= self.val_budget * (now - self.started)


class EpochClock(keras.callbacks.Callback):
    """Times every epoch (``epoch_times``, seconds) and calls ``on_epoch(epoch, logs)`` after it (epoch from 1)."""

    def __init__(self, on_epoch: Callable[[int, dict], None] | None = None) -> None:
        super().__init__()
        self.on_epoch = on_epoch
        self.epoch_times: list[float] = []
        self._started = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.epoch_times.append(time.perf_counter() - self._started)
        if self.on_epoch is not None:
            self.on_epoch(epoch + 1, dict(logs or {}))


class StopOnRequest(keras.callbacks.Callback):
    """Ends training after the current batch once ``event`` is set (the dashboard's Stop button)."""

    def __init__(self, event: threading.Event) -> None:
        super().__init__()
        self.event = event
        self.requested = False

    def on_train_batch_end(self, batch, logs=None):
        if self.event.is_set():
            self.requested = True
            self.model.stop_training = True


class BestWeights(keras.callbacks.Callback):
    """Remembers the weights of the lowest val_loss and puts them back when training ends,
    however it ends (last epoch, early stop, or a stop request)."""

    def __init__(self, monitor: str = "val_loss") -> None:
        super().__init__()
        self.monitor = monitor
        self.best = math.inf
        self.best_epoch = 0
        self.weights: list | None = None

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is not None and np.isfinite(value) and value < self.best:
            self.best, self.best_epoch = float(value), epoch + 1
            self.weights = [np.array(w) for w in self.model.get_weights()]

    def on_train_end(self, logs=None):
        if self.weights is not None:
            self.model.set_weights(self.weights)


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Ends training at the first batch whose loss is NaN or infinite: every later step only
    spreads the NaN through the weights. ``where`` is then ``(epoch, batch)``, both from 1."""

    def __init__(self) -> None:
        super().__init__()
        self.where: tuple[int, int] | None = None
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and self.where is None and not np.isfinite(float(loss)):
            self.where = (self._epoch + 1, batch + 1)
            self.model.stop_training = True
