"""``python -m pricecast data fetch|import``: the market-data commands.

:mod:`pricecast.cli.data` creates the ``data`` subparsers and calls :func:`register`; each command
stores its handler in ``func`` and the handler returns the exit code (0 fine, 2 bad input or no data,
with one line on stderr and no traceback). ``python -m pricecast.cli.market fetch ...`` works on its
own too.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from typing import Any

import pandas as pd

from pricecast import paths
from pricecast.cli.common import COLUMNS_HELP, EXIT_BAD_INPUT, progress
from pricecast.data.candles import CandleError, candle_step, summarize
from pricecast.data.columns import parse_columns
from pricecast.data.csv_import import read_candles_csv_info

# pricecast.data.market is imported inside the two commands: it brings requests/urllib3/ssl (about
# 70 ms of CPU, +15% on every `pricecast` command such as `data list`, which never needs them). ccxt
# itself loads later still, only when an exchange is asked for (2.8 s cold; docs/BENCHMARKS.md §4).


def _print_table(summary: dict[str, Any]) -> None:
    keys = ["source", "ref", "rows", "first", "last", "step", "gaps", "missing_candles",
            "fetched_rows", "from_cache", "cache_file", "stored_ref", "ticker", "layout"]
    width = max(len(k) for k in keys)
    for key in keys:
        if summary.get(key) is not None:
            print(f"{key:<{width}}  {summary[key]}")
    for gap in summary.get("gap_list", [])[:5]:
        print(f"{'gap':<{width}}  {gap['start']} .. {gap['end']} ({gap['missing']} missing)")
    for warning in summary.get("warnings", []):
        print(f"{'warning':<{width}}  {warning}")


def _emit(summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(summary, default=str))
    else:
        _print_table(summary)


def cmd_fetch(args: argparse.Namespace) -> int:
    from pricecast.data.market import load_market  # requests & co., see the top of the module

    try:
        data = load_market(
            args.ref, args.since, args.until, offline=args.offline,
            progress=None if args.quiet else progress,
        )
    except CandleError as exc:  # MarketDataError included
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    for warning in data.warnings:
        progress(f"warning: {warning}")
    _emit(data.summary(), args.json)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    try:
        frame, info = read_candles_csv_info(args.file, ticker=args.ticker, columns=parse_columns(args.columns))
        cache_path = stored_ref = None
        if args.store:
            # requests & co., see the top of the module
            from pricecast.data.market.cache import cache_file, write_cache
            from pricecast.data.market.refs import parse_market_ref

            name = args.store.strip()
            if not re.fullmatch(r"[A-Za-z0-9._-]+", name) or set(name) == {"."}:
                raise CandleError(f"--store: '{args.store}' is not a name; use letters, digits, '.', '-' and '_'")
            tf = (args.timeframe or _guess_timeframe(frame)).strip()
            try:
                ref = parse_market_ref(f"csv:{name}:{tf}")  # the spelling `train --data` will parse
            except CandleError as exc:
                raise CandleError(f"--timeframe: {exc}") from None
            cache_path = cache_file(ref, paths.cache_dir())
            write_cache(cache_path, frame)
            stored_ref = str(ref)
    except CandleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as exc:
        print(f"error: {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    summary = {
        "source": "csv",
        "file": str(args.file),
        **summarize(frame),
        "ticker": info.ticker,
        "layout": info.time_format,
        "columns": info.mapping,
        "cache_file": None if cache_path is None else str(cache_path),
        "stored_ref": stored_ref,
        "warnings": info.notes,
    }
    for note in info.notes:
        progress(f"note: {note}")
    _emit(summary, args.json)
    if stored_ref:
        progress(f"stored as {stored_ref}; train on it with: pricecast train --data {stored_ref}")
    return 0


def _guess_timeframe(frame: pd.DataFrame) -> str:
    if len(frame) < 2:
        return "1d"
    secs = int(candle_step(frame.index).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs % size == 0:
            return f"{secs // size}{unit}"
    return f"{secs}s"


def register(data_subparsers: Any) -> None:
    """Add ``fetch`` and ``import`` to the ``data`` subparsers; each sets ``func`` (returns exit code)."""
    fetch = data_subparsers.add_parser(
        "fetch", help="fetch candles from an exchange or Yahoo into the cache",
        description="Fetch candles, e.g. binance:BTC/USDT:1h, bithumb:ETH/KRW:1h, poloniex:USDT_BTC:5m, yahoo:TSLA:1d.",
    )
    fetch.add_argument("ref", help="SOURCE:SYMBOL[:TIMEFRAME], e.g. binance:BTC/USDT:5m or yahoo:TSLA:1d")
    fetch.add_argument("--since", help="first candle time (UTC), e.g. 2024-01-01")
    fetch.add_argument("--until", help="last candle time (UTC, inclusive)")
    fetch.add_argument("--offline", action="store_true", help="use only the cache; no network")
    fetch.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    fetch.add_argument("--quiet", action="store_true", help="no progress on stderr")
    fetch.set_defaults(func=cmd_fetch)

    imp = data_subparsers.add_parser(
        "import", help="read a candle CSV and summarise it",
        description="Read a CSV (Yahoo, investing.com, exchange exports, Kaggle, pricecast layouts).",
    )
    imp.add_argument("file", help="CSV file (may be gzipped)")
    imp.add_argument("--ticker", help="which instrument, for files with a Ticker column")
    imp.add_argument("--columns", metavar="ROLE=COLUMN,...", help=COLUMNS_HELP)
    imp.add_argument("--store", metavar="NAME", help="also save into the cache as csv:NAME:TIMEFRAME")
    imp.add_argument("--timeframe", help="timeframe name for --store (default: guessed from the spacing)")
    imp.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    imp.set_defaults(func=cmd_import)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pricecast data")
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
