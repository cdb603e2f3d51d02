"""``python -m pricecast``: everything the dashboard does, without a browser.

Progress goes to stderr; results are a table on stdout, or with ``--json`` one JSON object.
Bad input exits with status 2 and a one-line message, never a traceback.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from pricecast.catalogue import add_spec_options, overrides_from_args, with_overrides
from pricecast.data.candles import CandleError, summarize
from pricecast.errors import describe
from pricecast.evaluation.metrics import skill_text
from pricecast.specs import RunSpec

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C
CLEAN_HELP = ("cut the data to its longest stretch without gaps, duplicates, stale (frozen) prices, impossible "
              "candles or jumps; the same as adding #clean to the data ref")


def _print_json(obj) -> None:
    from pricecast.training.runs import _jsonable

    print(json.dumps(_jsonable(obj), indent=2, default=str))


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


def _progress(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---- data -------------------------------------------------------------------------------------
def cmd_data_list(args) -> int:
    from pricecast.data.samples import CATALOGUE

    rows = [{"ref": s.ref, "title": s.title, "timeframe": s.timeframe} for s in CATALOGUE.values()]
    if args.json:
        _print_json({"samples": rows})
    else:
        print(format_table(rows))
    return 0


def _with_clean(ref: str, clean: bool) -> str:
    from pricecast.data.quality import clean_ref

    return clean_ref(ref) if clean else ref


def cmd_data_show(args) -> int:
    from pricecast.data.datasets import load_data
    from pricecast.data.quality import quality_report

    ref = _with_clean(args.ref, args.clean)
    loaded = load_data(ref, since=args.since, until=args.until, offline=getattr(args, "offline", False))
    report = quality_report(loaded.candles)
    quality = report.to_dict()
    summary = {"ref": ref, **summarize(loaded.candles), "warnings": loaded.warnings,
               "cache_file": loaded.cache_file, "notes": loaded.candles.attrs.get("csv_notes", []),
               "quality": quality, "stale": quality["stale"]}
    if args.json:
        _print_json(summary)
        return 0
    for w in loaded.warnings:
        _progress(f"warning: {w}")
    for note in summary["notes"]:
        _progress(f"note: {note}")
    print(format_table([{k: v for k, v in summary.items()
                         if k not in ("gap_list", "warnings", "notes", "quality", "stale")}]))
    print()
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
              f"use it with --clean or the data ref {_with_clean(args.ref, True)}")
    print()
    print(loaded.candles.tail(5).reset_index().to_string(index=False))
    return 0


# ---- train ------------------------------------------------------------------------------------
def spec_from_args(args: argparse.Namespace) -> RunSpec:
    """The preset, with any explicitly given option laid over it ("custom (from NAME)" once one differs)."""
    from pricecast.presets import get_preset, labelled

    spec = with_overrides(get_preset(args.preset).spec, overrides_from_args(args))
    return labelled(spec.replace(data=_with_clean(args.data or spec.data, getattr(args, "clean", False))))


def cmd_train(args) -> int:
    from pricecast.training.pipeline import prepare, train

    spec = spec_from_args(args)
    _progress(f"training {spec.preset or spec.model.arch} on {spec.data} (N={spec.window.n}, K={spec.window.k}, "
              f"{spec.model.arch}, {spec.train.epochs} epochs)")

    def listener(event: dict) -> None:
        if event["type"] == "start":
            _progress(f"device: {event['device']}; windows train/val/test = {event['train_windows']}/"
                      f"{event['val_windows']}/{event['test_windows']}; {event['params']} parameters")
        elif event["type"] == "epoch":
            _progress(f"epoch {event['epoch']}/{event['epochs']}  loss {event['loss']:.6g}  "
                      f"val_loss {event['val_loss']:.6g}  {event['samples_per_s']:.0f} samples/s  "
                      f"eta {event['eta']:.0f}s")

    from pricecast.data.datasets import kind_of, load_data

    try:
        loaded = load_data(spec.data, offline=args.offline)
    except CandleError as exc:
        from pricecast.data.market import SourceUnavailableError

        if kind_of(spec.data) == "market" and isinstance(exc, SourceUnavailableError):
            raise CandleError(f"{exc}. To train offline, pick bundled data, e.g. --data sample:AAPL") from None
        raise
    for w in loaded.warnings:
        _progress(f"warning: {w}")
    prepared = prepare(spec, loaded.candles)  # too few examples: exit 2 with the reason, before TensorFlow
    _progress(prepared.counts.line())
    for w in prepared.counts.warnings:
        _progress(f"warning: {w}")
    stop = threading.Event()
    with _ctrl_c_stops(stop):
        run = train(spec, listener=listener, stop=stop, prepared=prepared,
                    runs_root=Path(args.runs_dir) if args.runs_dir else None)
    test = run.metrics["test"]
    for w in run.metrics.get("warnings", []):
        if w not in prepared.counts.warnings:
            _progress(f"warning: {w}")
    if args.json:
        _print_json({
            "run_dir": str(run.run_dir), "device": run.device, "epochs_run": run.metrics["epochs_run"],
            "best_epoch": run.metrics["best_epoch"], "best_val_loss": run.metrics["best_val_loss"],
            "persistence_floor": run.metrics["persistence_floor"],
            "train_seconds": run.metrics["train_seconds"], "params": run.metrics["params"],
            "sizes": run.metrics["sizes"],
            "test": {"rmse": test["rmse"], "persistence_rmse": test["persistence_rmse"], "skill": test["skill"],
                     "mae": test["model"]["mae"], "mape": test["model"]["mape"],
                     "direction": test["model"]["direction"],
                     "baselines": {b: {"rmse": test[b]["rmse"], "mae": test[b]["mae"], "mape": test[b]["mape"]}
                                   for b in ("persistence", "drift", "moving_average")}},
            "forecast": run.forecast.assign(time=run.forecast["time"].astype(str)).to_dict(orient="records"),
        })
    else:
        from pricecast.evaluation.metrics import metrics_table

        print(f"run: {run.run_dir}\ndevice: {run.device}; epochs run: {run.metrics['epochs_run']} "
              f"(best {run.metrics['best_epoch']})\n\nTest part, price units:")
        print(format_table(metrics_table(test)))
        print(f"\n{run.metrics['persistence_floor']['note']}")
        if test.get("skill_note"):
            print(f"\nThe test part has {test['skill_note']}.\n\nNext {spec.window.k} steps:")
        else:
            verdict = "beats" if test["skill"] > 0 else "does not beat"
            print(f"\nThe model {verdict} persistence (skill {skill_text(test['skill'], 2)}).\n\nNext {spec.window.k} steps:")
        print(run.forecast.to_string(index=False))
    if stop.is_set():
        _progress(f"pricecast: interrupted; the run was saved with the best weights in {run.run_dir}")
        return EXIT_INTERRUPTED
    return 0


@contextlib.contextmanager
def _ctrl_c_stops(stop: threading.Event):
    """While training, the first Ctrl-C acts as the dashboard's Stop button (finish the batch, keep
    the best weights, save the run); a second one aborts at once."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set on the main thread
        return

    def handler(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        _progress("stopping after this batch; the best weights will be saved (Ctrl-C again to abort)")

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def cmd_predict(args) -> int:
    from pricecast.data.datasets import load_data
    from pricecast.training.predicting import predict_with_run
    from pricecast.training.runs import load_run

    run = load_run(args.run_dir)
    ref = args.data or run.spec.data
    loaded = load_data(ref)
    result = predict_with_run(run, loaded.candles)
    if args.json:
        _print_json({"run_dir": str(run.run_dir), "data": ref,
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


def cmd_runs(args) -> int:
    from pricecast.training.runs import delete_run, list_runs

    root = Path(args.runs_dir) if args.runs_dir else None
    if args.delete:
        delete_run(args.delete, root)
        _progress(f"deleted {args.delete}")
        return 0
    rows = list_runs(root)
    if args.json:
        _print_json({"runs": rows})
    else:
        print(format_table(rows, ["run", "preset", "data", "n", "k", "params", "epochs", "best_val_loss",
                                  "test_rmse", "persistence_rmse", "skill"]))
    return 0


def cmd_presets(args) -> int:
    from pricecast.presets import PRESETS

    rows = [{"name": p.name, "title": p.title, "data": p.spec.data, "live_data": p.live_data or None,
             "n": p.spec.window.n, "k": p.spec.window.k} for p in PRESETS.values()]
    if args.json:
        _print_json({"presets": [{**r, "source": PRESETS[r["name"]].source, "spec": PRESETS[r["name"]].spec.to_dict()}
                                 for r in rows]})
    else:
        print(format_table(rows))
    return 0


def cmd_export(args) -> int:
    from pricecast.training.pipeline import prepare
    from pricecast.training.runs import export_windows_h5, load_run

    run = load_run(args.run_dir)
    prep = prepare(run.spec)
    path = export_windows_h5(prep.windows, run.scaler, args.out)
    _progress(f"wrote {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pricecast", description="Train and evaluate price forecasters.")
    sub = parser.add_subparsers(dest="command", required=True)

    data = sub.add_parser("data", help="list, show, fetch and import candles")
    dsub = data.add_subparsers(dest="data_command", required=True)
    p = dsub.add_parser("list", help="the bundled series")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_data_list)
    p = dsub.add_parser("show", help="summary of a series: sample:AAPL, a CSV path or EXCHANGE:SYMBOL:TF")
    p.add_argument("ref")
    p.add_argument("--since")
    p.add_argument("--until")
    p.add_argument("--offline", action="store_true", help="use cached candles only")
    p.add_argument("--clean", action="store_true", help=CLEAN_HELP)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_data_show)
    try:
        from pricecast.cli.market import register
    except ImportError:
        register = None
    if register is not None:
        register(dsub)

    t = sub.add_parser("train", help="train a model and report it against the baselines")
    t.add_argument("--preset", default="default", help="a preset name (see `pricecast presets`)")
    t.add_argument("--data", help="sample:AAPL, a CSV path or EXCHANGE:SYMBOL:TF (default: the preset's)")
    add_spec_options(t)
    t.add_argument("--offline", action="store_true", help="exchange/Yahoo data: use the cached candles only")
    t.add_argument("--clean", action="store_true", help=CLEAN_HELP)
    t.add_argument("--runs-dir", help="where run folders go (default ~/.pricecast/runs)")
    t.add_argument("--json", action="store_true")
    t.set_defaults(func=cmd_train)

    p = sub.add_parser("predict", help="forecast with a saved run on new or current data")
    p.add_argument("run_dir")
    p.add_argument("--data", help="data to forecast from (default: the run's own)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("runs", help="list saved runs")
    p.add_argument("--runs-dir")
    p.add_argument("--delete", metavar="RUN_DIR", help="delete one run folder")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_runs)

    p = sub.add_parser("presets", help="list presets")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_presets)

    p = sub.add_parser("export", help="write a run's windowed dataset to HDF5")
    p.add_argument("run_dir")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_export)

    _extensions: list[Callable] = []
    for module, attr in (("experiment", "register"), ("backtest", "register")):
        try:
            mod = __import__(f"pricecast.cli.{module}", fromlist=[attr])
        except ImportError:
            continue
        _extensions.append(getattr(mod, attr))
    for register_ext in _extensions:
        register_ext(sub)
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
    except (KeyError, ValueError, OSError) as exc:  # bad input, a disk problem: every PricecastError too
        print(f"pricecast: {describe(exc)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("pricecast: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
