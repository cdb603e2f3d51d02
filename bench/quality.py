"""Benchmark 8 — forecast quality: every preset on every bundled series it fits, walked forward, against persistence.

    python bench/quality.py --quick                       # smoke run, about 1-2 minutes on 2 cores
    python bench/quality.py --epochs-cap 20               # the full table: every preset x series, 4 folds
    python bench/quality.py --presets default --series AAPL,BTC-USD-1H --folds 3 --epochs-cap 5

For each (preset, series) pair, ``run_backtest`` walks the preset's own setup (window, scaling, network,
batch, patience) forward over the series: the newest ``--test-share`` of its candles is cut into
``--folds`` test folds, and before each fold a fresh model is trained on everything before it (expanding
window, the last 15% held out for early stopping), with the scaler refitted on those rows only. Nothing
is cached, so every fold trains.

Per pair: test RMSE of the model / RMSE of persistence (the last known price repeated K times) on the
same test windows, pooled over all folds; a Diebold-Mariano style paired test of the per-window
squared-error differences with a Newey-West variance over K-1 lags (``paired_test``, as the backtest's
own verdict uses: overlapping K-step windows share errors); the share of folds the model wins; the
median training seconds per fold; the number of test forecasts. A pair that cannot run (too few
candles for the preset's window, a diverged fit) is a row with the reason.

Which series a preset runs on: the default preset, and every preset whose data is the default's
(``sample:AAPL``, the catalogue's generic stand-in), run on every bundled series; a preset bound to
other data (the 5-minute BTC seeds, the hourly Bithumb LSTM, daily TSLA) runs on the bundled series of
the same timeframe. ``--every-series`` drops that rule.
"""
from __future__ import annotations

import argparse
import logging
import math
import os
import sys
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore", category=UserWarning)
logging.getLogger("tensorflow").setLevel(logging.ERROR)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as `python bench/quality.py`

from bench._common import RESULTS, save_results  # noqa: E402
from pricecast.backtest.pooled import decision_scores, fold_scores, fold_size_for, pool_folds  # noqa: E402
from pricecast.backtest.spec import BacktestSpec  # noqa: E402
from pricecast.backtest.walkforward import run_backtest  # noqa: E402
from pricecast.data.quality import split_ref  # noqa: E402
from pricecast.data.samples import CATALOGUE, Sample, load_sample  # noqa: E402
from pricecast.evaluation.leakage import problems  # noqa: E402
from pricecast.presets import PRESETS, Preset  # noqa: E402

DEFAULT = "default"
TEST_SHARE = 0.2
QUICK = {"presets": ("default", "seed-cnn-2-relu"), "series": ("AAPL", "BTC-USD-5M"), "folds": 2, "epochs_cap": 2}
# the goals: never worse than persistence for the default preset; a clear win on intraday crypto
WIN_RATIO, WIN_P = 0.99, 0.05
# issue 23: the hourly BTC volume preset beats persistence by 15%+ and the best naive baseline (p < 0.05)
VOLUME_PRESET, VOLATILITY_PRESET, VOLUME_SKILL = "btc-hourly-volume", "btc-hourly-volatility", 0.15


# ---- which pairs -----------------------------------------------------------------------------------
def data_timeframe(ref: str, catalogue: Mapping[str, Sample] = CATALOGUE) -> str | None:
    """The timeframe a data reference names: a bundled series' own, the third part of
    ``EXCHANGE:SYMBOL:TIMEFRAME``, or None (a CSV file: unknown)."""
    base, _ = split_ref(ref)
    if base.lower().startswith("sample:"):
        sample = catalogue.get(base.split(":", 1)[1].upper())
        return sample.timeframe if sample else None
    parts = base.split(":")
    return parts[2] if len(parts) == 3 and parts[2] else None


