"""Benchmark 9: ``pricecast tune`` with median pruning vs the same search without, and what MLflow
logging adds to a default training run.

    python bench/tuning.py [--trials 20] [--epochs 10] [--data sample:BTC-USD-1H] [--repeats 3] [--skip-search]

Search: the same study twice (same TPE seed, ranges, trials, epochs), each in a fresh
``PRICECAST_HOME``, one with the median pruner and one without: wall and CPU seconds, trials pruned,
best validation RMSE / persistence, and the best trial's test ratio (read after the search).

MLflow: ``pricecast train --preset default`` as a subprocess: plain, with ``--mlflow sqlite:///...``
(logged by a background process, waited for before the next run starts) and with ``--mlflow-wait``
(logged before the command ends); one store, created first and timed apart (a store's first use
builds its tables); interleaved repeat by repeat; medians of the wall time and of the pair ratios. Results in ``bench/results/tuning.json``.
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._common import median, save_results, table  # noqa: E402


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def search(args: argparse.Namespace) -> list[dict]:
    from pricecast.catalogue import with_overrides
    from pricecast.data.datasets import load_data
    from pricecast.presets import get_preset
    from pricecast.tuning import TuneSpec, parse_ranges, run_search, search_space

    base = with_overrides(get_preset("default").spec, {"data": args.data, "epochs": args.epochs, "patience": 0,
                                                       "persistence_floor": args.floor == "on"})
    space = tuple(search_space(["units", "dropout", "learning_rate"], base,
                               parse_ranges(["units=8:64", "dropout=0:0.5"])))
    candles = load_data(base.data).candles
    rows = []
    for prune in (True, False):
        with tempfile.TemporaryDirectory() as home:
            os.environ["PRICECAST_HOME"] = home
            spec = TuneSpec(base=base, space=space, trials=args.trials, prune=prune, seed=0)
            wall, cpu = time.perf_counter(), _cpu()
            result = run_search(spec, candles, on_event=lambda text: print("  " + text, flush=True))
            wall, cpu = time.perf_counter() - wall, _cpu() - cpu
        rows.append({"pruning": "median" if prune else "off", "trials": result.trials["ran"],
                     "pruned": result.trials["pruned"], "wall_s": wall, "cpu_s": cpu,
                     "best_val_ratio": result.best["value"] if result.best else None,
                     "best_test_ratio": (result.test or {}).get("ratio"),
                     "best_params": result.best["params"] if result.best else None})
        print(table(rows[-1:], ["pruning", "trials", "pruned", "wall_s", "cpu_s", "best_val_ratio", "best_test_ratio"]),
              flush=True)
    return rows


def mlflow_overhead(args: argparse.Namespace) -> dict:
    command = [sys.executable, "-m", "pricecast", "train", "--preset", "default", "--data", "sample:AAPL", "--json"]
    modes = {"plain": [], "background": ["--mlflow"], "wait": ["--mlflow", "--mlflow-wait"]}
    times: dict[str, list[float]] = {m: [] for m in modes}
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "PRICECAST_HOME": home}
        env.pop("PRICECAST_MLFLOW_URI", None)
        uri = f"sqlite:///{home}/mlflow.db"
        # a store's first use creates its tables (MLflow's migrations): timed once, apart from the runs
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", f"import mlflow; mlflow.MlflowClient({uri!r}).search_experiments()"],
                       env=env, check=True, capture_output=True)
        create_s = time.perf_counter() - started
        print(f"  creating the store: {create_s:.1f} s", flush=True)
        for i in range(args.repeats):
            for mode, extra in modes.items():
                extra = [x if x != "--mlflow" else f"--mlflow={uri}" for x in extra]
                logged_before = len(list(Path(home, "mlartifacts").glob("*/artifacts/run/spec.json")))
                started = time.perf_counter()
                proc = subprocess.run(command + extra, env=env, capture_output=True, text=True, cwd=ROOT)
                seconds = time.perf_counter() - started
                if proc.returncode != 0:
                    raise SystemExit(proc.stderr[-2000:])
                times[mode].append(seconds)
                print(f"  repeat {i + 1} {mode}: {seconds:.1f} s", flush=True)
                if mode == "background":  # let the logging process finish before the next run is timed
                    while len(list(Path(home, "mlartifacts").glob("*/artifacts/run/spec.json"))) <= logged_before:
                        time.sleep(0.5)
                    time.sleep(3)
    out: dict = {"create_store_s": create_s, "seconds": times,
                 "median_s": {m: median(v) for m, v in times.items()}}
    out["median_pair_ratio"] = {m: median(b / a for a, b in zip(times["plain"], times[m])) for m in ("background", "wait")}
    print(f"default run, medians: plain {out['median_s']['plain']:.1f} s, --mlflow {out['median_s']['background']:.1f} s "
          f"(ratio {out['median_pair_ratio']['background']:.3f}), --mlflow --mlflow-wait {out['median_s']['wait']:.1f} s "
          f"(ratio {out['median_pair_ratio']['wait']:.3f})", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="sample:BTC-USD-1H")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--floor", choices=("on", "off"), default="off",
                        help="the persistence floor in the search's trials (on: most end as persistence, ratio 1.0)")
    parser.add_argument("--skip-search", action="store_true")
    parser.add_argument("--skip-mlflow", action="store_true")
    args = parser.parse_args()
    payload: dict = {"args": vars(args)}
    if not args.skip_mlflow:
        payload["mlflow"] = mlflow_overhead(args)
    if not args.skip_search:
        payload["search"] = search(args)
    name = "tuning" if not (args.skip_search or args.skip_mlflow) else "tuning-mlflow" if args.skip_search else "tuning-search"
    print(f"results: {save_results(name, payload)}")


if __name__ == "__main__":
    main()
