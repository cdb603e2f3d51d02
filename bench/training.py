"""Benchmark 2 — training throughput: pricecast's ``train`` (live-history callbacks, data pipeline,
evaluation and run folder) vs a bare ``model.fit`` of the same model, batch size and data; plus the
TrainSpec speed options.

    python bench/training.py             # default preset (AAPL, BTC) + the seed's LSTM(50) N=256 K=16
    python bench/training.py --full      # more epochs and repeats, every mode on every setup

Everything runs in one process, modes interleaved repeat by repeat, so each ratio is measured back to
back under the same load. pricecast turns on TensorFlow's deterministic ops (``set_seed``); that flag
is process-wide, so the bare fits here run with it too. A subprocess measures what it costs.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import logging
import warnings

warnings.filterwarnings("ignore", category=UserWarning)  # Keras' notes; pricecast's own go in the table
logging.getLogger("tensorflow").setLevel(logging.ERROR)  # retracing notices
from _common import load_btc, median, save_results, table  # noqa: E402

SETUPS = ("default-aapl", "default-btc", "seed-lstm-aapl")
BASE_MODES = ("bare", "bare_noval", "bare_cb", "pricecast")
OPTION_MODES = ("opt_batches", "opt_prefetch", "opt_xla", "opt_batch4x_lr", "bare_tfdata")


def make_spec(setup: str):
    """The RunSpec and candles of a setup, all on real data."""
    from pricecast.data.datasets import load_data
    from pricecast.prep.windows import WindowSpec
    from pricecast.presets import get_preset
    from pricecast.specs import TrainSpec

    if setup.startswith("default"):
        spec = get_preset("default").spec
        batch = spec.train.batch_size
    else:
        # The seed's LSTM(50)/Dropout(0.8)/Dense(16)+LeakyReLU, N=256, K=16, MinMax, batch 8, on the
        # bundled AAPL closes (3270 rows). Sliding windows (stride 1): the seed's own non-overlapping
        # windows leave 9 training windows of 3270 rows, too few to time.
        spec = get_preset("seed-lstm").spec
        spec = spec.replace(data="sample:AAPL", window=WindowSpec(n=256, k=16, stride=1, features=("close",),
                                                                  split=(0.8, 0.1, 0.1)))
        batch = 8
    candles = load_btc() if setup.endswith("btc") else load_data("sample:AAPL").candles
    if candles is None:
        return None, None
    return spec.replace(train=TrainSpec(epochs=spec.train.epochs, batch_size=batch, patience=0, seed=42)), candles


class Clock:
    """Accumulates wall time of wrapped pricecast functions, to say where ``train`` spends it."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def wrap(self, module, name: str, label: str) -> None:
        inner = getattr(module, name)

        def timed(*a, **kw):
            t0 = time.perf_counter()
            try:
                return inner(*a, **kw)
            finally:
                self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - t0

        setattr(module, name, timed)


FIT_CLOCK: dict[str, float] = {}


def clock_fit() -> None:
    """Time every ``Model.fit`` the same way (wall and process CPU), bare or inside ``train``. CPU time
    is the steadier figure when other jobs share the cores: it counts the work, not the waiting."""
    import keras

    inner = keras.Model.fit
    if getattr(inner, "_bench_clock", False):
        return

    def fit(self, *a, **kw):
        w0, c0 = time.perf_counter(), time.process_time()
        try:
            return inner(self, *a, **kw)
        finally:
            FIT_CLOCK.update(wall=time.perf_counter() - w0, cpu=time.process_time() - c0)

    fit._bench_clock = True
    keras.Model.fit = fit


