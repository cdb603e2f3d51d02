"""Benchmark 12: trials trained together (issue 21) — repeats, the seed's regularizer grid, and
all architectures, each fused against one trial at a time.

    python bench/experiments.py repeats [--rounds 3]          # 10 repeats vs one training, whole processes
    python bench/experiments.py grid [--size 1] [--repeats 30] [--unfused-repeats 3]
    python bench/experiments.py architectures                 # the one-click comparison, fused and not
    python bench/experiments.py backends [--setting none] [--epochs 10] [--repeats 16]  # fused vs alone, JAX vs TF

``repeats``: the issue's command, ``experiment run --base default --data sample:AAPL --arch lstm
--units 50 --epochs 5 --patience 0 --vary dropout=0.1 --repeats 10``, fused (default) and with
``--no-fuse``, against ``train`` with the same settings; every command a fresh process in a fresh
home and experiments folder (JAX's compile cache empty: a machine's first such experiment), and the
fused one once more in the home the first left (cache warm: every later one); interleaved round by
round; medians and the median of each round's ratio.

``grid``: ``experiment run --preset bias-regularizers`` (9 settings x 30 repeats x 30 epochs, batch 8,
on daily AAPL) fused, once, wall time and per-setting median test RMSE; then the same grid unfused
with fewer repeats (``--unfused-repeats``; the full grid unfused is about 2 hours here): are the fused
medians inside the unfused run-to-run spread?

``architectures``: ``experiment run --preset all-architectures`` fused and unfused, once each.

``backends``: one setting of the grid trained fused (JAX), one at a time on JAX, and one at a time
on TensorFlow (what ``--no-fuse`` runs): the networks' test RMSE of each, to tell fusing from the backend.
Results in ``bench/results/experiments.json``.
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._common import median, save_results, table  # noqa: E402

REPEATS_RUN = ["experiment", "run", "--base", "default", "--data", "sample:AAPL", "--arch", "lstm", "--units", "50",
               "--epochs", "5", "--patience", "0", "--vary", "dropout=0.1", "--repeats", "10"]
ONE_TRAIN = ["train", "--data", "sample:AAPL", "--arch", "lstm", "--units", "50", "--epochs", "5", "--patience", "0",
             "--dropout", "0.1"]


def _pricecast(args: list[str], home: Path) -> float:
    """Wall seconds of ``python -m pricecast ARGS`` in a fresh home (fails loudly)."""
    env = {**os.environ, "PRICECAST_HOME": str(home), "TF_CPP_MIN_LOG_LEVEL": "3"}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pricecast", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True)
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):  # 1: some trial failed (reported in the table)
        raise SystemExit(f"pricecast {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return seconds


def _experiment(args: list[str], fused: bool, scratch: Path, name: str, home_name: str | None = None
                ) -> tuple[float, Path]:
    home, root = scratch / f"home-{home_name or name}", scratch / f"exp-{name}"
    extra = [] if fused else ["--no-fuse"]
    seconds = _pricecast([*args, "--root", str(root), "--quiet", "--json", *extra], home)
    return seconds, root


def repeats(rounds: int, scratch: Path) -> dict:
    rows = []
    for r in range(rounds):
        one = _pricecast([*ONE_TRAIN, "--runs-dir", str(scratch / f"runs-{r}")], scratch / f"home-t{r}")
        fused, _ = _experiment(REPEATS_RUN, True, scratch, f"f{r}")
        # the same again in that home: JAX's compiled programs now come from its cache, as on every
        # experiment after a machine's first with these shapes
        warm, _ = _experiment(REPEATS_RUN, True, scratch, f"w{r}", home_name=f"f{r}")
        unfused, _ = _experiment(REPEATS_RUN, False, scratch, f"u{r}")
        rows.append({"round": r + 1, "train_s": one, "fused_s": fused, "fused_warm_s": warm, "unfused_s": unfused,
                     "fused_vs_train": fused / one, "warm_vs_train": warm / one, "unfused_vs_train": unfused / one})
        print(table([rows[-1]], list(rows[-1])), flush=True)
    summary = {key: median(r[key] for r in rows) for key in rows[0] if key != "round"}
    return {"rounds": rows, "median": summary}


def _setting_medians(root: Path) -> dict[str, dict]:
    from pricecast.experiments.storage import load_experiment

    exp = load_experiment(next(p for p in root.iterdir() if p.is_dir()).name, root)
    frame = exp.frame()
    frame = frame[frame["status"] == "ok"]
    out = {}
    for label, part in frame.groupby("label"):
        column = "network_rmse" if "network_rmse" in part else "test_rmse"  # older records lack the network's own
        rmse = part[column].astype(float)
        out[str(label)] = {"n": int(len(rmse)), "median": float(rmse.median()), "q25": float(rmse.quantile(0.25)),
                           "q75": float(rmse.quantile(0.75)), "min": float(rmse.min()), "max": float(rmse.max())}
    return out


def grid(size: float, reps: int, unfused_reps: int, scratch: Path) -> dict:
    base = ["experiment", "run", "--preset", "bias-regularizers", "--size", str(size)]
    fused_s, fused_root = _experiment([*base, "--repeats", str(reps)], True, scratch, "grid-fused")
    print(f"fused grid ({reps} repeats): {fused_s:.0f} s", flush=True)
    result = {"fused": {"repeats": reps, "wall_s": fused_s, "settings": _setting_medians(fused_root)}}
    if unfused_reps:
        unfused_s, unfused_root = _experiment([*base, "--repeats", str(unfused_reps)], False, scratch, "grid-unfused")
        print(f"unfused grid ({unfused_reps} repeats): {unfused_s:.0f} s", flush=True)
        result["unfused"] = {"repeats": unfused_reps, "wall_s": unfused_s, "settings": _setting_medians(unfused_root)}
        rows = []
        for label, f in result["fused"]["settings"].items():
            u = result["unfused"]["settings"].get(label)
            if u is None:
                continue
            inside = u["min"] <= f["median"] <= u["max"] or f["q25"] <= u["median"] <= f["q75"]
            rows.append({"setting": label, "fused_median": f["median"], "fused_iqr": f"{f['q25']:.4g}..{f['q75']:.4g}",
                         "unfused_median": u["median"], "unfused_range": f"{u['min']:.4g}..{u['max']:.4g}",
                         "inside_spread": inside})
        result["comparison"] = rows
        print(table(rows, list(rows[0])) if rows else "no settings to compare", flush=True)
    return result


BACKENDS_CHILD = """
import json, sys
from dataclasses import replace
from pricecast.experiments.presets import experiment_presets
from pricecast.service.experiments import run_experiment
mode, label, epochs, reps, root = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
exp = experiment_presets()["bias-regularizers"].spec
base = exp.base.replace(train=replace(exp.base.train, epochs=epochs))
exp = replace(exp, base=base, variations=tuple(v for v in exp.variations if v.label == label), repeats=reps,
              name="backends-" + mode)