def series_for(preset: Preset, generic_data: str, catalogue: Mapping[str, Sample] = CATALOGUE) -> list[str]:
    """Bundled series ``preset`` runs on: all of them for the default preset and for presets on the
    generic data; else those of the timeframe its data names (all where it names none)."""
    if preset.name == DEFAULT or split_ref(preset.spec.data)[0] == split_ref(generic_data)[0]:
        return list(catalogue)
    timeframe = data_timeframe(preset.spec.data, catalogue)
    if timeframe is None:
        return list(catalogue)
    return [name for name, sample in catalogue.items() if sample.timeframe == timeframe]


# ---- reporting -------------------------------------------------------------------------------------
def _num(value: float | None, digits: int) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def _p(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def markdown_table(rows: Sequence[dict]) -> str:
    """The results as a Markdown table; failed pairs keep their row, with the reason."""
    head = ("| preset | series | target | N, K | folds x candles | test forecasts | RMSE / persistence | p | folds won "
            "| best naive (on validation) | skill vs it | p | train s / fold | epochs max, run | note |")
    lines = [head, "|" + "---|" * head.count(" | ") + "---|"]
    for r in rows:
        shape = f"{r.get('n', '?')}, {r.get('k', '?')}"
        folds = f"{r.get('folds', '?')} x {r.get('fold_size', '?')}"
        target = r.get("target", "close")
        if r.get("status") != "ok":
            lines.append(f"| {r['preset']} | {r['series']} | {target} | {shape} | {folds} | - | - | - | - | - | - | - "
                         f"| - | {r.get('epochs', '?')} | **{r.get('status', 'failed')}**: {_cell(r.get('reason', ''))} |")
            continue
        naive = r.get("best_naive", "persistence")
        if len(set(r.get("best_naive_per_fold") or [naive])) > 1:
            naive += " (" + ", ".join(r["best_naive_per_fold"]) + ")"
        lines.append(
            f"| {r['preset']} | {r['series']} | {target} | {shape} | {folds} | {r['forecasts']:,} | {_num(r['ratio'], 4)} "
            f"| {_p(r['p_value'])} | {r['fold_wins']}/{r['folds_done']} | {naive} "
            f"| {_pct(r.get('skill_vs_best_naive'))} | {_p(r.get('p_vs_best_naive'))} "
            f"| {_num(r['train_seconds_median'], 1)} "
            f"| {r['epochs']}, {_num(r['epochs_run_median'], 0)} | {_cell(r.get('note', ''))} |")
    return "\n".join(lines)


def _pct(value: float | None) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:+.1%}"


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "/")


def goal_statements(rows: Sequence[dict], catalogue: Mapping[str, Sample] = CATALOGUE) -> list[str]:
    """The issue's two goals, stated against ``rows``: met or not, and by which numbers."""
    out: list[str] = []
    default = [r for r in rows if r["preset"] == DEFAULT]
    if not default:
        out.append("Goal 1 (default preset <= 1.000 on every bundled series): not measured (default preset not run).")
    else:
        ok = [r for r in default if r.get("status") == "ok"]
        worse = [r for r in ok if not r["ratio"] <= 1.0]
        failed = [r for r in default if r.get("status") != "ok"]
        missing = [s for s in catalogue if s not in {r["series"] for r in default}]
        met = not worse and not failed and not missing
        detail = "; ".join(f"{r['series']} {_num(r['ratio'], 4)} (p {_p(r['p_value'])})" for r in ok)
        extra = "".join([
            f" Worse than persistence on: {', '.join(r['series'] for r in worse)}." if worse else "",
            f" Failed on: {', '.join(r['series'] for r in failed)}." if failed else "",
            f" Not run on: {', '.join(missing)}." if missing else ""])
        out.append(f"Goal 1 (default preset <= 1.000 on every bundled series): {'MET' if met else 'NOT MET'}. "
                   f"{detail}.{extra}")
    crypto = [r for r in rows if r.get("status") == "ok" and r["series"] in catalogue
              and catalogue[r["series"]].timeframe != "1d" and r.get("target", "close") == "close"]
    if not crypto:
        out.append("Goal 2 (a preset with ratio < 0.99 and p < 0.05 on intraday crypto): not measured "
                   "(no intraday series ran).")
        return out + target_goals(rows)
    winners = [r for r in crypto if r["ratio"] < WIN_RATIO and r["p_value"] < WIN_P]
    if winners:
        out.append("Goal 2 (a preset with ratio < 0.99 and p < 0.05 on intraday crypto): MET by " + "; ".join(
            f"{r['preset']} on {r['series']} ({_num(r['ratio'], 3)}, p {_p(r['p_value'])})" for r in winners) + ".")
    else:
        best = min(crypto, key=lambda r: r["ratio"] if math.isfinite(r["ratio"]) else math.inf)
        out.append(f"Goal 2 (a preset with ratio < 0.99 and p < 0.05 on intraday crypto): NOT MET — none of the "
                   f"{len(crypto)} intraday pairs does; the best is {best['preset']} on {best['series']} "
                   f"({_num(best['ratio'], 3)}, p {_p(best['p_value'])}).")
    return out + target_goals(rows)


