"""``train(spec) -> Run``: load data, window, scale on the training part, fit, evaluate, save.

Keras is imported inside :func:`train` so that importing this module stays cheap (the dashboard's
server imports it and never trains).
"""
from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from pricecast.data.candles import candle_step, is_business_daily
from pricecast.data.datasets import load_data
from pricecast.data.quality import (
    MOSTLY_STALE,
    QualityReport,
    level_shift_warnings,
    quality_report,
    stale_share,
    to_plain,
)
from pricecast.evaluation.baselines import best_on_validation, fallback_candidates, next_forecasts, part_forecasts
from pricecast.evaluation.decision import Decision, chosen, decide, scored
from pricecast.evaluation.diagnostics import range_note
from pricecast.evaluation.leakage import check_prepared, check_run
from pricecast.evaluation.metrics import with_best_naive
from pricecast.events import Done, Listener, Started, ignore
from pricecast.models.checks import check_model
from pricecast.prep.features import source_columns
from pricecast.prep.scaling import Scaler
from pricecast.prep.targets import get_target
from pricecast.prep.windows import WindowError, WindowSet, example_counts, latest_window, make_windows
from pricecast.specs import RunSpec
from pricecast.training.backend import configure_device, load_keras
from pricecast.training.fitting import (
    FitResult,
    NonFiniteLossError,
    check_speed_options,
    divergence_message,
    fit,
    predict,
    prediction_rows,
)
from pricecast.training.runs import save_run
from pricecast.training.types import Prepared, Run, RunSaveError


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
    warnings += level_shift_warnings(quality, source_columns((*spec.window.features, spec.window.target)))
    return Prepared(spec, candles, windows, scaler, counts, warnings + list(counts.warnings), quality)


def train(spec: RunSpec, listener: Listener | None = None, stop: threading.Event | None = None,
          candles: pd.DataFrame | None = None, runs_root: Path | None = None,
          prepared: Prepared | None = None) -> Run:
    """Train ``spec`` and save the run folder. ``listener`` receives progress events
    (:class:`~pricecast.events.Started`, ``Batch``, ``Epoch``, ``Done``); setting ``stop`` ends training
    within one batch, keeping the best weights seen so far."""
    began = time.perf_counter()
    # Bad settings fail here, before TensorFlow is loaded.
    prep = prepared or prepare(spec, candles)
    check_speed_options(spec.train)
    keras = load_keras()  # before anything else imports it: see load_keras

    from pricecast.training.callbacks import LiveHistory

    listener = listener or ignore
    wset, scaler, tspec = prep.windows, prep.scaler, spec.train
    train_part, val_part = wset.train, wset.val
    built: dict = {}

    def val_predict() -> np.ndarray:
        return predict(built["model"], val_part, scaler)

    def started(model, fit_warnings: list[str]) -> None:
        built["model"] = model
        listener(Started(device=configure_device(), backend=keras.backend.backend(), params=int(model.count_params()),
                         epochs=tspec.epochs, sizes={"train": len(train_part), "val": len(val_part),
                                                     "test": len(wset.test)},
                         warnings=(*prep.warnings, *fit_warnings)))

    live = LiveHistory(listener, tspec.epochs, len(train_part), tspec.per_batch_updates,
                       val_predict if (tspec.live_val_predictions and len(val_part) > 0) else None)
    fitted = fit(spec, train_part, val_part, scaler, callbacks=[live], stop=stop, on_start=started)
    run = finish(prep, fitted, runs_root)
    listener(Done(stopped=bool(fitted.stopped), seconds=time.perf_counter() - began))
    return run


def train_group(specs: Sequence[RunSpec], candles: pd.DataFrame | None = None, runs_root: Path | None = None,
                stop: threading.Event | None = None,
                each: Callable[[int, Run | Exception], None] | None = None) -> list[Run | Exception]:
    """Train trials that differ only in what :func:`~pricecast.training.fused.fusion_key` allows
    (seed, L1/L2, the decision's settings) together, each saved as ``train`` saves it. The data is
    loaded, windowed and scaled once (the specs share it); one result per spec, in order: its Run, or
    the exception that ended it (a diverged trial's NonFiniteLossError carries its saved run).
    Stopped (``stop`` set), it saves nothing and returns an empty list. ``each(i, result)`` is
    called as each trial is finished and saved."""
    from pricecast.training.fused import fit_group

    prep = prepare(specs[0], candles)
    for spec in specs[1:]:
        spec.train.check()
        check_model(spec.model, spec.window.n, spec.window.k, spec.window.features, spec.window.target)
    load_keras()
    fitted = fit_group(specs, prep.windows.train, prep.windows.val, prep.scaler, stop=stop)
    if any(one.stopped for one in fitted):
        return []
    results: list[Run | Exception] = []
    for spec, one in zip(specs, fitted):
        try:
            results.append(finish(replace(prep, spec=spec), one, runs_root))
        except Exception as exc:  # noqa: BLE001 - one trial's failure is its own result
            results.append(exc)
        if each is not None:
            each(len(results) - 1, results[-1])
    return results


