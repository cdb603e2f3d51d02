"""``pricecast data list|show`` (and, from :mod:`pricecast.cli.market`, ``data fetch|import``).

None of these load TensorFlow/Keras: they only read candles.
"""
from __future__ import annotations

import argparse
from typing import Any

from pricecast.catalogue import add_spec_options, overrides_from_args, with_overrides
from pricecast.cli import market
from pricecast.cli.common import CLEAN_HELP, COLUMNS_HELP, data_ref, format_table, print_json, progress
from pricecast.data.candles import summarize
from pricecast.data.datasets import DataRef, display_name, load_data
from pricecast.data.quality import quality_report
from pricecast.data.samples import CATALOGUE
from pricecast.data.synthetic import parse_ref
from pricecast.evaluation import predictability
from pricecast.presets import get_preset

# the window settings `data show` judges predictability for (the default preset's where not given)
WINDOW_OPTIONS = ("n", "k", "target", "split")


def cmd_data_list(args: argparse.Namespace) -> int:
    rows = [{"ref": s.ref, "title": s.title, "timeframe": s.timeframe} for s in CATALOGUE.values()]
    if args.json:
        print_json({"samples": rows})
    else:
        print(format_table(rows))
    return 0


def _judge(candles, window, name: str) -> tuple[predictability.Predictability | None, dict]:
    """The predictability check, or why it cannot judge (a JSON-ready dict either way)."""
    try:
        check = predictability.check_candles(candles, window.target, window.n, window.k, window.split, name=name)
    except predictability.PredictabilityError as exc:
        return None, {"error": str(exc)}
    return check, check.to_dict()


def _print_quality(report, quality: dict, ref: str) -> None:
    lines = report.lines()
    print("Data quality: " + ("no defects found." if not lines else ""))
    for line in lines:
        print(f"  - {line}")
    for title, rows in (("Gaps", quality["gaps"]), ("Stale stretches (price frozen)", quality["stale"]),
                        ("Duplicates", quality["duplicates"]), ("Jumps", quality["jumps"])):
        if rows:
            print(f"\n{title}:")
            print(format_table(rows))
    if quality["bad_ohlc"]:
        print("\nImpossible candles (open/close outside low..high, or high < low): " + ", ".join(quality["bad_ohlc"]))
    clean = quality["longest_clean"]
    if lines and clean:
        print(f"\nLongest clean stretch: {clean['start']} .. {clean['end']} ({clean['candles']:,} candles); "
              f"use it with --clean or the data ref {DataRef.parse(ref).with_clean(True)}")


def cmd_data_show(args: argparse.Namespace) -> int:
    ref = data_ref(args.ref, args)
    loaded = load_data(ref, since=args.since, until=args.until, offline=getattr(args, "offline", False))
    report = quality_report(loaded.candles)
    quality = report.to_dict()
    window = with_overrides(get_preset("default").spec, overrides_from_args(args)).window
    check, judged = _judge(loaded.candles, window, display_name(ref))
    parsed = DataRef.parse(ref)
    recipe = parse_ref(parsed.body) if parsed.kind == "synthetic" else None
    summary = {"ref": ref, **summarize(loaded.candles), "warnings": loaded.warnings,
               "cache_file": loaded.cache_file, "notes": loaded.candles.attrs.get("csv_notes", []),
               "quality": quality, "stale": quality["stale"], "predictability": judged}
    if recipe is not None:
        summary["synthetic"] = {"recipe": recipe.lines(), "knobs": recipe.values}
    if args.json:
        print_json(summary)
        return 0
    for w in loaded.warnings:
        progress(f"warning: {w}")
    for note in summary["notes"]:
        progress(f"note: {note}")
    if recipe is not None:
        print("Recipe: " + "; ".join(recipe.lines()) + ".\n")
    print(format_table([{k: v for k, v in summary.items()
                         if k not in ("gap_list", "warnings", "notes", "quality", "stale", "predictability",
                                      "synthetic")}]))
    print()
    _print_quality(report, quality, args.ref)
    print(f"\nPredictability of {window.target} for N={window.n}, K={window.k} (training part only):")
    if check is None:
        print(f"  cannot judge: {judged['error']}")
    else:
        print(f"  {check.sentence}")
        for line in predictability.evidence_lines(check):
            print(f"  - {line}")
    print()
    print(loaded.candles.tail(5).reset_index().to_string(index=False))
    return 0


def register(subparsers: Any) -> None:
    """Add ``data`` with its four commands to the top-level subparsers."""
    data = subparsers.add_parser("data", help="list, show, fetch and import candles")
    dsub = data.add_subparsers(dest="data_command", required=True)
    p = dsub.add_parser("list", help="the bundled series")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_data_list)
    p = dsub.add_parser("show", help="summary, data quality and predictability of a series: sample:AAPL, a CSV "
                                     "path, EXCHANGE:SYMBOL:TF or synthetic:pattern?noise=0.5")
    p.add_argument("ref")
    p.add_argument("--since")
    p.add_argument("--until")
    p.add_argument("--offline", action="store_true", help="use cached candles only")
    p.add_argument("--clean", action="store_true", help=CLEAN_HELP)
    p.add_argument("--columns", metavar="ROLE=COLUMN,...", help=COLUMNS_HELP)
    p.add_argument("--json", action="store_true")
    add_spec_options(p, title="predictability check (the default preset's window where not given)",
                     only=WINDOW_OPTIONS)
    p.set_defaults(func=cmd_data_show)
    market.register(dsub)
