"""What every ``pricecast`` subcommand shares: exit codes, the table and JSON printers, progress on
stderr, the spec a command's options describe, and Ctrl-C as the Stop button.

Subcommand modules import from here and never from :mod:`pricecast.cli.main`, which only builds the
parser from their ``register`` functions and dispatches.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from pricecast.catalogue import overrides_from_args, with_overrides
from pricecast.data.datasets import DataRef
from pricecast.jsonable import jsonable
from pricecast.presets import get_preset, labelled
from pricecast.specs import RunSpec

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C
COLUMNS_HELP = ("a CSV's columns by role when its header is not recognised, e.g. time=Datum,open=Eroeffnung,high=Hoch,"
                "low=Tief,close=Schluss,volume=Volumen (kept in the data ref as #columns=...)")
CLEAN_HELP = ("cut the data to its longest stretch without gaps, duplicates, stale (frozen) prices, impossible "
              "candles or jumps; the same as adding #clean to the data ref")


def print_json(obj: Any) -> None:
    """One JSON object on stdout (NaN/inf as null, numpy numbers as plain ones)."""
    print(json.dumps(jsonable(obj), indent=2, default=str))


def format_table(rows: list[dict], columns: Sequence[str] | None = None) -> str:
    """A plain aligned text table (floats to 4 significant digits)."""
    if not rows:
        return "(nothing)"
    columns = list(columns or rows[0].keys())

    def cell(v) -> str:
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:.4g}" if v == v else "n/a"
        return str(v)

    cells = [[cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in cells]
    return "\n".join(lines)


def progress(msg: str) -> None:
    """A progress line on stderr, so that stdout stays the result."""
    print(msg, file=sys.stderr, flush=True)


def add_range_options(parser: argparse.ArgumentParser) -> None:
    """``--since``/``--until``: the data's date range, as on the Data page."""
    parser.add_argument("--since", help="first candle time used (UTC), e.g. 2015-01-01")
    parser.add_argument("--until", help="last candle time used (UTC, inclusive)")


def data_ref(ref: str, args: argparse.Namespace) -> str:
    """``ref`` with what ``--columns`` and ``--clean`` add, where the command has them."""
    parsed = DataRef.parse(ref).with_columns(getattr(args, "columns", None))
    return str(parsed.with_clean(True)) if getattr(args, "clean", False) else str(parsed)


def spec_from_args(args: argparse.Namespace) -> RunSpec:
    """The preset, with any explicitly given option laid over it ("custom (from NAME)" once one differs).

    Shared by ``train`` and ``backtest``; ``--clean`` counts where the command has it."""
    spec = with_overrides(get_preset(args.preset).spec, overrides_from_args(args))
    return labelled(spec.replace(data=data_ref(args.data or spec.data, args)))


@contextlib.contextmanager
def ctrl_c_stops(stop: threading.Event) -> Iterator[None]:
    """While training, the first Ctrl-C acts as the dashboard's Stop button (finish the batch, keep
    the best weights, save the run); a second one aborts at once."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set on the main thread
        return

    def handler(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        progress("stopping after this batch; the best weights will be saved (Ctrl-C again to abort)")

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
