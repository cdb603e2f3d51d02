"""``pricecast`` / ``python -m pricecast``: everything the dashboard does, without a browser.

Progress goes to stderr; results are a table on stdout, or with ``--json`` one JSON object.
Bad input exits with status 2 and a one-line message, never a traceback.

This module only builds the parser from each subcommand module's ``register(subparsers)`` and
dispatches; what the subcommands share lives in :mod:`pricecast.cli.common`.
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from pricecast.cli import backtest, data, experiment, report, runs, train, tune
from pricecast.cli.common import EXIT_BAD_INPUT, EXIT_INTERRUPTED
from pricecast.errors import PricecastError, describe

# In the order `pricecast --help` lists them.
SUBCOMMANDS = (data, train, runs, report, experiment, backtest, tune)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pricecast", description="Train and evaluate price forecasters.")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in SUBCOMMANDS:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe (`| head`) shows here, inside the handler below
        return code
    except BrokenPipeError:
        # The reader went away (`pricecast presets | head`): not an error worth a traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the flush at exit does not fail again
        return 0
    except (PricecastError, OSError) as exc:  # bad input, a disk problem; anything else is a bug and shows as one
        print(f"pricecast: {describe(exc)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("pricecast: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