frame = run_experiment(exp, executor="serial" if mode == "jax-alone" else "local", fuse=mode == "jax-fused",
                       root=root).frame()
print("RESULT " + json.dumps(sorted(float(x) for x in frame["test_rmse"])))
"""


def backends(label: str, epochs: int, reps: int, scratch: Path) -> dict:
    """One setting of the regularizer grid three ways: fused (JAX workers), one at a time on JAX
    (this backend's own ``fit``), one at a time on TensorFlow (``--no-fuse``): does fusing move the
    distribution of the networks' test RMSE, or does the backend?"""
    out = {}
    for mode, backend in (("jax-fused", None), ("jax-alone", "jax"), ("tensorflow-alone", "tensorflow")):
        env = {**os.environ, "PRICECAST_HOME": str(scratch / f"home-{mode}"), "TF_CPP_MIN_LOG_LEVEL": "3",
               **({"KERAS_BACKEND": backend} if backend else {})}
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", BACKENDS_CHILD, mode, label, str(epochs), str(reps),
                               str(scratch / f"exp-{mode}")], cwd=ROOT, env=env, capture_output=True, text=True)
        line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
        if line is None:
            raise SystemExit(f"{mode} failed:\n{done.stderr[-3000:]}")
        values = json.loads(line[7:])
        out[mode] = {"wall_s": time.perf_counter() - started, "n": len(values), "median": median(values),
                     "min": values[0], "max": values[-1], "values": values}
        print(f"{mode}: median {out[mode]['median']:.4f} over {len(values)} ({values[0]:.4f}..{values[-1]:.4f}), "
              f"{out[mode]['wall_s']:.0f} s", flush=True)
    return {"setting": label, "epochs": epochs, "repeats": reps, "modes": out}


def architectures(scratch: Path) -> dict:
    base = ["experiment", "run", "--preset", "all-architectures"]
    fused_s, _ = _experiment(base, True, scratch, "aa-fused")
    print(f"all architectures fused: {fused_s:.0f} s", flush=True)
    unfused_s, _ = _experiment(base, False, scratch, "aa-unfused")
    print(f"all architectures unfused: {unfused_s:.0f} s", flush=True)
    return {"fused_s": fused_s, "unfused_s": unfused_s, "ratio": fused_s / unfused_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=("repeats", "grid", "architectures", "backends"))
    parser.add_argument("--setting", default="none", help="backends: the grid's setting (its label)")
    parser.add_argument("--epochs", type=int, default=10, help="backends: epochs per trial")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--size", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--unfused-repeats", type=int, default=3)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="pricecast-bench-exp-") as tmp:
        scratch = Path(tmp)
        if args.what == "repeats":
            result = repeats(args.rounds, scratch)
            print(table([result["median"]], list(result["median"])))
        elif args.what == "backends":
            result = backends(args.setting, args.epochs, args.repeats, scratch)
        elif args.what == "grid":
            result = grid(args.size, args.repeats, args.unfused_repeats, scratch)
        else:
            result = architectures(scratch)
    result["load_before"] = load
    result["load_after"] = os.getloadavg()[0]
    path = save_results(f"experiments-{args.what}", result)
    print(json.dumps(result.get("median", {k: v for k, v in result.items() if k != "settings"}), indent=1,
                     default=str)[:2000])
    print(f"saved {path}")


if __name__ == "__main__":
    main()
