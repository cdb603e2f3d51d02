"""Benchmark 9 — the signal sandbox and the predictability check, walked forward against persistence.

    python bench/sandbox.py --quick                 # smoke run: two noise levels, two series, 2 folds, 3 epochs
    python bench/sandbox.py                         # the noise sweep and every bundled series, close and volume
    python bench/sandbox.py --part sandbox          # only the noise sweep (or --part verdicts)

Part 1, the sandbox: ``synthetic:pattern`` at rising ``noise`` (the default 0.05 up to the highest, 3),
the default preset (GRU(32), N=30, K=5) walked forward over the newest 20% of the series in ``--folds``
test folds (expanding training window, scaler refitted per fold), with the persistence floor (the
decision a run ends with) and without it (the network's own forecasts). Skill = 1 - RMSE / persistence's
RMSE, pooled over the folds, with the paired test the backtests use. Beside it, the predictability
check's verdict and linear skill for the same series (training part).

Part 2, the verdicts: for every bundled series and two targets (close with the default preset; volume
with the default's GRU on volume + hour/weekday, standard scaling, N=48, K=6), the predictability
check's verdict on the training part against what a network then does walked forward (no floor: the
network's own skill). They agree when "forecastable" meets a network that beats persistence (p < 0.05)
and "random walk" one that does not; "barely" agrees with either.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore")
logging.getLogger("tensorflow").setLevel(logging.ERROR)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as `python bench/sandbox.py`

from bench._common import RESULTS, save_results  # noqa: E402
from pricecast.backtest.pooled import fold_scores, fold_size_for, pool_folds  # noqa: E402
from pricecast.backtest.spec import BacktestSpec  # noqa: E402
from pricecast.backtest.walkforward import run_backtest  # noqa: E402
from pricecast.data.datasets import load_data  # noqa: E402
from pricecast.data.samples import CATALOGUE  # noqa: E402
from pricecast.data.synthetic import KNOBS, synthetic_ref  # noqa: E402
from pricecast.evaluation.predictability import check_candles  # noqa: E402
from pricecast.presets import get_preset  # noqa: E402
from pricecast.specs import RunSpec  # noqa: E402

NOISES = (0.05, 0.25, 0.5, 1.0, 2.0, 3.0)
TEST_SHARE = 0.2
QUICK = {"noises": (0.05, 3.0), "series": ("AAPL", "BTC-USD-1H"), "folds": 2, "epochs": 3}
P_LIMIT = 0.05


def walk(spec: RunSpec, candles, folds: int, epochs: int, floor: bool) -> dict:
    """``spec`` walked forward over the newest TEST_SHARE of ``candles``: pooled skill vs persistence."""
    spec = spec.replace(train=replace(spec.train, persistence_floor=floor))
    size = fold_size_for(len(candles), folds, TEST_SHARE, spec.window.k)
    started = time.perf_counter()
    try:
        result = run_backtest(spec, BacktestSpec(folds=folds, fold_size=size, epochs=epochs), candles=candles,
                              use_cache=False)
    except Exception as exc:  # noqa: BLE001 - a failed walk is a row with its reason
        return {"status": "failed", "reason": f"{type(exc).__name__}: {exc}"}
    finally:
        import keras

        keras.backend.clear_session()
    pooled = pool_folds(fold_scores(result))
    return {"status": "ok", "skill": 1.0 - pooled["ratio"], **pooled, "seconds": time.perf_counter() - started}


def volume_spec(series: str) -> RunSpec:
    """The issue's volume setup on a bundled series: the default's GRU on volume and the clock, standard scaling."""
    intraday = CATALOGUE[series].timeframe != "1d"
    spec = get_preset("default").spec
    window = replace(spec.window, n=48, k=6, target="volume",
                     features=("volume", "hour", "weekday") if intraday else ("volume", "weekday"))
    return spec.replace(data=f"sample:{series}", window=window, scaling="standard")


def agrees(verdict: str, network: dict) -> bool | None:
    if network.get("status") != "ok":
        return None
    beats = network["ratio"] < 1.0 and network["p_value"] < P_LIMIT
    return True if verdict == "weak" else beats == (verdict == "predictable")


def sandbox_rows(noises: Sequence[float], folds: int, epochs: int) -> list[dict]:
    spec = get_preset("default").spec
    rows = []
    for noise in noises:
        ref = synthetic_ref({"noise": noise})
        candles = load_data(ref).candles
        judged = check_candles(candles, "close", spec.window.n, spec.window.k, spec.window.split, name=ref)
        row = {"ref": ref, "noise": noise, "verdict": judged.verdict, "linear_skill": judged.linear.skill,
               "linear_p": judged.linear.p_value}
        for floor in (True, False):
            row["decision" if floor else "network"] = walk(spec.replace(data=ref), candles, folds, epochs, floor)
        rows.append(row)
        print(f"noise {noise:g}: verdict {row['verdict']} (linear {row['linear_skill']:+.1%}); decision "
              f"{_skill(row['decision'])}; network {_skill(row['network'])}", flush=True)
    return rows


def verdict_rows(series: Sequence[str], folds: int, epochs: int) -> list[dict]:
    rows = []
    for name in series:
        candles = load_data(f"sample:{name}").candles
        default = get_preset("default").spec.replace(data=f"sample:{name}")
        for target, spec in (("close", default), ("volume", volume_spec(name))):
            w = spec.window
            judged = check_candles(candles, target, w.n, w.k, w.split, name=f"sample:{name}")
            network = walk(spec, candles, folds, epochs, floor=False)
            row = {"series": name, "target": target, "n": w.n, "k": w.k, "verdict": judged.verdict,
                   "linear_skill": judged.linear.skill, "linear_p": judged.linear.p_value, "network": network,
                   "agrees": agrees(judged.verdict, network)}
            rows.append(row)
            print(f"{name} {target}: verdict {judged.verdict} (linear {judged.linear.skill:+.1%}); network "
                  f"{_skill(network)}; agrees {row['agrees']}", flush=True)
    return rows


def _skill(r: dict) -> str:
    if r.get("status") != "ok":
        return f"failed ({r.get('reason', '')[:80]})"
    p = "<0.001" if r["p_value"] < 0.001 else f"{r['p_value']:.3f}"
    return f"{r['skill']:+.2%} (p {p}, {r['fold_wins']}/{r['folds_done']} folds, {r['seconds']:.0f} s)"


def markdown(sandbox: list[dict], verdicts: list[dict]) -> str:
    out = []
    if sandbox:
        out += ["| synthetic series | verdict (linear skill, training part) | decision's skill (floor on) "
                "| network's own skill (floor off) |", "|---|---|---|---|"]
        out += [f"| `{r['ref']}` | {r['verdict']} ({r['linear_skill']:+.1%}) | {_skill(r['decision'])} "
                f"| {_skill(r['network'])} |" for r in sandbox]
        out.append("")
    if verdicts:
        out += ["| series | target, N, K | verdict (linear skill, training part) | network walked forward "
                "(floor off) | agree |", "|---|---|---|---|---|"]
        out += [f"| {r['series']} | {r['target']}, {r['n']}, {r['k']} | {r['verdict']} ({r['linear_skill']:+.1%}) "
                f"| {_skill(r['network'])} | {'yes' if r['agrees'] else 'n/a' if r['agrees'] is None else '**no**'} |"
                for r in verdicts]
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("all", "sandbox", "verdicts"), default="all")
    parser.add_argument("--folds", type=int, help="walk-forward test folds (default 3)")
    parser.add_argument("--epochs", type=int, help="epochs per fold (default: the preset's, 15)")
    parser.add_argument("--series", help="comma-separated bundled series for part 2 (default: all)")
    parser.add_argument("--quick", action="store_true", help="smoke run (options given still win)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    quick = QUICK if args.quick else {}
    folds = args.folds or quick.get("folds", 3)
    epochs = args.epochs if args.epochs is not None else quick.get("epochs", 0)
    series = args.series.split(",") if args.series else list(quick.get("series", CATALOGUE))
    out = args.out or RESULTS / ("sandbox-quick.json" if args.quick else "sandbox.json")
    assert KNOBS["noise"].hi == NOISES[-1]  # the sweep ends at the highest noise the knob allows
    started = time.perf_counter()
    sandbox = sandbox_rows(quick.get("noises", NOISES), folds, epochs) if args.part in ("all", "sandbox") else []
    verdicts = verdict_rows(series, folds, epochs) if args.part in ("all", "verdicts") else []
    text = markdown(sandbox, verdicts)
    print(text)
    settings = {"folds": folds, "epochs": epochs or "preset", "test_share": TEST_SHARE, "quick": args.quick,
                "command": " ".join(["python bench/sandbox.py", *(argv if argv is not None else sys.argv[1:])])}
    save_results("sandbox", {**settings, "seconds": time.perf_counter() - started, "sandbox": sandbox,
                             "verdicts": verdicts}, out)
    out.with_suffix(".md").write_text(text + "\n")
    print(f"saved {out}")


if __name__ == "__main__":
    main()
