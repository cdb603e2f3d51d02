"""Benchmark 5 — GPU: the training benchmark on whatever accelerator is present, with TensorFlow and
(if installed) ``KERAS_BACKEND=torch`` / ``jax``; samples/s, the ratio to the same run on the CPU,
and how busy the GPU was (nvidia-smi utilisation and power against its limit).

    python bench/gpu.py                          # every installed backend
    python bench/gpu.py --backends tensorflow    # one backend
    python bench/gpu.py --no-cpu                 # skip the CPU reference runs (slow for the seed LSTM)
    python bench/gpu.py --fused-only             # only the fused-trials measurement (JAX)

Each (backend, device) pair runs ``bench/training.py`` in its own process; the CPU reference hides
the GPU with CUDA_VISIBLE_DEVICES="" (torch/jax: JAX_PLATFORMS=cpu too).

Fused trials (JAX installed): 10 repeats of one LSTM(50) setting as one experiment on one worker,
trained together and one by one (``--no-fuse``), wall seconds and GPU utilisation of each: where
the card stops idling.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, median, save_results, table

HERE = Path(__file__).resolve().parent
MODES = "bare,pricecast,opt_xla,opt_mixed,opt_batch4x_lr"


class GpuSampler(threading.Thread):
    """nvidia-smi every 250 ms: utilisation %, memory MiB, power W (and the power limit)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: list[list[float]] = []
        self.limit_w = None
        self.proc = None

    def run(self) -> None:
        if not shutil.which("nvidia-smi"):
            return
        try:
            out = subprocess.run(["nvidia-smi", "--query-gpu=power.limit", "--format=csv,noheader,nounits"],
                                 capture_output=True, text=True, timeout=10)
            self.limit_w = float(out.stdout.split()[0])
        except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
            pass
        self.proc = subprocess.Popen(["nvidia-smi", "--query-gpu=utilization.gpu,memory.used,power.draw",
                                      "--format=csv,noheader,nounits", "-lms", "250"],
                                     stdout=subprocess.PIPE, text=True)
        for line in self.proc.stdout:
            try:
                self.samples.append([float(v) for v in line.split(",")[:3]])
            except ValueError:
                continue

    def stop(self) -> dict:
        if self.proc:
            self.proc.terminate()
        busy = [s for s in self.samples if s[0] > 0]
        if not busy:
            return {}
        return {"util_median_pct": median(s[0] for s in busy), "util_max_pct": max(s[0] for s in busy),
                "mem_max_mib": max(s[1] for s in busy), "power_median_w": median(s[2] for s in busy),
                "power_limit_w": self.limit_w}


def run_training(backend: str, cpu: bool, setups: str, full: bool) -> dict:
    name = f"gpu_{backend}_{'cpu' if cpu else 'device'}"
    env = {**os.environ, "KERAS_BACKEND": backend}
    if cpu:
        env.update(CUDA_VISIBLE_DEVICES="", JAX_PLATFORMS="cpu")
    cmd = [sys.executable, str(HERE / "training.py"), "--setups", setups, "--modes", MODES, "--no-free", "--name", name]
    if full:
        cmd.append("--full")
    sampler = GpuSampler()
    if not cpu:
        sampler.start()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    gpu = sampler.stop() if not cpu else {}
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or ["failed"])[-1]}
    data = json.loads((RESULTS / f"{name}.json").read_text())
    return {"device": data["device"], "rows": data["rows"], "gpu": gpu}


FUSED_RUN = ["experiment", "run", "--base", "default", "--data", "sample:AAPL", "--arch", "lstm", "--units", "50",
             "--epochs", "5", "--patience", "0", "--vary", "dropout=0.1", "--repeats", "10", "--workers", "1",
             "--quiet", "--json"]


def run_fused(fused: bool) -> dict:
    """The 10-repeat experiment on this machine's accelerator, trained together or not, sampled."""
    import tempfile
    import time

    with tempfile.TemporaryDirectory(prefix="pricecast-gpu-fused-") as tmp:
        env = {**os.environ, "PRICECAST_HOME": tmp, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3"}
        cmd = [sys.executable, "-m", "pricecast", *FUSED_RUN, "--root", str(Path(tmp) / "exp")]
        sampler = GpuSampler()
        sampler.start()
        started = time.perf_counter()
        out = subprocess.run([*cmd, *([] if fused else ["--no-fuse"])], env=env, capture_output=True, text=True,
                             cwd=HERE.parent)
        seconds = time.perf_counter() - started
        gpu = sampler.stop()
    if out.returncode not in (0, 1):
        return {"error": (out.stderr.strip().splitlines() or ["failed"])[-1]}
    return {"fused": fused, "wall_s": seconds, **gpu}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backends", default="")
    ap.add_argument("--setups", default="default-aapl,seed-lstm-aapl")
    ap.add_argument("--no-cpu", action="store_true")
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--fused-only", action="store_true")
    args = ap.parse_args()
    fused_rows = [run_fused(True), run_fused(False)] if importlib.util.find_spec("jax") is not None else []
    if fused_rows:
        print(table(fused_rows, list(dict.fromkeys(k for r in fused_rows for k in r))))
    if args.fused_only:
        print(f"written {save_results('gpu-fused', {'fused': fused_rows})}")
        return
    backends = args.backends.split(",") if args.backends else [
        b for b in ("tensorflow", "torch", "jax") if importlib.util.find_spec(b) is not None]
    rows, raw = [], {}
    for backend in backends:
        dev = run_training(backend, False, args.setups, args.full)
        cpu = {} if args.no_cpu else run_training(backend, True, args.setups, args.full)
        raw[backend] = {"device": dev, "cpu": cpu}
        if "error" in dev:
            rows.append({"backend": backend, "setup": "-", "mode": "error", "device": dev["error"][:60]})
            continue
        if not str(dev.get("device", "")).startswith("GPU"):
            print(f"{backend}: no GPU found ({dev.get('device')}); the 'device' numbers below are CPU numbers")
        cpu_rows = {(r["setup"], r["mode"]): r for r in cpu.get("rows", [])}
        for r in dev["rows"]:
            ref = cpu_rows.get((r["setup"], r["mode"]))
            rows.append({"backend": backend, "device": dev["device"], "setup": r["setup"], "mode": r["mode"],
                         "batch": r["batch"], "samples_per_s": r["samples_per_s_fit"],
                         "cpu_samples_per_s": ref["samples_per_s_fit"] if ref else None,
                         "x_cpu": r["samples_per_s_fit"] / ref["samples_per_s_fit"] if ref else None,
                         "vs_bare": r["fit_vs_bare"]})
        if dev.get("gpu"):
            g = dev["gpu"]
            print(f"{backend}: GPU busy {g['util_median_pct']:.0f}% median ({g['util_max_pct']:.0f}% max), "
                  f"{g['power_median_w']:.0f} W of {g['power_limit_w']} W, {g['mem_max_mib']:.0f} MiB")
    print(table(rows, ["backend", "device", "setup", "mode", "batch", "samples_per_s", "cpu_samples_per_s", "x_cpu", "vs_bare"]))
    path = save_results("gpu", {"rows": rows, "raw": raw, "fused": fused_rows})
    print(f"written {path}")


if __name__ == "__main__":
    main()