def finish(prep: Prepared, fitted: FitResult, runs_root: Path | None = None) -> Run:
    """Everything after fitting: the network's forecasts, the decision on validation, the report
    of every part, the look-ahead checks, the saved run folder."""
    keras = load_keras()
    spec, wset, scaler = prep.spec, prep.windows, prep.scaler
    train_part, val_part = wset.train, wset.val
    model, history, train_seconds = fitted.model, fitted.history, fitted.train_seconds
    if fitted.diverged_at is not None and not fitted.kept_best:
        raise NonFiniteLossError(divergence_message(spec, fitted.diverged_at, "Nothing was saved."))
    warnings = list(prep.warnings) + fitted.warnings

    # The network's own forecasts on every part; then the decision, on validation only, of which
    # forecast the run uses (the network's, or the naive one it could not beat: for volume or
    # volatility the best of the target's naive baselines, for prices persistence).
    own = predict(fitted.forecaster or model, list(wset.parts.values()), scaler)
    naive = {name: part_forecasts(spec.window.target, wset.times, wset.target, wset.parts[name]) for name in own}
    decision = run_decision(spec, val_part, own.get("val"), fitted.epochs_run, naive.get("val"))
    predictions, reports = [], {}
    for name, network in own.items():
        part = wset.parts[name]
        reports[name] = scored(part.y, network, part.history, decision, naive[name])
        reports[name]["range_note"] = range_note(wset.train.y, part.y, _PARTS[name], _bounded_by(spec))
        used = chosen(decision, network, naive[name])
        predictions.append(prediction_rows(wset.times, part.origin, part.y, used, part.history, {"part": name},
                                           network=network, baselines=naive[name]))
    # the best naive baseline is chosen on validation only and named in every part's report
    best = best_on_validation(reports["val"]) if reports.get("val", {}).get("windows") else "persistence"
    for report in reports.values():
        with_best_naive(report, best)
    forecast = forecast_next(fitted.forecaster or model, prep.candles, spec, scaler, decision)
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
        **({"fused": fitted.fusion.to_dict()} if fitted.fusion is not None else {}),
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
        raise save_elsewhere(run, exc) from exc
    if diverged is not None:
        kept = (f"{kept_weights(run.metrics['best_epoch']).capitalize()} (the best finite validation loss) were "
                f"saved in {run.run_dir}.")
        raise NonFiniteLossError(divergence_message(spec, diverged, kept), run)
    return run


_PARTS = {"train": "training", "val": "validation", "test": "test"}


def _bounded_by(spec: RunSpec) -> str:
    """What keeps this setup's forecasts inside the training prices' range, in words ("" if nothing):
    min-max scaling (the network sees 0..1 over the training range), or a tanh forecast layer on
    prices scaled by the training statistics."""
    if spec.scaling == "minmax":
        return "min-max scaling"
    if spec.scaling == "standard" and spec.model.output_activation == "tanh":
        return "a tanh forecast layer"
    return ""


def save_elsewhere(run: Run, exc: OSError) -> RunSaveError:
    """The runs folder refused the run (a full disk, no permission): save it in the temporary folder
    instead, so hours of training are not thrown away, and say where. The error carries the run
    (``run.run_dir`` set when that save worked) for a caller that can show it or retry."""
    why = f"{exc.strerror or exc}{': ' + str(exc.filename) if exc.filename else ''}"
    fallback = Path(tempfile.gettempdir()) / "pricecast-unsaved-runs"
    try:
        run.run_dir = save_run(run, fallback)
    except OSError as again:
        return RunSaveError(f"the trained model could not be saved ({why}), nor in {fallback} "
                            f"({again.strerror or again}); it was not kept. Free some disk space or choose another "
                            "runs folder (PRICECAST_RUNS_DIR, --runs-dir), then train again", run)
    return RunSaveError(f"the trained model could not be saved in the runs folder ({why}); it was saved in "
                        f"{run.run_dir} instead (a temporary folder: move it into the runs folder, "
                        "or free some space and set PRICECAST_RUNS_DIR, before the system clears it)", run)


def kept_weights(best_epoch: int) -> str:
    return f"the weights of epoch {best_epoch}" if best_epoch else "no weights"


def run_decision(spec: RunSpec, val_part, network_val: np.ndarray | None, epochs: int,
                 naive_val: dict[str, np.ndarray] | None = None) -> Decision:
    """Network or naive fallback, from the validation windows (the setting ``persistence_floor``
    off: always the network). ``naive_val``: the target's naive forecasts on those windows; the
    fallback is the best of them (persistence alone for prices)."""
    k = spec.window.k
    have = network_val is not None and naive_val is not None
    actual = np.asarray(val_part.y) if have else np.empty((0, k))
    network = np.asarray(network_val) if have else np.empty((0, k))
    return decide(actual, network, fallback_candidates(spec.window.target, naive_val if have else None, k),
                  epochs=epochs, p_needed=spec.train.floor_p, enabled=spec.train.persistence_floor,
                  loss=spec.model.loss)


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
    series = get_target(spec.window.target).compute(candles)
    history = series[-spec.window.n :][None, :]
    y = np.asarray(model.predict(scaler.transform_x(x_raw), verbose=0)).reshape(1, -1)
    network = scaler.inverse_y(y, history)
    k = spec.window.k
    future = future_times(candles.index, k)
    used = network if decision is None else chosen(
        decision, network, next_forecasts(spec.window.target, candles.index, series, spec.window.n, future))
    return pd.DataFrame({"time": future, "step": np.arange(1, k + 1),
                         "predicted": np.asarray(used)[0], "network": network[0],
                         "persistence": np.repeat(history[0, -1], k)})