def target_goals(rows: Sequence[dict]) -> list[str]:
    """Issue 23's goal for the volume preset (skill >= +15% vs persistence, > 0 vs the best naive
    baseline chosen on validation with p < 0.05) and the volatility preset's row, whichever way it went."""
    out: list[str] = []
    if not any(r["preset"] in (VOLUME_PRESET, VOLATILITY_PRESET) for r in rows):
        return out
    goal = (f"Goal 3 ({VOLUME_PRESET}: skill >= {VOLUME_SKILL:+.0%} vs persistence and > 0 vs the best naive "
            f"baseline, p < {WIN_P})")
    for name in (VOLUME_PRESET, VOLATILITY_PRESET):
        done = [r for r in rows if r["preset"] == name and r.get("status") == "ok"]
        if not done:
            out.append(f"{goal}: not measured." if name == VOLUME_PRESET else f"{name}: not measured.")
            continue
        r = done[0]
        skill = 1 - r["ratio"] if math.isfinite(r["ratio"]) else math.nan
        numbers = (f"skill {_pct(skill)} vs persistence (p {_p(r['p_value'])}), {_pct(r.get('skill_vs_best_naive'))} "
                   f"vs {r.get('best_naive')} (p {_p(r.get('p_vs_best_naive'))}) on {r['series']}")
        if r.get("folds_falling_back"):
            net = r.get("network_ratio", math.nan)
            numbers += (f"; {r['folds_falling_back']} of {r['folds_done']} folds fell back to their best naive "
                        f"baseline on validation; the networks alone: skill {_pct(1 - net)} vs persistence, "
                        f"{_pct(r.get('network_skill_vs_best_naive'))} vs {r.get('best_naive')} "
                        f"(p {_p(r.get('network_p_vs_best_naive'))})")
        if name == VOLUME_PRESET:
            met = (skill >= VOLUME_SKILL and (r.get("skill_vs_best_naive") or -1) > 0
                   and (r.get("p_vs_best_naive") if r.get("p_vs_best_naive") is not None else 1) < WIN_P)
            out.append(f"{goal}: {'MET' if met else 'NOT MET'}: {numbers}.")
        else:
            out.append(f"{name} (no goal, the honest row): {numbers}.")
    return out


