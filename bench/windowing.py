"""Benchmark 1 — windowing: pricecast.prep.windows.make_windows (zero-copy views, plus the scaled batch
gather that training actually does) vs the seed tutorial's PastSampler (materialises every window).

    python bench/windowing.py            # 100k candles (both) + 1M candles (pricecast; seed if RAM allows)
    python bench/windowing.py --full     # also the full scaled epoch at 1M, more repeats

Every measurement runs in a fresh subprocess, so peak memory is that case's own: ``tracemalloc``
peak (NumPy reports its buffers to it) above the input frame, and the ru_maxrss growth.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np
from _common import PastSampler, median, mem_available_gb, save_results, synthetic_candles, table

N, K = 256, 16
FEATURES = ("open", "high", "low", "volume", "close")
BATCH = 256

CASES = {
    "seed": "seed PastSampler.transform (sliding)",
    "pc_windows": "pricecast make_windows (views)",
    "pc_ready": "pricecast windows + scaler + 1 scaled batch",
    "pc_epoch": "pricecast: every train batch scaled (1 epoch)",
}


def seed_bytes(rows: int) -> int:
    """What PastSampler allocates: the (m, N+K) int64 index plus the float64 copy of every window."""
    m = rows - (N + K) + 1
    return m * (N + K) * 8 + m * (N + K) * len(FEATURES) * 8


def run_case(case: str, rows: int) -> dict:
    """One measurement, in this (fresh) process."""
    from pricecast.prep.scaling import Scaler
    from pricecast.prep.windows import WindowSpec, make_windows

    if case == "pc_epoch":
        from pricecast.training.feeding import WindowBatches  # imports Keras; kept out of the timed part
    candles = synthetic_candles(rows)
    input_bytes = int(candles.memory_usage(deep=True).sum())
    spec = WindowSpec(n=N, k=K, features=FEATURES, target="close", split=(0.8, 0.1, 0.1))
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    tracemalloc.start()
    tracemalloc.reset_peak()
    base, _ = tracemalloc.get_traced_memory()
    t0 = time.perf_counter()
    checksum = 0.0
    if case == "seed":
        # The seed's layout: (rows, 1, features), then all windows copied out at once.
        A = candles[list(FEATURES)].to_numpy()[:, None, :]
        B, Y = PastSampler(N, K, sliding_window=True).transform(A)
        checksum = float(B[-1, -1, -1] + Y[-1, -1, -1])
        windows = B.shape[0]
    else:
        wset = make_windows(candles, spec)
        windows = sum(len(p) for p in wset.parts.values())
        checksum = float(wset.train.x[-1, -1, -1])
        if case in ("pc_ready", "pc_epoch"):
            scaler = Scaler.fit("minmax", wset.values, wset.target, spec.features, spec.target, wset.train.rows)
            if case == "pc_ready":
                idx = np.sort(np.random.default_rng(0).choice(len(wset.train), BATCH, replace=False))
                xb = scaler.transform_x(wset.train.x[idx])
                yb = scaler.transform_y(wset.train.y[idx], wset.train.history[idx])
                checksum = float(xb.sum() + yb.sum())
            else:
                batches = WindowBatches(wset.train, scaler, BATCH, shuffle=True, seed=0)
                for i in range(len(batches)):
                    xb, yb = batches[i]
                    checksum += float(xb[0, 0, 0])
    seconds = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"case": case, "rows": rows, "windows": int(windows), "seconds": seconds,
            "peak_extra_bytes": int(peak - base), "rss_growth_bytes": int(max(0, rss1 - rss0)),
            "input_bytes": input_bytes, "checksum": checksum}


def measure(case: str, rows: int, repeats: int) -> dict:
    runs = []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, __file__, "--case", case, "--rows", str(rows)],
                             capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        if out.returncode != 0:
            return {"case": case, "rows": rows, "error": out.stderr.strip().splitlines()[-1:] or ["failed"]}
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    first = runs[0]
    return {
        "case": case, "what": CASES[case], "rows": rows, "windows": first["windows"], "repeats": repeats,
        "seconds_median": median(r["seconds"] for r in runs), "seconds_all": [r["seconds"] for r in runs],
        "peak_extra_mb": median(r["peak_extra_bytes"] for r in runs) / 2**20,
        "rss_growth_mb": median(r["rss_growth_bytes"] for r in runs) / 2**20,
        "input_mb": first["input_bytes"] / 2**20,
        "peak_over_input": median(r["peak_extra_bytes"] for r in runs) / first["input_bytes"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="also the 1M full-epoch case; more repeats")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--seed-1m", choices=("auto", "yes", "no"), default="auto",
                    help="run the seed at 1M candles (needs ~13 GB): auto = only if RAM allows and --full")
    ap.add_argument("--case", help=argparse.SUPPRESS)
    ap.add_argument("--rows", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case, args.rows)))
        return

    repeats = args.repeats or (5 if args.full else 3)
    results, skipped = [], []
    plan = [(100_000, c) for c in ("seed", "pc_windows", "pc_ready", "pc_epoch")]
    plan += [(1_000_000, c) for c in ("pc_windows", "pc_ready")]
    if args.full:
        plan.append((1_000_000, "pc_epoch"))
    need_gb = seed_bytes(1_000_000) / 2**30
    avail = mem_available_gb()
    run_seed_1m = args.seed_1m == "yes" or (args.seed_1m == "auto" and args.full and avail > need_gb + 4)
    if run_seed_1m:
        plan.insert(4, (1_000_000, "seed"))
    else:
        skipped.append(f"seed at 1M candles: needs ~{need_gb:.1f} GB for the window copy and its index "
                       f"({avail:.1f} GB available now; run with --full --seed-1m yes to force)")
    for rows, case in plan:
        reps = repeats if not (case == "seed" and rows >= 1_000_000) else 1  # one 13 GB run is enough
        if case == "pc_epoch" and rows >= 1_000_000:
            reps = min(reps, 3)
        res = measure(case, rows, reps)
        results.append(res)
        print(f"  {rows:>9,} {case:<11} {res.get('seconds_median', float('nan')):.4f} s", file=sys.stderr)

    ratios = []
    for rows in sorted({r["rows"] for r in results}):
        by = {r["case"]: r for r in results if r["rows"] == rows and "error" not in r}
        if "seed" in by:
            for case in ("pc_windows", "pc_ready", "pc_epoch"):
                if case in by:
                    ratios.append({"rows": rows, "vs": case,
                                   "speedup": by["seed"]["seconds_median"] / by[case]["seconds_median"],
                                   "memory_ratio": by["seed"]["peak_extra_mb"] / max(by[case]["peak_extra_mb"], 1e-9)})
    print(table([{**r, "rows": f"{r['rows']:,}"} for r in results],
                ["rows", "case", "windows", "seconds_median", "peak_extra_mb", "rss_growth_mb", "input_mb", "peak_over_input"]))
    print()
    print(table([{**r, "rows": f"{r['rows']:,}"} for r in ratios], ["rows", "vs", "speedup", "memory_ratio"]))
    for s in skipped:
        print("skipped:", s)
    path = save_results("windowing", {"n": N, "k": K, "features": FEATURES, "batch": BATCH, "repeats": repeats,
                                      "results": results, "ratios": ratios, "skipped": skipped})
    print(f"\nwritten {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")


if __name__ == "__main__":
    main()
