"""``train(spec) -> Run``: load data, window, scale on the training part, fit, evaluate, save.

Keras is imported inside :func:`train` so that importing this module stays cheap.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .candles import candle_step, is_business_daily
from .datasets import load_data
from .errors import PricecastError
from .evaluation import baseline_forecasts, evaluate
from .models import check_model
from .quality import MOSTLY_STALE, QualityReport, quality_report, stale_share, to_plain
from .scaling import Scaler
from .specs import RunSpec
from .windows import ExampleCounts, WindowError, WindowSet, example_counts, latest_window, make_windows

Listener = Callable[[dict], None]


class NonFiniteLossError(PricecastError):
    """Training diverged (the loss became NaN or infinite). ``run`` is the run saved with the best
    finite weights, or None when no epoch ended with a finite validation loss (nothing saved)."""

    def __init__(self, message: str, run: Run | None = None) -> None:
        super().__init__(message)
        self.run = run


class RunSaveError(PricecastError, OSError):
    """The trained run could not be written (disk full, no permission...). ``run`` is the trained
    run in memory, so a caller can still show it or try another folder."""

    def __init__(self, message: str, run: Run | None = None) -> None:
        super().__init__(message)
        self.run = run


@dataclass
class Prepared:
    """Everything derived from the data before a model exists."""

    spec: RunSpec
    candles: pd.DataFrame
    windows: WindowSet
    scaler: Scaler
    counts: ExampleCounts
    warnings: list[str] = field(default_factory=list)
    quality: QualityReport | None = None


def stale_warnings(candles: pd.DataFrame, windows: WindowSet, report: QualityReport) -> list[str]:
    """A warning for each part (train/val/test) whose candles are mostly a frozen price."""
    out = []
    for name, part in windows.parts.items():
        a, b = part.rows
        share = stale_share(candles, report.stale, a, b - 1)
        if share > MOSTLY_STALE:
            out.append(f"the {name} part is {share:.0%} stale (the price does not move for "
                       f"{report.stale_min_candles}+ candles in a row): its numbers say little. Cut the data to "
                       "its longest clean stretch (--clean, or 'Use only the longest clean stretch' on the Data page)")
    return out


def prepare(spec: RunSpec, candles: pd.DataFrame | None = None) -> Prepared:
    """Load (unless ``candles`` given), window, check the model's shapes and fit the scaler on the
    training rows only. Raises a ValueError subclass with a plain message on any bad setting,
    including too few examples in a part to learn or to score (:func:`windows.example_counts`)."""
    spec.train.check()
    warnings: list[str] = []
    if candles is None:
        loaded = load_data(spec.data)
        candles, warnings = loaded.candles, list(loaded.warnings)
    check_model(spec.model, spec.window.n, spec.window.k, spec.window.features, spec.window.target)
    windows = make_windows(candles, spec.window)
    counts = example_counts(windows, spec.train.batch_size)
    if not counts.ok:
        raise WindowError(f"{counts.line()}. " + " ".join(counts.errors))
    scaler = Scaler.fit(spec.scaling, windows.values, windows.target, spec.window.features,
                        spec.window.target, windows.train.rows)
    quality = quality_report(candles)
    warnings += stale_warnings(candles, windows, quality)
    return Prepared(spec, candles, windows, scaler, counts, warnings + list(counts.warnings), quality)


@dataclass
class Run:
    """A finished (or stopped) training run and its folder."""

    run_dir: Path
    spec: RunSpec
    history: pd.DataFrame
    metrics: dict
    predictions: pd.DataFrame
    forecast: pd.DataFrame
    scaler: Scaler
    model: Any = None

    @property
    def device(self) -> str:
        return self.metrics.get("device", "")

    def load_model(self):
        if self.model is None:
            import keras

            from . import layers  # noqa: F401  (registers LastValue for deserialisation)

            path = self.run_dir / "model.keras"
            try:
                self.model = keras.models.load_model(path)
            except Exception as exc:
                # Keras says "File not found" for any file it cannot open as a zip
                if path.exists() and not _is_whole_zip(path):
                    raise ModelFileError(f"the model file {path} is damaged (cut short or overwritten, not a "
                                         "complete .keras file): train this run again") from exc
                raise
        return self.model


class ModelFileError(PricecastError):
    """A run's model.keras exists but cannot be read."""


def _is_whole_zip(path: Path) -> bool:
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            return archive.testzip() is None
    except (zipfile.BadZipFile, OSError, EOFError):
        return False


