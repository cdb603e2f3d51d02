"""``pricecast train|predict``: train a model, forecast with a saved run.

TensorFlow loads only once training or prediction starts (inside :mod:`pricecast.training`), so bad
settings exit with status 2 before it does.
"""
from __future__ import annotations

import argparse
import math
import threading
from pathlib import Path
from typing import Any

from pricecast.catalogue import add_spec_options
from pricecast.cli.common import (
    CLEAN_HELP,
    COLUMNS_HELP,
    EXIT_INTERRUPTED,
    add_range_options,
    ctrl_c_stops,
    format_table,
    print_json,
    progress,
    spec_from_args,
)
from pricecast.cli.tracking import add_tracking_options, tracker_from_args
from pricecast.data.candles import CandleError
from pricecast.data.datasets import LoadedData, kind_of, load_data
from pricecast.evaluation.decision import sentence as decision_sentence
from pricecast.evaluation.metrics import metrics_table, skill_text
from pricecast.events import Epoch, Event, Started, together
from pricecast.prep.targets import get_target
from pricecast.specs import RunSpec
from pricecast.tracking import TensorBoardLogger, log_run_detached
from pricecast.training.pipeline import prepare, train
from pricecast.training.predicting import predict_with_run
from pricecast.training.runs import load_run
from pricecast.training.types import Run


def _listener(event: Event) -> None:
    if isinstance(event, Started):
        sizes = event.sizes
        progress(f"device: {event.device}; windows train/val/test = {sizes.get('train')}/"
                 f"{sizes.get('val')}/{sizes.get('test')}; {event.params} parameters")
    elif isinstance(event, Epoch):
        speed = math.nan if event.samples_per_s is None else event.samples_per_s
        eta = f"  eta {event.eta:.0f}s" if event.eta is not None else ""
        progress(f"epoch {event.epoch}/{event.epochs}  loss {event.loss:.6g}  "
                 f"val_loss {event.val_loss:.6g}  {speed:.0f} samples/s{eta}")


def _load_for_training(spec: RunSpec, offline: bool, since: str | None = None, until: str | None = None) -> LoadedData:
    try:
        return load_data(spec.data, since=since, until=until, offline=offline)
    except CandleError as exc:
        # loaded here, not at the top: it brings requests/urllib3/ssl, which every other command would pay
        # for (see pricecast.cli.market); load_data has already imported it for market data
        from pricecast.data.market import SourceUnavailableError

        if kind_of(spec.data) == "market" and isinstance(exc, SourceUnavailableError):
            raise CandleError(f"{exc}. To train offline, pick bundled data, e.g. --data sample:AAPL") from None
        raise


def _part_json(report: dict) -> dict:
    """A part's numbers: the decision's (the forecast the run uses) and, under ``network``, the network's own."""
    own = report.get("network") or {**report["model"], "skill": report["skill"]}
    return {"rmse": report["rmse"], "persistence_rmse": report["persistence_rmse"], "skill": report["skill"],
            "mae": report["model"]["mae"], "mape": report["model"]["mape"], "direction": report["model"]["direction"],
            "decision": report.get("decision", "network"), "decision_p": report.get("decision_p"),
            "network": {k: own.get(k) for k in ("rmse", "mae", "mape", "direction", "skill")},
            "best_naive": report.get("best_naive", "persistence"),
            "skill_vs_best_naive": report.get("skill_vs_best_naive", report["skill"]),
            "baselines": {b: {"rmse": report[b]["rmse"], "mae": report[b]["mae"], "mape": report[b]["mape"]}
                          for b in report.get("baselines") or ("persistence", "drift", "moving_average")}}


def _train_json(run: Run) -> dict:
    m = run.metrics
    return {
        "run_dir": str(run.run_dir), "device": run.device, "epochs_run": m["epochs_run"],
        "best_epoch": m["best_epoch"], "best_val_loss": m["best_val_loss"],
        "decision": m.get("decision"),
        "train_seconds": m["train_seconds"], "params": m["params"],
        "sizes": m["sizes"], "target": run.spec.window.target,
        **{part: _part_json(m[part]) for part in ("val", "test") if part in m},
        "forecast": run.forecast.assign(time=run.forecast["time"].astype(str)).to_dict(orient="records"),
    }


