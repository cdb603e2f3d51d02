"""An experiment's numbers: one row per trial, the per-setting summary ranked by the networks' own test
RMSE (never crowning a setting whose runs fall back to 'no change') with a
Welch test against the best and against persistence, a plain-language reading of the ranking, the
seed's comparison table (with persistence's row) and the loss curves as a long table. Pure
pandas/numpy on trial records; nothing here trains.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from pricecast.experiments.spec import ExperimentSpec

# In the frame, ``test_rmse`` and ``skill`` are the trial's NETWORK's own scores (what an experiment
# compares and ranks: a setting that falls back to 'no change' must still show what its network learned);
# ``decision_rmse`` and ``decision_skill`` are those of the forecast the run uses (the record's test_rmse/skill).
TRIAL_COLUMNS = ("key", "variation", "label", "repeat", "seed", "status", "test_rmse", "persistence_rmse", "skill",
                 "decision_rmse", "decision_skill", "decision", "decision_p",
                 "test_mae", "test_direction", "val_rmse", "best_val_loss", "best_epoch", "epochs_run",
                 "train_seconds", "seconds_per_epoch", "params", "device", "run_dir", "error",
                 # walk-forward trials only (an experiment with folds): pooled over the folds
                 "folds", "paired_p", "fold_wins",
                 "as_persistence",  # share of the trial's runs (folds) that fell back to 'no change'
                 "fused")  # how many trials trained together with this one (itself included; 1: alone)


def _network_view(record: dict) -> dict:
    """A trial record as the frame holds it: the network's scores as ``test_rmse``/``skill`` (records
    from before the decision have only the model's, which was then the one used)."""
    row = {c: record.get(c) for c in TRIAL_COLUMNS}
    row["decision_rmse"], row["decision_skill"] = record.get("test_rmse"), record.get("skill")
    if record.get("network_rmse") is not None:
        row["test_rmse"], row["skill"] = record.get("network_rmse"), record.get("network_skill")
    if row["decision"] is None and record.get("status") == "ok":
        row["decision"] = "persistence" if (record.get("as_persistence") or 0) > 0.5 else "network"
    return row