def train(spec: RunSpec, listener: Listener | None = None, stop: threading.Event | None = None,
          candles: pd.DataFrame | None = None, runs_root: Path | None = None,
          prepared: Prepared | None = None) -> Run:
    """Train ``spec`` and save the run folder. ``listener`` receives progress events
    (``start``, ``batch``, ``epoch``, ``done``); setting ``stop`` ends training within one batch,
    keeping the best weights seen so far."""
    # Bad settings fail here, before TensorFlow is loaded.
    prep = prepared or prepare(spec, candles)

    import keras

    from .backend import configure_device, set_seed
    from .callbacks import BestWeights, LiveHistory, StopOnNonFiniteLoss, StopOnRequest
    from .feeding import WindowBatches, fits_in_memory, predict_parts, scaled_arrays
    from .leakage import check_prepared, check_run
    from .runs import save_run

    listener = listener or (lambda event: None)
    stop = stop or threading.Event()
    device = configure_device()
    set_seed(spec.train.seed, deterministic=not spec.train.jit_compile)
    wset, scaler, tspec = prep.windows, prep.scaler, spec.train
    warnings = list(prep.warnings)
    model = _build_for_speed(spec, device, warnings)
    train_part, val_part = wset.train, wset.val
    has_val = len(val_part) > 0

    if tspec.pipeline == "auto" and fits_in_memory(train_part):
        x_train, y_train = scaled_arrays(train_part, scaler)
        fit_data: dict = {"x": x_train, "y": y_train, "batch_size": tspec.batch_size, "shuffle": tspec.shuffle}
    else:
        workers = tspec.workers if tspec.pipeline == "prefetch" else 1
        fit_data = {"x": WindowBatches(train_part, scaler, tspec.batch_size, tspec.shuffle, tspec.seed, workers)}
    validation = scaled_arrays(val_part, scaler) if has_val else None

    def val_predict() -> np.ndarray:
        y = np.asarray(model(validation[0], training=False)).reshape(len(val_part), -1)
        return scaler.inverse_y(y, val_part.history)

    best = BestWeights()
    stopper = StopOnRequest(stop)
    diverged = StopOnNonFiniteLoss()
    callbacks: list = [
        LiveHistory(listener, tspec.epochs, len(train_part), tspec.per_batch_updates,
                    val_predict if (tspec.live_val_predictions and has_val) else None),
        stopper, diverged, best,
    ]
    if tspec.patience > 0 and has_val:
        callbacks.append(keras.callbacks.EarlyStopping(monitor="val_loss", patience=tspec.patience))
    listener({"type": "start", "device": device, "epochs": tspec.epochs, "train_windows": len(train_part),
              "val_windows": len(val_part), "test_windows": len(wset.test), "params": int(model.count_params()),
              "backend": keras.backend.backend(), "warnings": warnings})
    started = time.perf_counter()
    fitted = model.fit(**fit_data, epochs=tspec.epochs, validation_data=validation, verbose=0, callbacks=callbacks)
    train_seconds = time.perf_counter() - started
    if diverged.where is not None and best.weights is None:
        raise NonFiniteLossError(_divergence_message(spec, diverged.where, None))

    history = pd.DataFrame(fitted.history)
    history.insert(0, "epoch", np.arange(1, len(history) + 1))
    epoch_seconds = callbacks[0].epoch_times
    history["seconds"] = epoch_seconds[: len(history)] + [np.nan] * (len(history) - len(epoch_seconds))

    predictions, reports = [], {}
    for name, predicted in predict_parts(model, list(wset.parts.values()), scaler).items():
        part = wset.parts[name]
        reports[name] = evaluate(np.asarray(part.y), predicted, np.asarray(part.history))
        predictions.append(_prediction_rows(wset, name, predicted))
    forecast = forecast_next(model, prep.candles, spec, scaler)
    metrics = {
        "device": device,
        "backend": keras.backend.backend(),
        "epochs_run": int(len(history)),
        "stopped_by_user": stopper.requested,
        "best_epoch": best.best_epoch,
        "best_val_loss": best.best if np.isfinite(best.best) else None,
        "train_seconds": train_seconds,
        "samples_per_s": float(len(train_part) * len(history) / train_seconds) if train_seconds > 0 else None,
        "params": int(model.count_params()),
        "sizes": wset.sizes(),
        "scaler_fit_rows": list(scaler.fit_rows),
        "learning_rate": float(keras.ops.convert_to_numpy(_inner_optimizer(model).learning_rate)),
        "warnings": warnings,
        "data": {"first": prep.candles.index[0].isoformat(), "last": prep.candles.index[-1].isoformat(),
                 "rows": int(len(prep.candles))},
        "quality": to_plain(prep.quality or quality_report(prep.candles)),
        **{part: report for part, report in reports.items()},
    }
    run = Run(Path(), spec, history, metrics, pd.concat(predictions, ignore_index=True), forecast, scaler, model)
    # Look-ahead checks on every run: scaler and windows (leaks), then "does it only repeat the last price?"
    checks = check_prepared(prep, include_ok=True) + check_run(run, include_ok=True)
    metrics["lookahead"] = [f.to_dict() for f in checks]
    metrics["warnings"] = warnings + [f.message for f in checks if f.level == "warning"]
    if diverged.where is not None:
        metrics["diverged_at"] = {"epoch": diverged.where[0], "batch": diverged.where[1]}
        metrics["warnings"].append(f"the loss became NaN or infinite at epoch {diverged.where[0]}; "
                                   f"the weights of epoch {best.best_epoch} were kept")
    try:
        run.run_dir = save_run(run, runs_root)
    except OSError as exc:
        raise RunSaveError(f"the trained model could not be saved ({exc.strerror or exc}"
                           f"{': ' + str(exc.filename) if exc.filename else ''}); it was not kept. Free some "
                           "disk space or choose another runs folder (PRICECAST_RUNS_DIR, --runs-dir), then train "
                           "again", run) from exc
    if diverged.where is not None:
        raise NonFiniteLossError(_divergence_message(spec, diverged.where, run), run)
    listener({"type": "done", "run_dir": str(run.run_dir), "metrics": metrics})
    return run


