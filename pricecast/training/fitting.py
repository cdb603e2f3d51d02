"""The one Keras training loop and the one way to predict a window part.

``fit`` builds ``spec.model`` with every TrainSpec option (pipeline, workers, mixed precision, XLA,
the linear learning-rate rule, seed with deterministic ops unless XLA is asked for) and fits it with
the stop request, the NaN-loss stop, best weights and early stopping. ``training.train``, the
walk-forward folds in ``backtest``, the shuffled-time control in ``controls`` and the experiments
(through ``train``) all fit through it, so a TrainSpec option reaches every one of them.

Keras is imported inside the functions that build, fit or predict, so importing this module stays cheap.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from pricecast.errors import PricecastError
from pricecast.evaluation.metrics import baseline_forecasts
from pricecast.models.builders import build_model
from pricecast.prep.scaling import Scaler
from pricecast.prep.windows import WindowPart
from pricecast.specs import RunSpec, TrainSpec, TrainSpecError
from pricecast.training.backend import backend_name, configure_device, load_keras, set_seed

PIPELINES: tuple[str, ...] = ("auto", "batches", "prefetch")
# Up to this many windows a part is predicted by calling the model directly: ``model.predict``
# first traces a graph for each new model (a fixed cost that dominates small parts such as a fold).
DIRECT_CALL_LIMIT = 1024
CALL_CHUNK = 8192


class NonFiniteLossError(PricecastError):
    """Training diverged (the loss became NaN or infinite). ``run`` is the run saved with the best
    finite weights, or None when no epoch ended with a finite validation loss (nothing saved)."""

    def __init__(self, message: str, run: Any = None) -> None:
        super().__init__(message)
        self.run = run


@dataclass
class FitResult:
    """A fitted model (best weights restored) and how its training went."""

    model: Any
    history: pd.DataFrame  # one row per epoch: epoch, loss, val_loss..., seconds
    best_epoch: int = 0  # 0: no epoch ended with a finite val_loss
    best_val_loss: float | None = None
    stopped: bool = False  # a stop request ended it
    diverged_at: tuple[int, int] | None = None  # (epoch, batch) of the first NaN/inf loss
    epoch_seconds: list[float] = field(default_factory=list)
    train_seconds: float = 0.0
    learning_rate: float | None = None  # after the linear scaling rule
    warnings: list[str] = field(default_factory=list)  # speed options that were ignored
    device: str = ""
    train_windows: int = 0
    val_windows: int = 0
    fusion: Any = None  # a fused.Fusion when trained together with other trials
    # what predicts for ``model`` (its ``predict`` and call): the group's one compiled forecaster for
    # a fused trial, so R trials are not R compilations; None: the model itself
    forecaster: Any = None

    @property
    def epochs_run(self) -> int:
        return int(len(self.history))

    @property
    def kept_best(self) -> bool:
        """An epoch ended with a finite validation loss: its weights are the model's (a run that
        diverges in its first epoch keeps nothing)."""
        return self.best_epoch > 0

    def info(self) -> dict:
        """JSON-ready summary (a backtest caches it beside the fold model's weights)."""
        return {"epochs_run": self.epochs_run, "best_epoch": self.best_epoch, "best_val_loss": self.best_val_loss,
                "train_seconds": self.train_seconds, "stopped": self.stopped, "train_windows": self.train_windows,
                "val_windows": self.val_windows, "learning_rate": self.learning_rate,
                "fused": self.fusion.branches if self.fusion is not None else 1}

    def raise_if_diverged(self, spec: RunSpec, where: str = "") -> None:
        """A NaN/inf loss as :class:`NonFiniteLossError` with the plain message (``where`` prefixes it)."""
        if self.diverged_at is not None:
            raise NonFiniteLossError(where + divergence_message(spec, self.diverged_at, "Nothing was kept."))


def divergence_message(spec: RunSpec, where: tuple[int, int], kept: str) -> str:
    return (f"training diverged: the loss became NaN or infinite at epoch {where[0]}, batch {where[1]} "
            f"(optimizer {spec.model.optimizer}, learning rate {spec.model.learning_rate:g}). Lower the learning "
            f"rate (e.g. 0.001), try the adam optimizer, or use logratio or standard scaling. {kept}")


def check_speed_options(tspec: TrainSpec) -> None:
    if tspec.pipeline not in PIPELINES:
        raise TrainSpecError(f"unknown pipeline '{tspec.pipeline}'; choose from {', '.join(PIPELINES)}")
    if tspec.base_batch_size < 0 or tspec.workers < 1:
        raise TrainSpecError("base batch size must be 0 (off) or more, and workers at least 1")


def fit(spec: RunSpec, train_part: WindowPart, val_part: WindowPart, scaler: Scaler, *, epochs: int | None = None,
        callbacks: Sequence[Any] = (), stop: threading.Event | None = None,
        on_epoch: Callable[[int, dict], None] | None = None,
        on_start: Callable[[Any, list[str]], None] | None = None) -> FitResult:
    """Build ``spec.model`` for the part's K and fit it on ``train_part`` (validated on ``val_part``
    when it has windows). ``callbacks`` (e.g. live progress) run before the built-in ones; ``stop`` ends training within one batch;
    ``on_epoch(epoch, logs)`` follows every epoch (from 1); ``on_start(model, warnings)`` runs once
    the model is built, just before fitting. A NaN/inf loss stops training (``diverged_at``); the
    best validation weights are restored however it ends. Raises ValueError on bad speed options."""
    tspec = spec.train
    check_speed_options(tspec)
    keras = load_keras()

    from pricecast.training.callbacks import BestWeights, EpochClock, StopOnNonFiniteLoss, StopOnRequest
    from pricecast.training.feeding import WindowBatches, fits_in_memory, scaled_arrays

    device = configure_device()
    # TensorFlow refuses XLA while deterministic ops are on: a run that asks for XLA gives them up.
    set_seed(tspec.seed, deterministic=not tspec.jit_compile)
    warnings: list[str] = []
    model = build(spec, int(np.shape(train_part.y)[1]), device, warnings)
    # Keras's own shuffle of arrays on TensorFlow runs inside tf.data under the seed set above and
    # draws the same permutation every epoch (shuffled once, not per epoch: tests/training/test_fitting.py);
    # there a shuffled run's batches come from WindowBatches, reshuffled each epoch from its seed, as
    # on JAX and as trials trained together draw them.
    arrays = not (tspec.shuffle and backend_name() == "tensorflow")
    if tspec.pipeline == "auto" and arrays and fits_in_memory(train_part):
        x, y = scaled_arrays(train_part, scaler)
        data: dict = {"x": x, "y": y, "batch_size": tspec.batch_size, "shuffle": tspec.shuffle}
    else:
        workers = tspec.workers if tspec.pipeline == "prefetch" else 1
        data = {"x": WindowBatches(train_part, scaler, tspec.batch_size, tspec.shuffle, tspec.seed, workers)}
    has_val = len(val_part) > 0
    val_data = scaled_arrays(val_part, scaler) if has_val else None
    clock, stopper = EpochClock(on_epoch), StopOnRequest(stop or threading.Event())
    diverged, best = StopOnNonFiniteLoss(), BestWeights()
    every: list = [clock, *callbacks, stopper, diverged, best]
    if tspec.patience > 0 and has_val:
        every.append(keras.callbacks.EarlyStopping(monitor="val_loss", patience=tspec.patience))
    if on_start is not None:
        on_start(model, warnings)
    started = time.perf_counter()
    fitted = model.fit(**data, epochs=int(epochs or tspec.epochs),
                       validation_data=val_data, verbose=0,
                       callbacks=every)
    train_seconds = time.perf_counter() - started
    history = pd.DataFrame(fitted.history)
    history.insert(0, "epoch", np.arange(1, len(history) + 1))
    times = clock.epoch_times
    history["seconds"] = times[: len(history)] + [np.nan] * (len(history) - len(times))
    return FitResult(
        model, history, best.best_epoch if best.weights is not None else 0,
        best.best if np.isfinite(best.best) else None, stopper.requested, diverged.where, list(times), train_seconds,
        float(keras.ops.convert_to_numpy(inner_optimizer(model).learning_rate)), warnings, device,
        len(train_part), len(val_part))


def inner_optimizer(model):
    return getattr(model.optimizer, "inner_optimizer", model.optimizer)  # under a LossScaleOptimizer


def build(spec: RunSpec, k: int, device: str, warnings: list[str]):
    """``build_model`` for K outputs plus the TrainSpec speed options: mixed precision (GPU only),
    the linear learning-rate scaling rule for larger batches, and XLA. Appends to ``warnings`` what
    it ignores. A cached backtest model is rebuilt with it too, so its layers match the saved weights."""
    import keras

    tspec = spec.train
    check_speed_options(tspec)
    args = (spec.model, spec.window.n, k, spec.window.features, spec.window.target)
    mixed = tspec.mixed_precision and device.startswith("GPU")
    if tspec.mixed_precision and not mixed:
        warnings.append("mixed precision needs a GPU: ignored on this CPU, training in float32")
    if not mixed:
        model = build_model(*args)
    else:
        previous = keras.mixed_precision.global_policy()
        keras.mixed_precision.set_global_policy("mixed_float16")  # read by each layer as it is built
        try:
            body = build_model(*args)
            # A float16 output keeps only ~3 digits of a price: the last step computes in float32.
            out = keras.layers.Activation("linear", dtype="float32", name="float32_output")(body.outputs[0])
            # One input tensor, not a list of one: calling the model on an array then matches its structure.
            model = keras.Model(body.inputs[0], out, name=body.name)
            model.compile(optimizer=inner_optimizer(body), loss=spec.model.loss)  # wraps in loss scaling
        finally:
            keras.mixed_precision.set_global_policy(previous)
    if tspec.base_batch_size > 0:
        inner_optimizer(model).learning_rate = spec.model.learning_rate * tspec.batch_size / tspec.base_batch_size
    if tspec.jit_compile is not None:
        model.jit_compile = bool(tspec.jit_compile)  # read when fit builds its train step
        if tspec.jit_compile and not model.jit_compile:
            warnings.append("XLA (jit_compile) refused by Keras: TensorFlow turns it off while deterministic ops "
                            "are on (pricecast's seed setting) or when a layer lacks XLA support; trained without it")
    return model


# ---- prediction ----------------------------------------------------------------------------------
def model_call(model, training: bool = False) -> Callable[[np.ndarray], np.ndarray]:
    """Scaled inputs -> scaled outputs by calling the model in chunks (``training=True``: dropout on)."""
    def call(x: np.ndarray) -> np.ndarray:
        outs = [np.asarray(model(x[i:i + CALL_CHUNK], training=training)) for i in range(0, len(x), CALL_CHUNK)]
        return np.concatenate(outs) if outs else np.empty((0, model.output_shape[-1]), dtype=np.float32)
    return call


def predict(model, parts: WindowPart | Sequence[WindowPart], scaler: Scaler, *, training: bool = False,
            batch_size: int = 1024) -> np.ndarray | dict[str, np.ndarray]:
    """Forecasts in price units, (m, k) for one part or ``{name: (m, k)}`` for several.

    Several parts are predicted in one pass when they fit in memory together (each ``predict`` call
    has a fixed start-up cost that dominates short runs); ``training=True`` keeps dropout on (MC dropout)."""
    from pricecast.training.feeding import MATERIALIZE_LIMIT

    single = isinstance(parts, WindowPart)
    group = [parts] if single else [p for p in parts if len(p)]
    k = model.output_shape[-1]
    if sum(p.x.size for p in group) * 4 > MATERIALIZE_LIMIT:
        out = {p.name: _predict_chunked(model, p, scaler, batch_size, k, training) for p in group}
    else:
        x = np.concatenate([scaler.transform_x(p.x) for p in group]) if group else np.empty((0,))
        if len(x) == 0:
            y = np.empty((0, k), dtype=np.float32)
        elif training or len(x) <= DIRECT_CALL_LIMIT:
            y = model_call(model, training)(x)
        else:
            y = np.asarray(model.predict(x, batch_size=batch_size, verbose=0))
        y = np.asarray(y).reshape(len(x), k)
        out, start = {}, 0
        for p in group:
            out[p.name] = scaler.inverse_y(y[start : start + len(p)], p.history)
            start += len(p)
    return out[group[0].name] if single else out


def _predict_chunked(model, part: WindowPart, scaler: Scaler, batch_size: int, k: int, training: bool) -> np.ndarray:
    """A part too big to scale at once, 65536 windows at a time to bound memory."""
    out = np.empty((len(part), k), dtype=np.float64)
    chunk = 65536
    for start in range(0, len(part), chunk):
        stop = min(start + chunk, len(part))
        x = scaler.transform_x(part.x[start:stop])
        y = model_call(model, True)(x) if training else model.predict(x, batch_size=batch_size, verbose=0)
        y = np.asarray(y).reshape(stop - start, k)
        out[start:stop] = scaler.inverse_y(y, part.history[start:stop])
    return out


def prediction_rows(times: pd.DatetimeIndex, origin: np.ndarray, actual: np.ndarray, predicted: np.ndarray,
                    history: np.ndarray, labels: dict[str, Any], network: np.ndarray | None = None,
                    baselines: dict[str, np.ndarray] | None = None) -> pd.DataFrame:
    """Long table: one row per (window, horizon step) with ``labels`` (e.g. part or fold), the
    origin and target times (UTC), actual, the forecast used (``predicted``), the baselines (default:
    the price baselines) and, when given, the network's own forecast (``network``; it differs where
    the run fell back)."""
    origin = np.asarray(origin, dtype=np.int64)
    m, k = predicted.shape
    utc = times.tz_convert(None) if times.tz is not None else times
    base = baselines if baselines is not None else baseline_forecasts(np.asarray(history), k)
    return pd.DataFrame({
        **labels,
        "origin_time": pd.to_datetime(np.repeat(utc.to_numpy()[origin], k), utc=True),
        "step": np.tile(np.arange(1, k + 1), m),
        "time": pd.to_datetime(utc.to_numpy()[origin[:, None] + np.arange(1, k + 1)[None, :]].reshape(-1), utc=True),
        "actual": np.asarray(actual).reshape(-1),
        "predicted": predicted.reshape(-1),
        **{name: values.reshape(-1) for name, values in base.items()},
        **({} if network is None else {"network": np.asarray(network).reshape(-1)}),
    })