def _print_train(run: Run, spec: RunSpec) -> None:
    test = run.metrics["test"]
    print(f"run: {run.run_dir}\ndevice: {run.device}; epochs run: {run.metrics['epochs_run']} "
          f"(best {run.metrics['best_epoch']})\n\nTest part, forecasting {spec.window.target} "
          f"({get_target(spec.window.target).unit}):")
    print(format_table(metrics_table(test)))
    print(f"\n{decision_sentence(run.metrics)}")
    if test.get("skill_note"):
        print(f"\nThe test part has {test['skill_note']}.\n\nNext {spec.window.k} steps:")
    else:
        own = (test.get("network") or {}).get("skill", test["skill"])
        verdict = "beats" if own > 0 else "does not beat"
        why = f" {test['range_note']}" if own <= 0 and test.get("range_note") else ""
        best = test.get("best_naive", "persistence")
        against = "" if best == "persistence" else (
            f" Against the best naive baseline chosen on validation, {best}: "
            f"{skill_text((test.get('network') or test).get('skill_vs_best_naive'), 2)}.")
        print(f"\nThe network {verdict} persistence on the test part (skill {skill_text(own, 2)}).{why}{against}\n\n"
              f"Next {spec.window.k} steps (predicted: the forecast the run uses; network: the network's own):")
    print(run.forecast.to_string(index=False))


def _train_tracked(spec, prepared, args: argparse.Namespace, stop: threading.Event):
    """Train (Ctrl-C stops and saves), with TensorBoard logs and MLflow tracking where asked for."""
    tracker = tracker_from_args(args)
    board = TensorBoardLogger() if args.tensorboard else None
    listener = together(_listener, board)
    try:
        with ctrl_c_stops(stop):
            run = train(spec, listener=listener, stop=stop, prepared=prepared,
                        runs_root=Path(args.runs_dir) if args.runs_dir else None)
    except BaseException:
        if board is not None:
            board.discard()
        raise
    if board is not None:
        progress(f"TensorBoard logs: {board.move_into(run.run_dir)} (tensorboard --logdir {run.run_dir})")
    if tracker is not None:
        if args.mlflow_wait:
            tracker.log_run(run)
        else:
            log_run_detached(run.run_dir, tracker.uri, tracker.experiment)
            progress("logging to MLflow in the background (--mlflow-wait to wait for it)")
    return run


def cmd_train(args: argparse.Namespace) -> int:
    spec = spec_from_args(args)
    progress(f"training {spec.preset or spec.model.arch} on {spec.data} (N={spec.window.n}, K={spec.window.k}, "
             f"{spec.model.arch}, {spec.train.epochs} epochs)")
    loaded = _load_for_training(spec, args.offline, args.since, args.until)
    for w in loaded.warnings:
        progress(f"warning: {w}")
    prepared = prepare(spec, loaded.candles)  # too few examples: exit 2 with the reason, before TensorFlow
    progress(prepared.counts.line())
    for w in prepared.counts.warnings:
        progress(f"warning: {w}")
    stop = threading.Event()
    run = _train_tracked(spec, prepared, args, stop)
    for w in run.metrics.get("warnings", []):
        if w not in prepared.counts.warnings:
            progress(f"warning: {w}")
    if args.json:
        print_json(_train_json(run))
    else:
        _print_train(run, spec)
    if stop.is_set():
        progress(f"pricecast: interrupted; the run was saved with the best weights in {run.run_dir}")
        return EXIT_INTERRUPTED
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    run = load_run(args.run_dir)
    ref = args.data or run.spec.data
    loaded = load_data(ref)
    result = predict_with_run(run, loaded.candles)
    if args.json:
        print_json({"run_dir": str(run.run_dir), "data": ref,
                    "forecast": result["forecast"].assign(time=result["forecast"]["time"].astype(str)).to_dict(orient="records"),
                    "evaluation": {k: result["evaluation"][k] for k in ("windows", "rmse", "persistence_rmse", "skill")}
                    if result["evaluation"] else None})
    else:
        print(result["forecast"].to_string(index=False))
        if result["evaluation"]:
            e = result["evaluation"]
            print(f"\nOn all {e['windows']} windows of {ref}: RMSE {e['rmse']:.4g}, persistence {e['persistence_rmse']:.4g}, "
                  f"skill {skill_text(e['skill'], 2)}")
    return 0


def register(subparsers: Any) -> None:
    """Add ``train`` and ``predict`` to the top-level subparsers."""
    t = subparsers.add_parser("train", help="train a model and report it against the baselines")
    t.add_argument("--preset", default="default", help="a preset name (see `pricecast presets`)")
    t.add_argument("--data", help="sample:AAPL, a CSV path, EXCHANGE:SYMBOL:TF or synthetic:pattern?noise=0.5 (default: the preset's)")
    add_spec_options(t)
    t.add_argument("--offline", action="store_true", help="exchange/Yahoo data: use the cached candles only")
    t.add_argument("--clean", action="store_true", help=CLEAN_HELP)
    t.add_argument("--columns", metavar="ROLE=COLUMN,...", help=COLUMNS_HELP)
    add_range_options(t)
    t.add_argument("--runs-dir", help="where run folders go (default ~/.pricecast/runs)")
    t.add_argument("--json", action="store_true")
    add_tracking_options(t, detached=True)
    t.set_defaults(func=cmd_train)

    p = subparsers.add_parser("predict", help="forecast with a saved run on new or current data")
    p.add_argument("run_dir")
    p.add_argument("--data", help="data to forecast from (default: the run's own)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_predict)
