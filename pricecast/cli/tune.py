"""``pricecast tune``: an Optuna search over setup settings, scored on validation RMSE / persistence.

Optuna is optional (``requirements-ml.txt``); without it the command exits with status 2 and says
what to install.
"""
from __future__ import annotations

import argparse
from typing import Any

from pricecast.catalogue import add_spec_options, field_named, format_value
from pricecast.cli.common import (
    CLEAN_HELP,
    COLUMNS_HELP,
    add_range_options,
    format_table,
    print_json,
    progress,
    spec_from_args,
)
from pricecast.cli.tracking import add_tracking_options, tracker_from_args
from pricecast.data.datasets import load_data
from pricecast.evaluation.metrics import skill_text
from pricecast.tuning import (
    DEFAULT_FIELDS,
    EXECUTORS,
    TuneSpec,
    parse_ranges,
    run_search,
    search_space,
    write_plots,
)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("tune", help="search setup settings with Optuna (TPE, median pruning), "
                                           "scored on validation RMSE / persistence")
    p.add_argument("--base", "--preset", dest="preset", default="default",
                   help="the preset the search starts from (see `pricecast presets`)")
    p.add_argument("--data", help="sample:AAPL, a CSV path or EXCHANGE:SYMBOL:TF (default: the preset's)")
    p.add_argument("--clean", action="store_true", help=CLEAN_HELP)
    p.add_argument("--columns", metavar="ROLE=COLUMN,...", help=COLUMNS_HELP)
    add_range_options(p)
    p.add_argument("--fields", default=",".join(DEFAULT_FIELDS),
                   help="settings to search, comma-separated (default: %(default)s)")
    p.add_argument("--range", action="append", default=[], metavar="NAME=LOW:HIGH",
                   help="a setting's range (LOW:HIGH, optionally :log or :linear) or choices (a|b|c); repeatable. "
                        "Default: the catalogue's limits, within 8x of the base value on a log scale where positive")
    p.add_argument("--trials", type=int, default=20, help="finished trials the study should hold (default 20)")
    p.add_argument("--timeout", type=float, default=None, metavar="S", help="start no trial after S seconds")
    p.add_argument("--storage", help="an Optuna storage URL (default: sqlite:///<home>/tuning/studies.db)")
    p.add_argument("--study", help="the study's name (default: derived from the setup and the ranges, so the "
                                   "same command resumes it)")
    p.add_argument("--executor", choices=EXECUTORS, default="local",
                   help="local: trials one after another here; ray: --workers Ray tasks sharing the study")
    p.add_argument("--workers", type=int, default=2, help="Ray tasks (with --executor ray)")
    p.add_argument("--no-prune", action="store_true", help="train every trial to the end")
    p.add_argument("--sampler-seed", type=int, default=0, help="the TPE sampler's seed")
    p.add_argument("--plots", metavar="DIR", help="write Optuna's figures (optimisation history, parameter "
                                                  "importances) as HTML files into DIR")
    p.add_argument("--json", action="store_true")
    add_tracking_options(p, tensorboard=False)
    add_spec_options(p)
    p.set_defaults(func=cmd_tune)


def _flag(name: str, value: Any) -> str:
    f = field_named(name)
    if f.kind == "bool":
        return f.flag if value else "--no-" + f.flag[2:]
    return f"{f.flag} {format_value(value)}"


def cmd_tune(args: argparse.Namespace) -> int:
    base = spec_from_args(args)
    space = search_space([f for f in args.fields.split(",") if f.strip()], base, parse_ranges(args.range))
    spec = TuneSpec(base=base, space=tuple(space), trials=args.trials, timeout_s=args.timeout, storage=args.storage,
                    study=args.study, executor=args.executor, workers=args.workers, prune=not args.no_prune,
                    seed=args.sampler_seed, data_range=(args.since, args.until))
    progress(f"study {spec.study_name()} in {spec.storage_url()}: {spec.trials} trials of {base.data}, "
             f"{base.train.epochs} epochs each")
    for d in space:
        progress(f"  {d.describe()}")
    progress(f"pruning: {spec.pruning()[1]}")
    loaded = load_data(base.data, since=args.since, until=args.until)
    for w in loaded.warnings:
        progress(f"warning: {w}")
    tracker = tracker_from_args(args)
    on_trial = None
    if tracker is not None:
        def on_trial(trial, run) -> None:
            tracker.log_run(run, tags={"study": spec.study_name(), "trial": str(trial.number)})
    result = run_search(spec, loaded.candles, on_trial=on_trial, on_event=progress)
    out = result.to_dict()
    if args.plots:
        out["plots"] = [str(p) for p in write_plots(spec, args.plots)]
    if result.best is not None:
        out["best"]["setup"] = {k: format_value(v) for k, v in result.best["params"].items()}
    if args.json:
        print_json(out)
        return 0
    for note in result.notes:
        progress(note)
    for path in out.get("plots", []):
        progress(f"figure: {path}")
    t = result.trials
    print(f"study {result.study} ({result.storage}): {t['ran']} trials, {t['complete']} complete, "
          f"{t['pruned']} pruned, {t['failed']} failed, {result.seconds:.0f}s")
    if result.best is None:
        print("no trial completed")
        return 0
    print(f"\nbest: trial {result.best['number']}, validation RMSE / persistence {result.best['value']:.4f}")
    print(format_table([{"setting": k, "value": format_value(v)} for k, v in result.best["params"].items()]))
    if result.test:
        test = result.test
        print(f"\nIts test part (read once, after the search): RMSE {test['rmse']:.4g}, persistence "
              f"{test['persistence_rmse']:.4g}, skill {skill_text(test['skill'], 2)}")
    flags = " ".join(_flag(k, v) for k, v in result.best["params"].items())
    print(f"\nrun: {result.best['run_dir']}\ntrain it again: pricecast train --preset {args.preset} "
          f"--data {base.data} {flags}")
    return 0