# ---- running ---------------------------------------------------------------------------------------
def run_pair(preset: Preset, series: str, candles, folds: int, test_share: float, epochs_cap: int,
             floor: str = "on") -> dict:
    """One walk-forward backtest, summarized; a failure is returned as a row with its reason. The fold
    models are the networks; ``floor`` "on" scores what each fold's run would forecast (its network, or
    the naive baseline the fold's validation decided to fall back to: 'no change' for prices), "off" the
    networks themselves (``network_ratio``, ``network_skill_vs_best_naive`` in the JSON are the networks'
    either way)."""
    spec = preset.spec.replace(data=f"sample:{series}")
    if floor == "off":
        spec = spec.replace(train=replace(spec.train, persistence_floor=False))
    epochs = min(spec.train.epochs, epochs_cap) if epochs_cap else spec.train.epochs
    fold_size = fold_size_for(len(candles), folds, test_share, spec.window.k)
    row: dict = {"preset": preset.name, "series": series, "target": spec.window.target, "n": spec.window.n,
                 "k": spec.window.k, "folds": folds,
                 "fold_size": fold_size, "epochs": epochs, "preset_epochs": spec.train.epochs,
                 "batch_size": spec.train.batch_size, "patience": spec.train.patience}
    started = time.perf_counter()
    try:
        result = run_backtest(spec, BacktestSpec(folds=folds, fold_size=fold_size, epochs=epochs), candles=candles,
                              use_cache=False)
    except Exception as exc:  # noqa: BLE001 - one pair's failure is a result row; the other pairs still run
        return {**row, "status": "failed", "reason": f"{type(exc).__name__}: {exc}",
                "seconds": time.perf_counter() - started}
    finally:
        _free_models()
    scores = fold_scores(result)
    if not scores or sum(len(s.actual) for s in scores) == 0:
        return {**row, "status": "failed", "reason": "no fold produced a test forecast",
                "seconds": time.perf_counter() - started}
    summary = pool_folds(decision_scores(result) if floor == "on" else scores)
    network = pool_folds(scores)
    summary["network_ratio"] = network["ratio"]
    summary["network_skill_vs_best_naive"] = network["skill_vs_best_naive"]
    summary["network_p_vs_best_naive"] = network["p_vs_best_naive"]
    summary["folds_falling_back"] = sum(f.model_info.get("decision", "network") != "network" for f in result.folds)
    # look-ahead checks and the backtest's own verdict, kept in the JSON (only problems)
    checks = [f.message for f in problems(result.findings)
              if f.code not in ("repeats_last_price", "within_noise", "vs_persistence")]
    train_windows = [f.model_info.get("train_windows") for f in result.folds]
    return {**row, "status": "ok", **summary, "train_windows_last_fold": train_windows[-1] if train_windows else None,
            "test_from": result.fold_rows()[0]["test_from"], "test_to": result.fold_rows()[-1]["test_to"],
            "check_problems": checks, "notes": result.notes, "seconds": time.perf_counter() - started,
            "note": "look-ahead check: " + checks[0] if checks else ""}


def _free_models() -> None:
    import keras

    keras.backend.clear_session()


def pairs(presets: Sequence[str], series: Sequence[str], every_series: bool) -> tuple[list[tuple[str, str]], list[dict]]:
    """The (preset, series) pairs to run, in catalogue order, and those left out by the data-kind rule."""
    generic = PRESETS[DEFAULT].spec.data
    run, skipped = [], []
    for name in presets:
        fits = set(CATALOGUE) if every_series else set(series_for(PRESETS[name], generic))
        for s in series:
            if s in fits:
                run.append((name, s))
            else:
                skipped.append({"preset": name, "series": s, "why": f"the preset's data ({PRESETS[name].spec.data}) "
                                                                    f"is of another timeframe"})
    return run, skipped


