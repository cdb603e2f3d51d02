"""``pricecast report``: a run (or an experiment) as one HTML file that opens offline."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pricecast.cli.common import progress
from pricecast.errors import PricecastError
from pricecast.events import Event, Fold
from pricecast.paths import runs_dir
from pricecast.report.document import DEFAULT_BASE_URL, experiment_report, run_report, write_report


def run_folder(text: str) -> Path:
    """A run folder given as a path or as its id (the name `pricecast runs` lists)."""
    path = Path(text).expanduser()
    if not path.exists() and Path(text).name == text and (runs_dir() / text).is_dir():
        return runs_dir() / text
    return path


def cmd_report(args: argparse.Namespace) -> int:
    if bool(args.run_dir) == bool(args.experiment):
        raise PricecastError("give a run folder or --experiment NAME (one of them)")
    if args.experiment:
        text = experiment_report(args.experiment, args.root)
        out = args.out or f"{Path(args.experiment).name}-report.html"
    else:
        args.run_dir = run_folder(args.run_dir)
        text = run_report(args.run_dir, base_url=args.base_url, backtest=_backtest(args) if args.backtest else None)
        out = args.out or f"{Path(args.run_dir).name}-report.html"
    path = write_report(text, out)
    progress(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


def _backtest(args: argparse.Namespace):
    """The walk-forward backtest of the run's setup (cached folds are reused, so a second report is quick)."""
    from pricecast.backtest.spec import BacktestSpec
    from pricecast.backtest.walkforward import run_backtest
    from pricecast.training.runs import load_run

    spec = load_run(args.run_dir).spec
    bt = BacktestSpec(folds=args.folds, fold_size=args.fold_size, epochs=args.epochs)
    progress(f"backtest: {bt.folds} folds of {bt.fold_size} candles (retrains the run's setup per fold) ...")

    def listener(event: Event) -> None:
        if isinstance(event, Fold):
            progress(f"fold {event.fold}/{event.folds} done{' (cached)' if event.cached else ''}")

    return run_backtest(spec, bt, progress=listener)


def register(subparsers: Any) -> None:
    """Add ``report`` to the top-level subparsers."""
    p = subparsers.add_parser("report", help="a run or an experiment as one HTML file that opens offline")
    p.add_argument("run_dir", nargs="?", help="a run folder or its id (see `pricecast runs`)")
    p.add_argument("--experiment", metavar="NAME", help="report on an experiment instead of a run")
    p.add_argument("--root", help="the experiments folder (default ~/.pricecast/experiments)")
    p.add_argument("--out", help="the HTML file to write (default: RUN-report.html here)")
    p.add_argument("--base-url", default=DEFAULT_BASE_URL,
                   help=f"the dashboard's address for the report's links (default {DEFAULT_BASE_URL})")
    p.add_argument("--backtest", action="store_true",
                   help="add a walk-forward backtest of the run's setup: folds, intervals with measured coverage")
    p.add_argument("--folds", type=int, default=4, help="with --backtest: test folds at the end of the series")
    p.add_argument("--fold-size", type=int, default=120, help="with --backtest: candles per test fold")
    p.add_argument("--epochs", type=int, default=0, help="with --backtest: epochs per fold (0 = the run's)")
    p.set_defaults(func=cmd_report)