def run_mode(mode: str, spec, candles, epochs: int, tmp: Path) -> dict:
    """One timed training; returns seconds (fit only for bare modes; fit phase + total for pricecast)."""
    import keras
    import numpy as np

    from pricecast.models.builders import build_model
    from pricecast.training import feeding, fitting, runs
    from pricecast.training import pipeline as training
    from pricecast.training.callbacks import BestWeights, LiveHistory, StopOnRequest
    from pricecast.training.feeding import scaled_arrays

    spec = spec.replace(train=spec.train.__class__(**{**spec.train.to_dict(), "epochs": epochs}))
    if mode == "pricecast" or mode.startswith("opt_"):
        train_opts = {"opt_batches": {"pipeline": "batches"}, "opt_prefetch": {"pipeline": "prefetch", "workers": 2},
                      "opt_xla": {"jit_compile": True}, "opt_mixed": {"mixed_precision": True},
                      "opt_batch4x_lr": {"batch_size": spec.train.batch_size * 4, "base_batch_size": spec.train.batch_size},
                      }.get(mode, {})
        spec = spec.replace(train=spec.train.__class__(**{**spec.train.to_dict(), **train_opts}))
        clock = Clock()
        originals = [(training, "prepare"), (fitting, "build"), (feeding, "scaled_arrays"),
                     (training, "predict"), (training, "scored"), (training, "prediction_rows"),
                     (training, "forecast_next"), (runs, "save_run")]
        saved = [(m, n, getattr(m, n)) for m, n in originals]
        for m, n in originals:
            clock.wrap(m, n, n)
        try:
            t0, c0 = time.perf_counter(), time.process_time()
            run = training.train(spec, candles=candles, runs_root=tmp)
            total, total_cpu = time.perf_counter() - t0, time.process_time() - c0
        finally:
            for m, n, f in saved:
                setattr(m, n, f)
        windows = run.metrics["sizes"]["train"]["windows"]
        return {"mode": mode, "windows": windows, "epochs": len(run.history), "fit_seconds": FIT_CLOCK["wall"],
                "fit_cpu": FIT_CLOCK["cpu"], "total_seconds": total, "total_cpu": total_cpu, "parts": clock.seconds,
                "val_loss": float(run.history["val_loss"].iloc[-1]),
                "warnings": run.metrics.get("warnings", []), "jit": bool(run.model.jit_compile)}

    prep = training.prepare(spec, candles)
    x, y = scaled_arrays(prep.windows.train, prep.scaler)
    xv, yv = scaled_arrays(prep.windows.val, prep.scaler)
    model = build_model(spec.model, spec.window.n, spec.window.k, spec.window.features, spec.window.target)
    if mode == "bare_jit":
        model.jit_compile = True
    callbacks = []
    if mode == "bare_cb":
        callbacks = [LiveHistory(lambda e: None, epochs, len(x)), StopOnRequest(__import__("threading").Event()),
                     BestWeights()]
    kwargs = {"validation_data": None if mode == "bare_noval" else (xv, yv)}
    if mode == "bare_tfdata":
        import tensorflow as tf  # benchmark only: pricecast keeps tf.* out of the library

        ds = (tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=spec.train.seed)
              .batch(spec.train.batch_size).prefetch(tf.data.AUTOTUNE))
        fitted = model.fit(ds, epochs=epochs, verbose=0, **kwargs)
    else:
        fitted = model.fit(x, y, batch_size=spec.train.batch_size, epochs=epochs, shuffle=True, verbose=0,
                           callbacks=callbacks, **kwargs)
    val = fitted.history.get("val_loss", [np.nan])[-1]
    seconds, cpu = FIT_CLOCK["wall"], FIT_CLOCK["cpu"]
    return {"mode": mode, "windows": len(x), "epochs": epochs, "fit_seconds": seconds, "total_seconds": seconds,
            "fit_cpu": cpu, "total_cpu": cpu,
            "val_loss": float(val), "jit": bool(model.jit_compile), "backend": keras.backend.backend()}