def _names(text: str | None, known: Sequence[str], what: str, parser: argparse.ArgumentParser) -> list[str]:
    if not text:
        return list(known)
    names = [t.strip() for t in text.split(",") if t.strip()]
    lookup = {k.upper(): k for k in known}
    bad = [n for n in names if n.upper() not in lookup]
    if bad:
        parser.error(f"unknown {what} {', '.join(bad)}; choose from {', '.join(known)}")
    return [lookup[n.upper()] for n in names]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", help="comma-separated preset names (default: every preset in the catalogue)")
    parser.add_argument("--series", help="comma-separated bundled series, e.g. AAPL,BTC-USD-5M (default: all)")
    parser.add_argument("--folds", type=int, help="walk-forward test folds per pair (default 4)")
    parser.add_argument("--epochs-cap", type=int, help="cap each preset's epochs at this (0 = the preset's own)")
    parser.add_argument("--test-share", type=float, default=TEST_SHARE,
                        help=f"share of each series' newest candles cut into test folds (default {TEST_SHARE})")
    parser.add_argument("--every-series", action="store_true", help="run every preset on every series")
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke run: presets {','.join(QUICK['presets'])}, series {','.join(QUICK['series'])}, "
                             f"{QUICK['folds']} folds, {QUICK['epochs_cap']} epochs (options given still win)")
    parser.add_argument("--floor", choices=("on", "off"), default="on",
                        help="the fallback to 'no change' (default on, as the presets train): on scores what each "
                             "fold's run would forecast, off the trained networks themselves")
    parser.add_argument("--out", type=Path, help="JSON file (default bench/results/quality[-quick].json; the "
                                                 "Markdown table goes beside it as .md)")
    args = parser.parse_args(argv)
    quick = QUICK if args.quick else {}
    presets = _names(args.presets or ",".join(quick.get("presets", ())), list(PRESETS), "preset", parser)
    series = _names(args.series or ",".join(quick.get("series", ())), list(CATALOGUE), "series", parser)
    folds = args.folds or quick.get("folds", 4)
    cap = args.epochs_cap if args.epochs_cap is not None else quick.get("epochs_cap", 0)
    if folds < 1 or cap < 0 or not 0 < args.test_share < 1:
        parser.error("--folds must be 1 or more, --epochs-cap 0 or more, --test-share between 0 and 1")
    out = args.out or RESULTS / ("quality-quick.json" if args.quick else "quality.json")
    todo, skipped = pairs(presets, series, args.every_series)
    print(f"{len(todo)} pairs, {folds} folds each over the newest {args.test_share:.0%} of each series, "
          f"epochs cap {cap or 'none'}", flush=True)

    started = time.perf_counter()
    candles: dict = {}
    rows: list[dict] = []
    settings = {"folds": folds, "epochs_cap": cap, "test_share": args.test_share, "quick": args.quick, "floor": args.floor,
                "every_series": args.every_series, "window": "expanding", "val_share": BacktestSpec().val_share,
                "command": " ".join(["python bench/quality.py", *(argv if argv is not None else sys.argv[1:])])}
    for i, (name, s) in enumerate(todo, 1):
        if s not in candles:
            candles[s] = load_sample(s)
        row = run_pair(PRESETS[name], s, candles[s], folds, args.test_share, cap, args.floor)
        rows.append(row)
        if row["status"] == "ok":
            print(f"[{i}/{len(todo)}] {name} x {s}: RMSE / persistence {row['ratio']:.4f}, p {_p(row['p_value'])}, "
                  f"vs best naive ({row['best_naive']}) {_pct(row['skill_vs_best_naive'])}, "
                  f"p {_p(row['p_vs_best_naive'])}, "
                  f"won {row['fold_wins']}/{row['folds_done']} folds, {row['forecasts']} forecasts, "
                  f"{row['seconds']:.0f} s", flush=True)
        else:
            print(f"[{i}/{len(todo)}] {name} x {s}: FAILED — {row['reason']}", flush=True)
        # written after every pair, so a long run that is stopped keeps what it measured
        save_results("quality", {**settings, "seconds": time.perf_counter() - started, "rows": rows,
                                 "not_run": skipped, "goals": goal_statements(rows)}, out)

    table = markdown_table(rows)
    goals = goal_statements(rows)
    total = time.perf_counter() - started
    text = "\n".join([table, "", *[f"- {g}" for g in goals], "",
                      f"{len(rows)} pairs, {folds} folds, epochs cap {cap or 'none'}, floor {args.floor}, {total:.0f} s"])
    print(text)
    save_results("quality", {**settings, "seconds": total, "rows": rows, "not_run": skipped, "goals": goals}, out)
    out.with_suffix(".md").write_text(text + "\n")
    print(f"saved {out} and {out.with_suffix('.md')}")


if __name__ == "__main__":
    main()
