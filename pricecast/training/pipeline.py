"""``train(spec) -> Run``: load data, window, scale on the training part, fit, evaluate, save.

Keras is imported inside :func:`train` so that importing this module stays cheap (the dashboard's
server imports it and never trains).
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from pricecast.data.candles import candle_step, is_business_daily
from pricecast.data.datasets import load_data
from pricecast.data.quality import MOSTLY_STALE, QualityReport, quality_report, stale_share, to_plain
from pricecast.evaluation.decision import Decision, candidates, chosen, decide_on, scored
from pricecast.evaluation.leakage import check_prepared, check_run
from pricecast.models.checks import check_model
from pricecast.prep.scaling import Scaler
from pricecast.prep.windows import WindowError, WindowSet, example_counts, latest_window, make_windows
from pricecast.specs import RunSpec
from pricecast.training.backend import configure_device, load_keras
from pricecast.training.fitting import (
    NonFiniteLossError,
    check_speed_options,
    divergence_message,
    fit,
    predict,
    prediction_rows,
)
from pricecast.training.runs import save_run
from pricecast.training.types import Prepared, Run, RunSaveError

Listener = Callable[[dict], None]


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


def train(spec: RunSpec, listener: Listener | None = None, stop: threading.Event | None = None,
          candles: pd.DataFrame | None = None, runs_root: Path | None = None,
          prepared: Prepared | None = None) -> Run:
    """Train ``spec`` and save the run folder. ``listener`` receives progress events
    (``start``, ``batch``, ``epoch``, ``done``); setting ``stop`` ends training within one batch,
    keeping the best weights seen so far."""
    # Bad settings fail here, before TensorFlow is loaded.
    prep = prepared or prepare(spec, candles)
    check_speed_options(spec.train)
    keras = load_keras()  # before anything else imports it: see load_keras

    from pricecast.training.callbacks import LiveHistory

    listener = listener or (lambda event: None)
    wset, scaler, tspec = prep.windows, prep.scaler, spec.train
    train_part, val_part = wset.train, wset.val
    built: dict = {}

    def val_predict() -> np.ndarray:
        return predict(built["model"], val_part, scaler)

    def started(model, fit_warnings: list[str]) -> None:
        built["model"] = model
        listener({"type": "start", "device": configure_device(), "epochs": tspec.epochs,
                  "train_windows": len(train_part), "val_windows": len(val_part), "test_windows": len(wset.test),
                  "params": int(model.count_params()), "backend": keras.backend.backend(),
                  "warnings": list(prep.warnings) + fit_warnings})

    live = LiveHistory(listener, tspec.epochs, len(train_part), tspec.per_batch_updates,
                       val_predict if (tspec.live_val_predictions and len(val_part) > 0) else None)
    fitted = fit(spec, train_part, val_part, scaler, callbacks=[live], stop=stop, on_start=started)
    model, history, train_seconds = fitted.model, fitted.history, fitted.train_seconds
    if fitted.diverged_at is not None and not fitted.kept_best:
        raise NonFiniteLossError(divergence_message(spec, fitted.diverged_at, "Nothing was saved."))
    warnings = list(prep.warnings) + fitted.warnings

    # The network's own forecasts on every part; then the decision, on validation only, of which
    # forecast the run uses (the network's, or the naive one it could not beat).
    own = predict(model, list(wset.parts.values()), scaler)
    decision = run_decision(spec, val_part, own.get("val"), fitted.epochs_run)
    predictions, reports = [], {}
    for name, network in own.items():
        part = wset.parts[name]
        reports[name] = scored(part.y, network, part.history, decision)
        used = chosen(decision, network, candidates(part.history, part.y.shape[1]))
        predictions.append(prediction_rows(wset.times, part.origin, part.y, used, part.history, {"part": name},
                                           network=network))
    forecast = forecast_next(model, prep.candles, spec, scaler, decision)
    metrics = {
        "device": fitted.device,
        "backend": keras.backend.backend(),
        "epochs_run": fitted.epochs_run,
        "stopped_by_user": fitted.stopped,
        "best_epoch": fitted.best_epoch,
        "best_val_loss": fitted.best_val_loss,
        "decision": decision.to_dict(),
        "train_seconds": train_seconds,
        "samples_per_s": float(len(train_part) * len(history) / train_seconds) if train_seconds > 0 else None,
        "params": int(model.count_params()),
        "sizes": wset.sizes(),
        "scaler_fit_rows": list(scaler.fit_rows),
        "learning_rate": fitted.learning_rate,
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
    diverged = fitted.diverged_at
    if diverged is not None:
        metrics["diverged_at"] = {"epoch": diverged[0], "batch": diverged[1]}
        metrics["warnings"].append(f"the loss became NaN or infinite at epoch {diverged[0]}; "
                                   f"{kept_weights(fitted.best_epoch)} were kept")
    try:
        run.run_dir = save_run(run, runs_root)
    except OSError as exc:
        raise RunSaveError(f"the trained model could not be saved ({exc.strerror or exc}"
                           f"{': ' + str(exc.filename) if exc.filename else ''}); it was not kept. Free some "
                           "disk space or choose another runs folder (PRICECAST_RUNS_DIR, --runs-dir), then train "
                           "again", run) from exc
    if diverged is not None:
        kept = (f"{kept_weights(run.metrics['best_epoch']).capitalize()} (the best finite validation loss) were "
                f"saved in {run.run_dir}.")
        raise NonFiniteLossError(divergence_message(spec, diverged, kept), run)
    listener({"type": "done", "run_dir": str(run.run_dir), "metrics": metrics})
    return run


def kept_weights(best_epoch: int) -> str:
    return f"the weights of epoch {best_epoch}" if best_epoch else "no weights"


def run_decision(spec: RunSpec, val_part, network_val: np.ndarray | None, epochs: int) -> Decision:
    """Network or naive fallback, from the validation windows (the setting ``persistence_floor``
    off: always the network)."""
    return decide_on(val_part.y, network_val, val_part.history, epochs=epochs, p_needed=spec.train.floor_p,
                     enabled=spec.train.persistence_floor, loss=spec.model.loss)


def future_times(index: pd.DatetimeIndex, k: int) -> pd.DatetimeIndex:
    """The K candle times after the last one (weekdays only for business-daily series)."""
    last = index[-1]
    if is_business_daily(index):
        return pd.bdate_range(last + pd.Timedelta(days=1), periods=k, tz="UTC", name="time")
    step = candle_step(index)
    return pd.DatetimeIndex([last + step * (i + 1) for i in range(k)], name="time")


def forecast_next(model, candles: pd.DataFrame, spec: RunSpec, scaler: Scaler,
                  decision: Decision | None = None) -> pd.DataFrame:
    """The next K steps from the latest N candles: ``predicted`` is the forecast the ``decision``
    uses (the network's when there is none), ``network`` the network's own, with persistence beside."""
    x_raw = latest_window(candles, spec.window)
    history = candles[spec.window.target].to_numpy(dtype=np.float64)[-spec.window.n :][None, :]
    y = np.asarray(model.predict(scaler.transform_x(x_raw), verbose=0)).reshape(1, -1)
    network = scaler.inverse_y(y, history)
    k = spec.window.k
    used = network if decision is None else chosen(decision, network, candidates(history, k))
    return pd.DataFrame({"time": future_times(candles.index, k), "step": np.arange(1, k + 1),
                         "predicted": np.asarray(used)[0], "network": network[0],
                         "persistence": np.repeat(history[0, -1], k)})
