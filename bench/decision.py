"""Benchmark 8b — the networks apart from the decision: does "all architectures" show real differences?

    python bench/decision.py --size 0.3                 # AAPL, one repeat, a third of the epochs and rows
    python bench/decision.py --size 1 --data sample:MSFT

Runs the ``all-architectures`` experiment preset (``pricecast experiment run --preset all-architectures
--repeats 1 --size S --data D``, serially, in a temporary folder) and counts, over its 8 architectures,
how many distinct scores the **networks** get (their own pooled walk-forward RMSE / persistence, rounded
to 4 decimals) and how many the **decisions** get (network, or 'no change' where a network did not beat
it on validation: those all score exactly persistence). Before the network and the decision were kept
apart, every architecture that fell back scored as persistence: the comparison ranked copies of it.
Writes ``bench/results/decision.json`` and prints a Markdown table.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore", category=UserWarning)
logging.getLogger("tensorflow").setLevel(logging.ERROR)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as `python bench/decision.py`

from bench._common import save_results, table  # noqa: E402
from pricecast.experiments.presets import from_preset  # noqa: E402
from pricecast.experiments.stats import ranking_note  # noqa: E402
from pricecast.service.experiments import run_experiment  # noqa: E402

GOAL = 6  # issue 23: at least 6 distinct network scores of 8


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="sample:AAPL")
    parser.add_argument("--size", type=float, default=0.3, help="the experiment's --size (epochs and rows)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    exp = from_preset("all-architectures", size=args.size, data=args.data)
    exp = exp.replace(repeats=args.repeats)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as root:
        done = run_experiment(exp, executor="serial", root=Path(root))
        records, summary = list(done.records), done.summary()
    seconds = time.perf_counter() - started
    rows = []
    for r in records:
        if r.get("status") != "ok":
            rows.append({"trial": r.get("label"), "note": r.get("error", r.get("status"))})
            continue
        pers = r["persistence_rmse"]
        rows.append({"trial": r["label"], "network RMSE / persistence": f"{r['network_rmse'] / pers:.4f}",
                     "decision RMSE / persistence": f"{r['test_rmse'] / pers:.4f}",
                     "folds falling back": f"{r['as_persistence']:.0%}", "decision": r.get("decision"),
                     "epochs run": r.get("epochs_run"), "train s": round(r.get("train_seconds") or 0.0, 1)})
    ok = [r for r in rows if "network RMSE / persistence" in r]
    networks = len({r["network RMSE / persistence"] for r in ok})
    decisions = len({r["decision RMSE / persistence"] for r in ok})
    goal = f"distinct network scores: {networks} of {len(ok)} (goal >= {GOAL}: {'met' if networks >= GOAL else 'NOT met'})"
    columns = ["trial", "network RMSE / persistence", "decision RMSE / persistence", "folds falling back",
               "decision", "epochs run", "train s"]
    text = table(rows, columns)
    print(text)
    print(f"\n{goal}; distinct decision scores: {decisions} of {len(ok)}; {seconds:.0f} s")
    print("\n" + ranking_note(summary))
    save_results("decision", {"settings": {"data": args.data, "size": args.size, "repeats": args.repeats,
                                           "folds": exp.folds, "epochs": exp.base.train.epochs,
                                           "last_rows": exp.last_rows},
                              "rows": rows, "distinct_network_scores": networks, "distinct_decision_scores": decisions,
                              "seconds": seconds, "note": ranking_note(summary)}, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
