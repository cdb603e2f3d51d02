"""``python -m pricecast backtest``: walk-forward evaluation from the command line.

Progress goes to stderr; stdout gets a per-fold table and summary, or with ``--json`` one JSON object
(folds with model and baseline metrics, overall, by horizon, interval coverage, look-ahead findings).
"""
from __future__ import annotations

import argparse
import sys
from typing import Any

from pricecast.backtest.control import backtest_with_control
from pricecast.backtest.spec import BACKTEST_FIELDS, BacktestSpec
from pricecast.catalogue import add_spec_options, overrides_from_args
from pricecast.cli.common import COLUMNS_HELP, add_range_options, format_table, print_json, progress, spec_from_args
from pricecast.cli.tracking import add_tracking_options, tracker_from_args
from pricecast.data.datasets import load_data
from pricecast.evaluation.metrics import skill_text
from pricecast.events import Epoch, Event, Fold, FoldsPlanned, Progress


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("backtest", help="walk-forward backtest: retrain per fold, errors by fold and horizon, "
                                               "intervals with measured coverage, look-ahead checks")
    p.add_argument("--preset", default="default", help="a preset name (see `pricecast presets`)")
    p.add_argument("--data", help="sample:AAPL, a CSV path, EXCHANGE:SYMBOL:TF or synthetic:pattern?noise=0.5 (default: the preset's)")
    p.add_argument("--shuffled-control", action="store_true",
                   help="also train on time-shuffled targets, which must score worse (costs two trainings)")
    p.add_argument("--no-cache", action="store_true", help="ignore and don't write the per-fold cache")
    p.add_argument("--columns", metavar="ROLE=COLUMN,...", help=COLUMNS_HELP)
    add_range_options(p)
    add_tracking_options(p, tensorboard=False)
    p.add_argument("--json", action="store_true")
    add_spec_options(p, title="backtest options", table=BACKTEST_FIELDS)
    add_spec_options(p)
    p.set_defaults(func=cmd_backtest)


def _listener(e: Event) -> None:
    eta = f"  eta {e.eta:.0f}s" if getattr(e, "eta", None) is not None else ""
    if isinstance(e, FoldsPlanned):
        progress(f"{e.folds} folds, {e.cached} cached, {e.models_to_train} model(s) to train")
    elif isinstance(e, Epoch):
        progress(f"fold {e.fold}/{e.folds} epoch {e.epoch}/{e.epochs}  loss {e.loss:.5g}  "
                 f"val_loss {e.val_loss:.5g}  {e.fraction:.0%}{eta}")
    elif isinstance(e, Fold):
        progress(f"fold {e.fold}/{e.folds} done{' (cached)' if e.cached else ''}: RMSE {e.rmse:.4g} vs "
                 f"persistence {e.persistence_rmse:.4g}, skill {skill_text(e.skill, 2, short=True)}  "
                 f"{e.fraction:.0%}{eta}")
    elif isinstance(e, Progress):
        progress(e.text)


def cmd_backtest(args: argparse.Namespace) -> int:
    spec = spec_from_args(args)
    bt = BacktestSpec(**overrides_from_args(args, BACKTEST_FIELDS))
    bt.check()
    progress(f"backtest {spec.preset or spec.model.arch} on {spec.data}: {bt.folds} folds of {bt.fold_size} candles, "
             f"{bt.window} window, retrain every {bt.retrain_every or 'never'}, {bt.method} forecasts")
    tracker = tracker_from_args(args)
    candles = load_data(spec.data, since=args.since, until=args.until).candles if args.since or args.until else None
    outcome = backtest_with_control(spec, bt, args.shuffled_control, candles=candles, progress=_listener,
                                    use_cache=not args.no_cache)
    result, findings = outcome.result, outcome.findings
    for note in result.notes:
        progress(f"note: {note}")
    out = result.to_dict()
    out["findings"] = [f.to_dict() for f in findings]
    if tracker is not None:
        tracker.log_backtest(spec, out)
    if args.json:
        print_json(out)
        return 0
    print(format_table(result.fold_rows(), ["fold", "test_from", "test_to", "windows", "retrained", "cached", "epochs",
                                            "rmse", "persistence_rmse", "skill", "mae", "mase", "persistence_mase",
                                            "direction", "decision"]))
    if result.folds:
        o = result.overall
        print(f"\nOverall ({o['windows']} test windows): RMSE {o['rmse']:.4g} vs persistence {o['persistence_rmse']:.4g}, "
              f"skill {skill_text(o['skill'], 2)}, MASE {o['model']['mase']:.3g} vs {o['persistence']['mase']:.3g}")
        h = result.by_horizon
        print("\nBy horizon step:")
        print(format_table([{"step": s, "model_rmse": m, "persistence_rmse": p, "skill": sk} for s, m, p, sk in
                            zip(h["step"], h["model_rmse"], h["persistence_rmse"], h["skill"])]))
        print("\nIntervals (coverage on the test folds):")
        for by_level in result.intervals.values():
            for c in by_level.values():
                print(f"  {c['text']} (mean width {c['mean_width']:.4g})")
        print(f"\nResiduals: {result.diagnostics.get('text', '')}")
    print("\nLook-ahead checks:")
    for f in findings:
        print(f"  [{f.level}] {f.message}")
    if result.stopped:
        print("\n(stopped before all folds finished)", file=sys.stderr)
    return 0