def free_process(setup: str, epochs: int, repeats: int) -> dict:
    """In this (fresh) process, without deterministic ops: bare fit, with and without XLA."""
    spec, candles = make_spec(setup)
    import keras

    keras.utils.set_random_seed(42)
    clock_fit()
    out: dict[str, list[float]] = {"bare_free": [], "bare_jit": []}
    tmp = Path(tempfile.mkdtemp())
    for _ in range(repeats):
        for mode in ("bare_free", "bare_jit"):
            r = run_mode("bare_jit" if mode == "bare_jit" else "bare", spec, candles, epochs, tmp)
            out[mode].append(r["windows"] * r["epochs"] / r["fit_seconds"])
            out.setdefault(mode + "_cpu_s_per_epoch", []).append(r["fit_cpu"] / r["epochs"])
    return {k: median(v) for k, v in out.items()}


def _args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--setups", default=",".join(SETUPS))
    ap.add_argument("--modes", default="", help="comma list; default: all that fit the time budget")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--no-free", action="store_true", help="skip the no-determinism subprocess")
    ap.add_argument("--name", default="training", help="results/<name>.json")
    ap.add_argument("--free-child", help=argparse.SUPPRESS)
    ap.add_argument("--epochs", type=int, default=None, help=argparse.SUPPRESS)
    return ap.parse_args()


def _plan(setup: str, args: argparse.Namespace, backend: str) -> tuple[int, int, tuple[str, ...]]:
    """Epochs, repeats and modes for ``setup``: the seed's big setups get fewer of each."""
    seed = setup.startswith("seed")
    epochs = args.epochs or ((3 if args.full else 2) if seed else (10 if args.full else 5))
    repeats = args.repeats or ((3 if args.full else 2) if seed else (5 if args.full else 3))
    if args.modes:
        modes = tuple(args.modes.split(","))
    elif not args.full and setup != "default-aapl":
        modes = ("bare", "pricecast")  # the full breakdown and the options run on default-aapl
    else:
        modes = BASE_MODES + (OPTION_MODES if (args.full or setup == "default-aapl") else ())
    if backend != "tensorflow":
        modes = tuple(m for m in modes if m != "bare_tfdata")
    return epochs, repeats, modes


def _summary_row(setup: str, mode: str, rs: list[dict], batch_size: int, bare: float | None,
                 bare_cpu: float | None) -> dict:
    """One mode's medians over its repeats, and its speed relative to a bare ``model.fit``."""
    sps_fit = median(r["windows"] * r["epochs"] / r["fit_seconds"] for r in rs)
    sps_total = median(r["windows"] * r["epochs"] / r["total_seconds"] for r in rs)
    row = {"setup": setup, "mode": mode, "windows": rs[0]["windows"], "epochs": rs[0]["epochs"],
           "batch": batch_size * (4 if mode == "opt_batch4x_lr" else 1),
           "samples_per_s_fit": sps_fit, "samples_per_s_total": sps_total,
           "fit_vs_bare": sps_fit / bare if bare else None, "total_vs_bare": sps_total / bare if bare else None,
           "val_loss": median(r["val_loss"] for r in rs), "jit": rs[0].get("jit"),
           # CPU seconds per epoch, bare / this mode: above 1 means less work than bare fit
           "cpu_fit_vs_bare": bare_cpu / median(r["fit_cpu"] / r["epochs"] for r in rs) if bare_cpu else None,
           "cpu_total_vs_bare": bare_cpu / median(r["total_cpu"] / r["epochs"] for r in rs) if bare_cpu else None}
    if "parts" in rs[0]:
        labels = {k for r in rs for k in r["parts"]}
        row["parts_s"] = {k: median(r["parts"].get(k, 0.0) for r in rs) for k in sorted(labels)}
        row["fit_phase_s"] = median(r["fit_seconds"] for r in rs)
        row["total_s"] = median(r["total_seconds"] for r in rs)
        row["warnings"] = rs[0]["warnings"]
    return row


