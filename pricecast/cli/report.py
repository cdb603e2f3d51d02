"""``pricecast report``: a run (or an experiment) as one HTML file that opens offline."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pricecast.cli.common import progress
from pricecast.report.document import DEFAULT_BASE_URL, experiment_report, run_report, write_report


def cmd_report(args: argparse.Namespace) -> int:
    if bool(args.run_dir) == bool(args.experiment):
        raise ValueError("give a run folder or --experiment NAME (one of them)")
    if args.experiment:
        text = experiment_report(args.experiment, args.root)
        out = args.out or f"{Path(args.experiment).name}-report.html"
    else:
        text = run_report(args.run_dir, base_url=args.base_url)
        out = args.out or f"{Path(args.run_dir).name}-report.html"
    path = write_report(text, out)
    progress(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


def register(subparsers: Any) -> None:
    """Add ``report`` to the top-level subparsers."""
    p = subparsers.add_parser("report", help="a run or an experiment as one HTML file that opens offline")
    p.add_argument("run_dir", nargs="?", help="a run folder (see `pricecast runs`)")
    p.add_argument("--experiment", metavar="NAME", help="report on an experiment instead of a run")
    p.add_argument("--root", help="the experiments folder (default ~/.pricecast/experiments)")
    p.add_argument("--out", help="the HTML file to write (default: RUN-report.html here)")
    p.add_argument("--base-url", default=DEFAULT_BASE_URL,
                   help=f"the dashboard's address for the report's links (default {DEFAULT_BASE_URL})")
    p.set_defaults(func=cmd_report)
