"""``python -m pricecast experiment ...``: run, resume, list and show experiments.

Progress goes to stderr; the summary table (or with ``--json`` one JSON object) to stdout.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from pricecast.catalogue import add_spec_options, overrides_from_args, with_overrides
from pricecast.cli.common import format_table
from pricecast.cli.common import print_json as _print_json
from pricecast.cli.tracking import add_tracking_options, tracker_from_args
from pricecast.durations import duration
from pricecast.evaluation.metrics import skill_text
from pricecast.events import Done, Event, Listener, Trial, TrialsPlanned
from pricecast.experiments.candles import load_candles
from pricecast.experiments.presets import CUSTOM, build_experiment, experiment_presets, scale
from pricecast.experiments.spec import EXPERIMENT_FIELDS, ExperimentError, ExperimentSpec, parse_vary
from pricecast.experiments.stats import comparison_table
from pricecast.experiments.storage import delete_experiment, list_experiments, load_experiment, result_json
from pricecast.presets import get_preset
from pricecast.service.experiments import EXECUTORS, run_experiment
from pricecast.training.runs import load_run

# `--seed` is the first repeat's seed (the repeats set each trial's): the experiment's own
# (`ExperimentSpec.base_seed`), not a run's.
OWN: tuple[str, ...] = ("seed",)
# The experiment's own options that replace what a preset or file says (--size scales it first).
_REPLACED: tuple[str, ...] = ("name", "repeats", "base_seed", "folds")


def _err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _progress_printer(quiet: bool) -> Listener:
    def progress(event: Event) -> None:
        if quiet:
            return
        if isinstance(event, TrialsPlanned):
            if event.todo == 0:
                _err(f"experiment '{event.name}': all {event.total} trials already finished")
            else:
                resumed = f" ({event.done} already finished)" if event.done else ""
                _err(f"experiment '{event.name}': {event.todo} trials to run{resumed} with the "
                     f"{event.executor} executor, {event.workers} at a time -> {event.dir}")
        elif isinstance(event, Trial):
            r = event.record
            result = (f"test RMSE {r['test_rmse']:.5g}, skill {skill_text(r['skill'], 2, short=True)}" if r.get("status") == "ok"
                      else f"FAILED: {r.get('error', '')}")
            _err(f"[{event.done}/{event.total}] {r['label']} repeat {r['repeat']} (seed {r['seed']}): {result}"
                 f"  elapsed {duration(event.elapsed)}, ETA {duration(event.eta, missing='?')}")
        elif isinstance(event, Done) and event.stopped:
            _err("stopped; run the same command again to resume")
    return progress


def _print_result(exp, as_json: bool, extra: dict | None = None, trials: bool = False) -> None:
    if as_json:
        _print_json({**result_json(exp), **(extra or {})})
        return
    s = exp.spec
    print(f"{s.title or s.name}: {s.base.data}, N={s.base.window.n}, K={s.base.window.k}, "
          f"{s.base.train.epochs} epochs" + (f" x {s.folds} walk-forward folds" if s.folds else "")
          + f", {s.repeats} repeats, seeds {s.base_seed}..{s.base_seed + s.repeats - 1}"
          + (f", last {s.last_rows} rows" if s.last_rows else "") + f"; {exp.done}/{exp.total} trials done")
    print(f"folder: {exp.dir}\n")
    table = comparison_table(exp.summary())
    print(format_table(table.to_dict(orient="records")))
    print("\n" + exp.note())
    if trials:
        frame = exp.frame()
        print()
        print(format_table(frame.to_dict(orient="records"),
                           ["label", "repeat", "seed", "status", "test_rmse", "ratio", "skill", "decision", "decision_p",
                            "best_val_loss", "epochs_run", "train_seconds", "run_dir"]))
        print("(test_rmse, ratio, skill: each trial's network, also where its run falls back to 'no change')")


def _experiment_from_file(args, name: str | None, size: float) -> ExperimentSpec:
    try:
        data = json.loads(Path(args.spec).read_text())
    except ValueError as exc:  # a JSONDecodeError or bad text: bad input, named
        raise ExperimentError(f"{args.spec} is not valid JSON: {str(exc)[:100]}") from None
    if not isinstance(data, dict):
        raise ExperimentError(f"{args.spec} must hold a JSON object (name, base, variations, repeats ...)")
    try:
        exp = ExperimentSpec.from_dict({"name": name or Path(args.spec).stem, **data})
    except ExperimentError:
        raise
    except (TypeError, AttributeError, KeyError, ValueError) as exc:  # a field of the wrong shape in the file
        raise ExperimentError(f"{args.spec} does not describe an experiment ({type(exc).__name__}: "
                              f"{str(exc)[:100]}); `runs compare ... --repeat-experiment FILE.json` writes one") from None
    if args.data:
        exp = exp.replace(base=exp.base.replace(data=args.data))
    return scale(exp, size, len(load_candles(exp)) if size < 1.0 else None) if size != 1.0 else exp


def _experiment_from_args(args) -> ExperimentSpec:
    overrides = overrides_from_args(args)
    own = overrides_from_args(args, EXPERIMENT_FIELDS)  # --name, --repeats, --seed, --size, --since ...
    size, since, until = own.get("size", 1.0), own.get("since") or None, own.get("until") or None
    if not own.get("name"):
        own.pop("name", None)
    if args.spec:
        exp = _experiment_from_file(args, own.get("name"), size)
    elif args.preset or args.vary:
        axes = parse_vary(args.vary) if not args.preset else None
        exp = build_experiment(
            args.preset or CUSTOM, base=with_overrides(get_preset(args.base).spec, overrides), axes=axes,
            size=size, data=args.data, since=since, until=until,
            name=own.get("name") or (None if args.preset else f"{args.base}-" + "-".join(axes or ())),
            title=None if args.preset else f"{args.base}: " + ", ".join(args.vary))
    else:
        raise ExperimentError("say what to compare: --preset NAME (see `experiment presets`), --vary FIELD=V1,V2 "
                              "on a --base run preset, or --spec FILE.json; `experiment resume NAME` continues one")
    exp = exp.replace(**{name: value for name, value in own.items() if name in _REPLACED})
    if overrides:
        exp = exp.replace(base=with_overrides(exp.base, overrides))
    if since or until:
        exp = exp.replace(since=since or exp.since, until=until or exp.until)
    return exp


def _done_before(exp: ExperimentSpec, root) -> set[str]:
    try:
        return {r["key"] for r in load_experiment(exp.name, root).records if r.get("status") == "ok"}
    except FileNotFoundError:
        return set()


def _log_trials(result, before: set[str], args) -> None:
    """Each trial this invocation finished, logged to MLflow as a run tagged with the experiment
    (walk-forward trials keep no run folder and are not logged)."""
    tracker = tracker_from_args(args)
    if tracker is None:
        return
    for record in result.records:
        run_dir = result.run_dir(record)
        if record.get("status") != "ok" or record["key"] in before or run_dir is None or not run_dir.is_dir():
            continue
        tracker.log_run(load_run(run_dir), kind="experiment-trial",
                        tags={"experiment": result.spec.name, "variation": str(record.get("label", "")),
                              "repeat": str(record.get("repeat", ""))})


def _run(exp: ExperimentSpec, args) -> int:
    started = time.perf_counter()
    before = _done_before(exp, args.root)
    result = run_experiment(exp, executor=args.executor, workers=args.workers, address=args.address,
                            progress=_progress_printer(args.quiet), root=args.root, fuse=args.fuse)
    _log_trials(result, before, args)
    errors = int((result.frame()["status"] == "error").sum())
    _print_result(result, args.json, {"executor": args.executor, "wall_seconds": time.perf_counter() - started},
                  trials=getattr(args, "trials", False))
    if errors:
        _err(f"{errors} trial(s) failed; see the 'error' column (`experiment show {exp.name} --trials`). "
             "Run again to retry them.")
        return 1
    return 0


def cmd_run(args) -> int:
    return _run(_experiment_from_args(args), args)


def cmd_resume(args) -> int:
    return _run(load_experiment(args.name, args.root).spec, args)


def cmd_list(args) -> int:
    rows = list_experiments(args.root)
    if args.json:
        _print_json({"experiments": rows})
    else:
        print(format_table(rows, ["name", "data", "variations", "repeats", "epochs", "done", "total", "best",
                                  "best_test_rmse"]))
    return 0


def cmd_show(args) -> int:
    _print_result(load_experiment(args.name, args.root), args.json, trials=args.trials)
    return 0


def cmd_presets(args) -> int:
    rows = [{"name": p.name, "title": p.title, "variations": len(p.spec.variations), "repeats": p.spec.repeats,
             "epochs": p.spec.base.train.epochs, "data": p.spec.base.data} for p in experiment_presets().values()]
    if args.json:
        _print_json({"presets": [{**r, "source": experiment_presets()[r["name"]].source,
                                  "variation_ids": [v.id for v in experiment_presets()[r["name"]].spec.variations]}
                                 for r in rows]})
    else:
        print(format_table(rows))
    return 0


def cmd_delete(args) -> int:
    delete_experiment(args.name, args.root)
    _err(f"deleted experiment {args.name}")
    return 0


def _executor_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--executor", choices=EXECUTORS, default="local",
                   help="local: a process pool on this machine (1 worker trains in this process); serial: this "
                        "process; ray: a Ray cluster ($RAY_ADDRESS or --address, else a local Ray instance)")
    p.add_argument("--workers", type=int, help="trials at a time (default: as the experiment was last run with --workers, "
                                                 "else one per core, 1 with a GPU)")
    p.add_argument("--address", help="Ray cluster address, e.g. ray://head:10001 (default: $RAY_ADDRESS)")
    p.add_argument("--no-fuse", dest="fuse", action="store_false",
                   help="train every trial on its own (by default trials that differ only in seed or L1/L2 train "
                        "together as one computation in JAX workers, when JAX is installed)")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.add_argument("--json", action="store_true")


def register(subparsers) -> None:
    """Add the ``experiment`` command to the top-level ``python -m pricecast`` parser."""
    e = subparsers.add_parser("experiment", help="compare settings over repeated runs (locally or on Ray)")
    esub = e.add_subparsers(dest="experiment_command", required=True)

    r = esub.add_parser("run", help="run (or resume) an experiment",
                        description="Each setting trains REPEATS times with seeds SEED, SEED+1, ...; finished trials "
                                    "are kept, so running the same experiment again resumes it.")
    r.add_argument("--preset", help="an experiment preset: " + ", ".join(experiment_presets()))
    r.add_argument("--vary", action="append", metavar="FIELD=V1,V2",
                   help="a setting to compare, e.g. l2=0,0.01 or arch=lstm,gru or units=32,64/64 (repeatable; "
                        "all combinations run)")
    r.add_argument("--base", default="default",
                   help="run preset the --vary settings change, and the setup --preset all-architectures runs on "
                        "(default: default)")
    r.add_argument("--spec", help="an experiment definition (experiment.json) to run")
    r.add_argument("--data", help="data to use instead of the preset's (sample:AAPL, a CSV path, EXCHANGE:SYMBOL:TF)")
    r.add_argument("--root", help="experiments folder (default ~/.pricecast/experiments)")
    r.add_argument("--trials", action="store_true", help="also print every trial")
    _executor_options(r)
    add_spec_options(r, title="experiment options", table=EXPERIMENT_FIELDS)
    add_spec_options(r, own=OWN, title="setup options (override the base of every trial, after --size; "
                                      "the variations are laid over them)")
    add_tracking_options(r, tensorboard=False)
    r.set_defaults(func=cmd_run)

    p = esub.add_parser("resume", help="finish an interrupted experiment")
    p.add_argument("name")
    p.add_argument("--root")
    p.add_argument("--trials", action="store_true")
    _executor_options(p)
    add_tracking_options(p, tensorboard=False)
    p.set_defaults(func=cmd_resume)

    p = esub.add_parser("list", help="experiments on this machine")
    p.add_argument("--root")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)

    p = esub.add_parser("show", help="an experiment's summary table")
    p.add_argument("name")
    p.add_argument("--root")
    p.add_argument("--trials", action="store_true", help="also print every trial")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_show)

    p = esub.add_parser("presets", help="the experiment presets")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_presets)

    p = esub.add_parser("delete", help="delete an experiment folder and its trials")
    p.add_argument("name")
    p.add_argument("--root")
    p.set_defaults(func=cmd_delete)