def _bench_setup(setup: str, spec, candles, epochs: int, repeats: int, modes: tuple[str, ...], tmp: Path,
                 raw: list[dict]) -> list[dict]:
    """Every mode ``repeats`` times, interleaved; the raw results appended to ``raw``, the summary rows returned."""
    run_mode("bare", spec, candles, 1, tmp)  # warm-up: first graph build, imports, caches
    results: dict[str, list[dict]] = {m: [] for m in modes}
    for rep in range(repeats):
        for mode in modes:
            r = run_mode(mode, spec, candles, epochs, tmp)
            results[mode].append(r)
            raw.append({"setup": setup, "repeat": rep, **r})
            print(f"  {setup:<15} {mode:<15} {r['fit_seconds']:.2f} s", file=sys.stderr)
    bare = median(r["windows"] * r["epochs"] / r["fit_seconds"] for r in results["bare"]) if "bare" in results else None
    bare_cpu = median(r["fit_cpu"] / r["epochs"] for r in results["bare"]) if "bare" in results else None
    if bare_cpu:
        print(f"  {setup}: bare fit {bare_cpu:.2f} CPU s/epoch", file=sys.stderr)
    return [_summary_row(setup, mode, rs, spec.train.batch_size, bare, bare_cpu) for mode, rs in results.items()]


def _free_process_run(setup: str, epochs: int) -> dict:
    """The same setup in a fresh process without deterministic ops (they cannot be turned off in this one)."""
    out = subprocess.run([sys.executable, __file__, "--free-child", setup, "--epochs", str(epochs),
                          "--repeats", str(2)], capture_output=True, text=True)
    if out.returncode == 0:
        return json.loads(out.stdout.strip().splitlines()[-1])
    return {"error": (out.stderr.strip().splitlines() or ["failed"])[-1]}


def _print_report(device: str, rows: list[dict], free: dict) -> None:
    print(f"device: {device}")
    print(table(rows, ["setup", "mode", "windows", "epochs", "batch", "samples_per_s_fit", "samples_per_s_total",
                       "fit_vs_bare", "total_vs_bare", "cpu_fit_vs_bare", "cpu_total_vs_bare", "val_loss"]))
    print("\nwhere pricecast's train() spends its time (medians, seconds):")
    for row in rows:
        if row["mode"] == "pricecast":
            parts = row["parts_s"]
            after = sum(parts.get(k, 0) for k in ("predict", "scored", "prediction_rows", "forecast_next", "save_run"))
            print(f"  {row['setup']}: total {row['total_s']:.2f} = fit {row['fit_phase_s']:.2f} + "
                  + ", ".join(f"{k} {v:.2f}" for k, v in parts.items()) + f"  (after fit: {after:.2f})")
    for setup, f in free.items():
        print(f"\n{setup} in a fresh process without deterministic ops: {json.dumps(f)}")
    for row in rows:
        for w in row.get("warnings") or []:
            print(f"  warning ({row['setup']} {row['mode']}): {w}")


def main() -> None:
    args = _args()
    if args.free_child:
        print(json.dumps(free_process(args.free_child, args.epochs, args.repeats or 2)))
        return

    os.environ.setdefault("PRICECAST_HOME", tempfile.mkdtemp(prefix="pricecast-bench-"))
    import keras

    from pricecast.training.backend import configure_device, set_seed

    device = configure_device()
    clock_fit()
    set_seed(42)  # what train() does; process-wide, so every mode below runs with the same flags
    tmp = Path(tempfile.mkdtemp(prefix="bench-runs-"))
    rows, raw, free = [], [], {}
    for setup in args.setups.split(","):
        spec, candles = make_spec(setup)
        if spec is None:
            print(f"skipped {setup}: data not found", file=sys.stderr)
            continue
        epochs, repeats, modes = _plan(setup, args, keras.backend.backend())
        rows += _bench_setup(setup, spec, candles, epochs, repeats, modes, tmp, raw)
        if not args.no_free and keras.backend.backend() == "tensorflow" and setup == "default-aapl":
            free[setup] = _free_process_run(setup, epochs)

    _print_report(device, rows, free)
    path = save_results(args.name, {"device": device, "backend": keras.backend.backend(), "rows": rows,
                                    "free_process": free, "raw": raw})
    print(f"\nwritten {path}")


if __name__ == "__main__":
    main()
