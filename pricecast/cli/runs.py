"""``pricecast runs|presets|export``: the saved runs (list, delete, export their windows to HDF5) and the
presets a run can start from."""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from pricecast.cli.common import format_table, print_json, progress
from pricecast.cli.report import run_folder
from pricecast.compare import CompareError, compare_runs, repeat_experiment
from pricecast.errors import PricecastError
from pricecast.presets import PRESETS
from pricecast.report.script import write_script
from pricecast.training.pipeline import prepare
from pricecast.training.runs import delete_run, export_windows_h5, load_run, scan_runs

COMPARE_COLUMNS = ["run", "label", "data", "network_rmse", "network_skill", "decision", "decision_p", "used_rmse",
                   "used_skill", "persistence_rmse", "test_forecasts"]
# test_rmse and skill are each run's network's own; decision: the forecast the run uses
RUN_COLUMNS = ["run", "label", "data", "n", "k", "params", "epochs", "best_val_loss", "test_rmse",
               "persistence_rmse", "skill", "decision", "decision_p"]


def cmd_runs(args: argparse.Namespace) -> int:
    root = Path(args.runs_dir) if args.runs_dir else None
    if args.action:
        return _compare(args.action, root, args.json, args.repeat_experiment)
    if args.delete:
        delete_run(args.delete, root)
        progress(f"deleted {args.delete}")
        return 0
    listing = scan_runs(root)
    if args.json:
        print_json({"runs": listing.rows, "unreadable": listing.unreadable, "interrupted": listing.interrupted})
    else:
        print(format_table(listing.rows, RUN_COLUMNS))
    for note in listing.notes:
        progress(note)
    return 0


def _compare(words: list[str], root: Path | None, as_json: bool, experiment_file: str | None = None) -> int:
    """``runs compare RUN_A RUN_B [...]``: the Runs page's what-if comparison (``--repeat-experiment``
    writes its "Repeat 3x" experiment, for ``experiment run --spec``)."""
    if words[0] != "compare":
        raise CompareError(f"unknown runs action '{words[0]}'; say `pricecast runs compare RUN_A RUN_B`")
    comparison = compare_runs(words[1:], root)
    if experiment_file:
        exp = repeat_experiment(comparison)
        Path(experiment_file).write_text(json.dumps(exp.to_dict(), indent=2))
        progress(f"wrote {experiment_file}: {exp.title}, {len(exp.variations) * exp.repeats} trainings; "
                 f"run it with `pricecast experiment run --spec {experiment_file}`")
    if as_json:
        print_json(comparison.to_dict())
        return 0
    if comparison.differing:
        print("Settings that differ:")
        print(format_table(comparison.differing_frame().reset_index().to_dict("records")))
    else:
        print("No setting differs (another seed or another training of one setup).")
    print()
    print(format_table(comparison.scores_frame().to_dict("records"), COMPARE_COLUMNS))
    print()
    for line in comparison.sentences + comparison.notes:
        print(line)
    return 0


def cmd_presets(args: argparse.Namespace) -> int:
    rows = [{"name": p.name, "title": p.title, "data": p.spec.data, "live_data": p.live_data or None,
             "n": p.spec.window.n, "k": p.spec.window.k} for p in PRESETS.values()]
    if args.json:
        print_json({"presets": [{**r, "source": PRESETS[r["name"]].source, "spec": PRESETS[r["name"]].spec.to_dict()}
                                for r in rows]})
    else:
        print(format_table(rows))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    if not args.out and not args.script:
        raise PricecastError("say what to write: --out windows.h5 (the windows) and/or --script train_again.py")
    if args.script:
        script, csv = write_script(run_folder(args.run_dir), args.script, args.data_out)
        progress(f"wrote {script}" + (f" and its data {csv}" if csv else " (the run's data could not be loaded "
                                      "here: pass the candles CSV with --data when you run it)"))
    if not args.out:
        return 0
    run = load_run(args.run_dir)
    prep = prepare(run.spec)
    path = export_windows_h5(prep.windows, run.scaler, args.out)
    progress(f"wrote {path}")
    return 0


def register(subparsers: Any) -> None:
    """Add ``runs``, ``presets`` and ``export`` to the top-level subparsers."""
    p = subparsers.add_parser("runs", help="list saved runs; `runs compare RUN_A RUN_B` compares them",
                              description="List the saved runs, or compare two or more: `runs compare RUN_A RUN_B "
                                          "[...]` shows the settings that differ, the networks' and the decisions' "
                                          "test scores, and a paired test on the test forecasts they share.")
    p.add_argument("action", nargs="*", metavar="compare RUN",
                   help="`compare` and two or more run folders (or names, as listed)")
    p.add_argument("--repeat-experiment", metavar="FILE.json",
                   help="with compare: also write an experiment that trains each compared setup 3 times (new seeds), "
                        "as the Runs page's 'Repeat both 3x'; run it with `experiment run --spec FILE.json`")
    p.add_argument("--runs-dir")
    p.add_argument("--delete", metavar="RUN_DIR", help="delete one run folder")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_runs)

    p = subparsers.add_parser("presets", help="list presets")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_presets)

    p = subparsers.add_parser("export", help="write a run's windowed dataset to HDF5, or a script that trains it again")
    p.add_argument("run_dir")
    p.add_argument("--out", help="the HDF5 file for the windows")
    p.add_argument("--script", help="a standalone Python script (numpy, pandas, keras) that trains the run again")
    p.add_argument("--data-out", help="with --script: where the run's candles go (default: beside the script)")
    p.set_defaults(func=cmd_export)