def _divergence_message(spec: RunSpec, where: tuple[int, int], run: Run | None) -> str:
    kept = (f"The weights of epoch {run.metrics['best_epoch']} (the last finite validation loss) were saved in "
            f"{run.run_dir}." if run is not None else "Nothing was saved.")
    return (f"training diverged: the loss became NaN or infinite at epoch {where[0]}, batch {where[1]} "
            f"(optimizer {spec.model.optimizer}, learning rate {spec.model.learning_rate:g}). Lower the learning "
            f"rate (e.g. 0.001), try the adam optimizer, or use logratio or standard scaling. {kept}")


PIPELINES: tuple[str, ...] = ("auto", "batches", "prefetch")


def _inner_optimizer(model):
    return getattr(model.optimizer, "inner_optimizer", model.optimizer)  # under a LossScaleOptimizer


def _build_for_speed(spec: RunSpec, device: str, warnings: list[str]):
    """``build_model`` plus the TrainSpec speed options: mixed precision (GPU only), the linear
    learning-rate scaling rule for larger batches, and XLA. Appends to ``warnings`` what it ignores."""
    import keras

    from .models import build_model

    tspec = spec.train
    if tspec.pipeline not in PIPELINES:
        raise ValueError(f"unknown pipeline '{tspec.pipeline}'; choose from {', '.join(PIPELINES)}")
    if tspec.base_batch_size < 0 or tspec.workers < 1:
        raise ValueError("base batch size must be 0 (off) or more, and workers at least 1")
    args = (spec.model, spec.window.n, spec.window.k, spec.window.features, spec.window.target)
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
            model = keras.Model(body.inputs, out, name=body.name)
            model.compile(optimizer=_inner_optimizer(body), loss=spec.model.loss)  # wraps in loss scaling
        finally:
            keras.mixed_precision.set_global_policy(previous)
    if tspec.base_batch_size > 0:
        _inner_optimizer(model).learning_rate = spec.model.learning_rate * tspec.batch_size / tspec.base_batch_size
    if tspec.jit_compile is not None:
        model.jit_compile = bool(tspec.jit_compile)  # read when fit builds its train step
        if tspec.jit_compile and not model.jit_compile:
            warnings.append("XLA (jit_compile) refused by Keras: TensorFlow turns it off while deterministic ops "
                            "are on (pricecast's seed setting) or when a layer lacks XLA support; trained without it")
    return model


def _prediction_rows(wset: WindowSet, part: str, predicted: np.ndarray) -> pd.DataFrame:
    """Long table: one row per (window, horizon step) with actual, model and baselines."""
    p = wset.parts[part]
    m, k = predicted.shape
    base = baseline_forecasts(np.asarray(p.history), k)
    return pd.DataFrame({
        "part": part,
        "origin_time": np.repeat(wset.times[p.origin], k),
        "step": np.tile(np.arange(1, k + 1), m),
        "time": pd.to_datetime(wset.output_times(part).reshape(-1), utc=True),
        "actual": np.asarray(p.y).reshape(-1),
        "predicted": predicted.reshape(-1),
        **{name: values.reshape(-1) for name, values in base.items()},
    })


def future_times(index: pd.DatetimeIndex, k: int) -> pd.DatetimeIndex:
    """The K candle times after the last one (weekdays only for business-daily series)."""
    last = index[-1]
    if is_business_daily(index):
        return pd.bdate_range(last + pd.Timedelta(days=1), periods=k, tz="UTC", name="time")
    step = candle_step(index)
    return pd.DatetimeIndex([last + step * (i + 1) for i in range(k)], name="time")


def forecast_next(model, candles: pd.DataFrame, spec: RunSpec, scaler: Scaler) -> pd.DataFrame:
    """The next K steps from the latest N candles, with the persistence forecast beside it."""
    x_raw = latest_window(candles, spec.window)
    history = candles[spec.window.target].to_numpy(dtype=np.float64)[-spec.window.n :][None, :]
    y = np.asarray(model.predict(scaler.transform_x(x_raw), verbose=0)).reshape(1, -1)
    predicted = scaler.inverse_y(y, history)[0]
    return pd.DataFrame({"time": future_times(candles.index, spec.window.k), "step": np.arange(1, spec.window.k + 1),
                         "predicted": predicted, "persistence": np.repeat(history[0, -1], spec.window.k)})