def trials_frame(records: Iterable[dict], exp: ExperimentSpec | None = None) -> pd.DataFrame:
    """One row per trial record (no histories), in the experiment's variation order."""
    rows = [_network_view(r) for r in records]
    frame = pd.DataFrame(rows, columns=list(TRIAL_COLUMNS))
    if exp is not None and len(frame):
        order = {v.id: i for i, v in enumerate(exp.variations)}
        labels = {v.id: v.label for v in exp.variations}
        frame = frame[frame["variation"].isin(order)].copy()
        frame["label"] = frame["variation"].map(labels)
        frame["_order"] = frame["variation"].map(order)
        frame = frame.sort_values(["_order", "repeat"]).drop(columns="_order").reset_index(drop=True)
    for col in ("test_rmse", "persistence_rmse", "skill", "decision_rmse", "decision_skill", "decision_p", "test_mae",
                "test_direction", "val_rmse", "best_val_loss", "train_seconds", "seconds_per_epoch"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(float)
    for col in ("paired_p", "folds", "fold_wins", "as_persistence", "fused"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(float)
    # below 1 beats persistence on the trial's own test windows
    frame["ratio"] = frame["test_rmse"] / frame["persistence_rmse"].where(frame["persistence_rmse"] > 0)
    return frame


def _stats(values: pd.Series) -> dict[str, float]:
    v = values.dropna().to_numpy(dtype=float)
    if len(v) == 0:
        return {"mean": math.nan, "std": math.nan, "median": math.nan, "min": math.nan, "max": math.nan}
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else math.nan,
            "median": float(np.median(v)), "min": float(v.min()), "max": float(v.max())}


def welch_p(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided Welch t-test p-value for 'same mean' (NaN when it cannot be told: < 2 values)."""
    a = np.asarray([x for x in a if x is not None and np.isfinite(x)], dtype=float)
    b = np.asarray([x for x in b if x is not None and np.isfinite(x)], dtype=float)
    if len(a) < 2 or len(b) < 2:
        return math.nan
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    diff = a.mean() - b.mean()
    if va + vb == 0:
        return 1.0 if diff == 0 else 0.0
    t = diff / math.sqrt(va + vb)
    dof = (va + vb) ** 2 / ((va ** 2 / (len(a) - 1) if len(a) > 1 else 0) + (vb ** 2 / (len(b) - 1) if len(b) > 1 else 0))
    try:
        # P(|T| > t) for Student's t with dof degrees = I_{dof/(dof+t^2)}(dof/2, 1/2), from
        # scipy.special (~0.2 s to import) rather than scipy.stats (1-4 s). Imported here, not at the
        # top, on purpose: this module loads with the Experiments page, and SciPy is only needed once
        # there are p-values to compute (page speed, docs/BENCHMARKS.md section 4).
        from scipy.special import betainc

        return float(betainc(dof / 2, 0.5, dof / (dof + t * t)))
    except ImportError:  # normal approximation: fine for the 'is it within the spread' question
        return float(math.erfc(abs(t) / math.sqrt(2)))


SIGNIFICANCE = 0.05


def summarize(frame: pd.DataFrame, exp: ExperimentSpec | None = None) -> pd.DataFrame:
    """Per variation: count, mean/std/median/min/max of test RMSE and of skill vs persistence, best
    validation loss (mean and lowest), training time; ranked by mean test RMSE (lower is better),
    with ``vs_best``: whether the gap to the best is beyond the run-to-run spread (Welch p < 0.05)."""
    if exp is not None:
        order = [(v.id, v.label) for v in exp.variations]
    else:
        seen = frame.drop_duplicates("variation")
        order = list(zip(seen["variation"], seen["label"]))
    ok = frame[frame["status"] == "ok"] if len(frame) else frame
    rows = []
    for vid, label in order:
        part = ok[ok["variation"] == vid]
        errors = int(((frame["variation"] == vid) & (frame["status"] != "ok")).sum()) if len(frame) else 0
        rmse, skill, ratio = _stats(part["test_rmse"]), _stats(part["skill"]), _stats(part["ratio"])
        rows.append({
            "variation": vid, "label": label, "n": int(len(part)), "errors": errors,
            **{f"test_rmse_{k}": v for k, v in rmse.items()},
            **{f"skill_{k}": v for k, v in skill.items()},
            **{f"ratio_{k}": v for k, v in ratio.items()},
            # the seeds' RMSEs against persistence's on the same windows: with persistence the same
            # for every seed this is a one-sample t-test of the mean RMSE against it
            "p_vs_persistence": welch_p(part["test_rmse"].tolist(), part["persistence_rmse"].tolist()),
            "persistence_rmse": float(part["persistence_rmse"].mean()) if len(part) else math.nan,
            "as_persistence": float(part["as_persistence"].mean()) if part["as_persistence"].notna().any() else math.nan,
            "best_val_loss_mean": float(part["best_val_loss"].mean()) if len(part) else math.nan,
            "best_val_loss_min": float(part["best_val_loss"].min()) if len(part) else math.nan,
            "train_seconds_mean": float(part["train_seconds"].mean()) if len(part) else math.nan,
            "seconds_per_epoch": float(part["seconds_per_epoch"].mean()) if len(part) else math.nan,
            "params": int(part["params"].iloc[0]) if len(part) and part["params"].iloc[0] is not None else None,
            "fused": float(part["fused"].fillna(1).max()) if len(part) else math.nan,
        })
    summary = pd.DataFrame(rows)
    if summary.empty:
        return summary
    summary = summary.sort_values(["test_rmse_mean", "variation"], na_position="last", kind="mergesort")
    summary = summary.reset_index(drop=True)
    summary.insert(0, "rank", np.arange(1, len(summary) + 1))
    best = summary.iloc[0]
    best_values = ok[ok["variation"] == best["variation"]]["test_rmse"].tolist()
    p_values, verdicts = [], []
    for _, row in summary.iterrows():
        if row["n"] == 0:
            p_values.append(math.nan)
            verdicts.append("no results")
            continue
        if row["variation"] == best["variation"]:
            p_values.append(math.nan)
            verdicts.append("best")
            continue
        p = welch_p(ok[ok["variation"] == row["variation"]]["test_rmse"].tolist(), best_values)
        p_values.append(p)
        if math.isnan(p):
            verdicts.append("too few repeats to tell")
        elif p < SIGNIFICANCE:
            verdicts.append("worse beyond the spread")
        else:
            verdicts.append("within the spread")
    summary["p_vs_best"] = p_values
    summary["vs_best"] = verdicts
    summary["vs_persistence"] = [_vs_persistence(r) for _, r in summary.iterrows()]
    return summary


def _vs_persistence(row: pd.Series) -> str:
    if row["n"] == 0 or not np.isfinite(row["ratio_mean"]):
        return "no results"
    if not np.isfinite(row["p_vs_persistence"]):
        return "too few repeats to tell"
    if row["p_vs_persistence"] >= SIGNIFICANCE:
        return "within the spread"
    return "better beyond the spread" if row["ratio_mean"] < 1 else "worse beyond the spread"


def common_persistence(summary: pd.DataFrame) -> float | None:
    """Persistence's RMSE when every setting was tested on the same windows (then it is one more
    contender in the ranking), else None (settings that change N or the data see other windows)."""
    levels = summary.loc[summary["n"] > 0, "persistence_rmse"].dropna().to_numpy(dtype=float)
    if len(levels) == 0 or not np.allclose(levels, levels[0], rtol=1e-9, atol=0.0):
        return None
    return float(levels[0])


def persistence_ranking(summary: pd.DataFrame) -> str:
    """One line: every setting's mean RMSE / persistence, best first, with persistence (1) in place
    and, where the repeats can tell, whether the gap to it is beyond the run-to-run spread."""
    done = summary[(summary["n"] > 0) & summary["ratio_mean"].notna()].sort_values("ratio_mean", kind="mergesort")
    if done.empty:
        return ""
    items: list[tuple[float, str]] = []
    placed = False
    for _, r in done.iterrows():
        if not placed and r["ratio_mean"] >= 1.0:
            items.append((1.0, "persistence 1"))
            placed = True
        p = r["p_vs_persistence"]
        mark = "" if not np.isfinite(p) else f" (p {p:.2g})" if p >= 0.001 else " (p < 0.001)"
        if _fell_back(r):
            mark += " [falls back: = persistence]"
        items.append((r["ratio_mean"], f"{r['label']} {r['ratio_mean']:.4f}{mark}"))
    if not placed:
        items.append((1.0, "persistence 1"))
    line = items[0][1]
    for (before, _), (value, text) in zip(items, items[1:]):
        line += (" = " if round(before, 4) == round(value, 4) else " < ") + text  # a tie is not a ranking
    better = done[done["vs_persistence"] == "better beyond the spread"]["label"].tolist()
    verdict = (f"{_join(better)} beat{'s' if len(better) == 1 else ''} it beyond the run-to-run spread."
               if better else "None beats it beyond the run-to-run spread.")
    if (done["as_persistence"] == 1.0).all():
        verdict += (" Every setting falls back to 'no change' (= persistence): no network beat it on validation by "
                    "more than noise, so none is used or crowned; the ratios are the networks' own.")
    return f"Networks' RMSE / persistence, best first: {line}. {verdict}"


def _fell_back(row: pd.Series) -> bool:
    """Every run of this setting fell back to 'no change' on validation: it is never crowned."""
    share = row.get("as_persistence")
    return share is not None and bool(np.isfinite(share)) and share >= 1.0


def decision_text(share: float | None) -> str:
    """The decision column: which forecast a setting's runs use."""
    if share is None or not np.isfinite(share) or share <= 0:
        return "network" if share is not None and np.isfinite(share) else "-"
    return "= persistence" if share >= 1.0 else f"{share:.0%} = persistence"


def ranking_note(summary: pd.DataFrame) -> str:
    """A plain-language reading of the ranking."""
    if summary.empty or summary["n"].max() == 0:
        return "No finished trials yet."
    best = summary.iloc[0]
    tied = summary[summary["vs_best"] == "within the spread"]["label"].tolist()
    unclear = summary[summary["vs_best"] == "too few repeats to tell"]["label"].tolist()
    parts = [f"Lowest mean network test RMSE: {best['label']} ({best['test_rmse_mean']:.4g}"
             + (f" ± {best['test_rmse_std']:.2g}" if np.isfinite(best["test_rmse_std"]) else "")
             + f" over {int(best['n'])} run{'s' if best['n'] != 1 else ''})."]
    if _fell_back(best):
        # a network that does not beat 'no change' on validation is not used: it is never crowned
        used = [r for _, r in summary.iterrows() if r["n"] > 0 and not _fell_back(r)]
        parts.append("It is not crowned: its runs fall back to 'no change' on validation (= persistence)."
                     + (f" Best network in use: {used[0]['label']} ({used[0]['test_rmse_mean']:.4g})." if used else ""))
    if tied:
        parts.append(f"Its lead over {_join(tied)} is within the run-to-run spread (Welch test p ≥ {SIGNIFICANCE}): "
                     "with these repeats they cannot be told apart; more repeats might.")
    if unclear:
        parts.append(f"{_join(unclear)}: too few finished runs to compare (need at least 2 per setting).")
    if not tied and not unclear and len(summary) > 1:
        parts.append("Every other setting is worse beyond the run-to-run spread (Welch test p < "
                     f"{SIGNIFICANCE}).")
    beats = summary[(summary["n"] > 0) & (summary["skill_mean"] > 0)]
    if beats.empty:
        parts.append("No setting beats persistence (tomorrow = today) on average: skill vs persistence is "
                     "not above 0 for any of them.")
    else:
        parts.append(f"{len(beats)} of {int((summary['n'] > 0).sum())} settings beat persistence on average "
                     f"(mean skill above 0).")
    if line := persistence_ranking(summary):
        parts.append(line)
    return " ".join(parts)


def _join(items: list[str]) -> str:
    items = [str(i) for i in items]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def comparison_table(summary: pd.DataFrame) -> pd.DataFrame:
    """The seed's architecture table, with the spread: one row per setting, plain column names, and
    persistence's own row in its place in the ranking when every setting saw the same test windows."""
    if summary.empty:
        return pd.DataFrame()

    def pm(mean: float, std: float) -> str:
        if not np.isfinite(mean):
            return "-"
        return f"{mean:.4g} ± {std:.2g}" if np.isfinite(std) else f"{mean:.4g}"

    table = pd.DataFrame({
        "Rank": summary["rank"].astype(str),
        "Setting": summary["label"],
        "Runs": summary["n"],
        "Best val loss (lowest)": summary["best_val_loss_min"],
        "Best val loss (mean)": summary["best_val_loss_mean"],
        "Test RMSE (mean ± sd)": [pm(m, s) for m, s in zip(summary["test_rmse_mean"], summary["test_rmse_std"])],
        "Test RMSE median": summary["test_rmse_median"],
        "Persistence RMSE": summary["persistence_rmse"],
        "RMSE / persistence (mean)": summary["ratio_mean"],
        "Skill vs persistence (mean)": summary["skill_mean"],
        "p vs persistence": summary["p_vs_persistence"],
        "Gap to persistence": summary["vs_persistence"],
        "Decision": [decision_text(v) for v in summary["as_persistence"]],
        "Parameters": summary["params"],
        "Seconds per epoch": summary["seconds_per_epoch"],  # a fused trial's share of its group's epoch
        "Trained together": [together_text(v) for v in summary["fused"]],
        "Gap to best": summary["vs_best"],
    })
    level = common_persistence(summary)
    if level is None:
        return table
    row = {c: None for c in table.columns}
    row.update({"Rank": "–", "Setting": "Persistence (no change)", "Test RMSE (mean ± sd)": f"{level:.4g}",
                "Test RMSE median": level, "Persistence RMSE": level, "RMSE / persistence (mean)": 1.0,
                "Skill vs persistence (mean)": 0.0, "Parameters": 0, "Gap to persistence": "the yardstick", "Decision": "",
                "Trained together": "", "Gap to best": ""})
    at = int((summary["test_rmse_mean"] < level).sum())
    return pd.concat([table.iloc[:at], pd.DataFrame([row]), table.iloc[at:]], ignore_index=True)


def together_text(branches: float) -> str:
    """How a setting's trials trained: "alone", or "in groups of up to R" (:mod:`pricecast.training.fused`)."""
    if not np.isfinite(branches) or branches <= 1:
        return "alone"
    return f"in groups of up to {int(branches)}"


def histories(records: Iterable[dict]) -> pd.DataFrame:
    """Long table of every trial's loss curves: key, variation, label, repeat, epoch, loss, val_loss."""
    rows = []
    for r in records:
        h = r.get("history") or {}
        for i, (loss, val) in enumerate(zip(h.get("loss", []), h.get("val_loss", h.get("loss", [])))):
            rows.append({"key": r["key"], "variation": r["variation"], "label": r.get("label", r["variation"]),
                         "repeat": r["repeat"], "epoch": i + 1, "loss": loss, "val_loss": val})
    return pd.DataFrame(rows, columns=["key", "variation", "label", "repeat", "epoch", "loss", "val_loss"])
