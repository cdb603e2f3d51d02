"""Experiment statistics: summary on known numbers, Welch's p without scipy.stats, edge cases."""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from pricecast.experiments.stats import comparison_table, ranking_note, summarize, trials_frame, welch_p

from .conftest import trial_records

REPO = Path(__file__).resolve().parents[2]


def test_summary_statistics_on_known_numbers():
    records = trial_records({"a": [1.0, 2.0, 3.0], "b": [10.0, 11.0, 12.0], "c": [1.6, 2.6, 3.6]})
    frame = trials_frame(records)
    summary = summarize(frame).set_index("variation")
    a = summary.loc["a"]
    assert a["rank"] == 1 and a["n"] == 3
    assert a["test_rmse_mean"] == pytest.approx(2.0)
    assert a["test_rmse_std"] == pytest.approx(1.0)  # sample std (ddof=1)
    assert (a["test_rmse_median"], a["test_rmse_min"], a["test_rmse_max"]) == (2.0, 1.0, 3.0)
    assert a["skill_mean"] == pytest.approx(0.2) and a["persistence_rmse"] == 2.5
    assert a["best_val_loss_min"] == pytest.approx(0.1) and a["best_val_loss_mean"] == pytest.approx(0.2)
    assert a["train_seconds_mean"] == pytest.approx(2.0)
    assert list(summary.sort_values("rank").index) == ["a", "c", "b"]
    assert summary.loc["a", "vs_best"] == "best"
    assert summary.loc["c", "vs_best"] == "within the spread"
    assert summary.loc["b", "vs_best"] == "worse beyond the spread"
    scipy_stats = pytest.importorskip("scipy.stats")
    expected = scipy_stats.ttest_ind([10.0, 11.0, 12.0], [1.0, 2.0, 3.0], equal_var=False).pvalue
    assert summary.loc["b", "p_vs_best"] == pytest.approx(expected)
    note = ranking_note(summarize(frame))
    assert "Lowest mean network test RMSE: A" in note and "within the run-to-run spread" in note and "C" in note
    assert "1 of 3 settings beat persistence" in note
    table = comparison_table(summarize(frame))
    # persistence (2.5) ranks between A (2.0) and C (2.6): its own row, in place
    assert list(table["Setting"]) == ["A", "Persistence (no change)", "C", "B"]
    assert table["Test RMSE (mean ± sd)"].iloc[0] == "2 ± 1" and list(table["Rank"]) == ["1", "–", "2", "3"]


def test_the_table_says_which_settings_trained_together():
    records = trial_records({"a": [1.0, 2.0, 3.0], "b": [10.0, 11.0, 12.0]})
    for r in records:
        if r["variation"] == "a":
            r["fused"] = 3
    older = trial_records({"c": [5.0, 6.0]})  # records from before fusing carry no count
    table = comparison_table(summarize(trials_frame(records + older))).set_index("Setting")
    assert table.loc["A", "Trained together"] == "in groups of up to 3"
    assert table.loc["B", "Trained together"] == "alone" and table.loc["C", "Trained together"] == "alone"


def test_welch_p_matches_the_t_distribution_without_loading_scipy_stats():
    # scipy.stats takes 1-4 s to import and the Experiments page computes p-values when it opens.
    script = ("import json, sys\n"
              "from pricecast.experiments.stats import welch_p\n"
              "p = welch_p([1.0, 1.2, 0.9, 1.1, 1.05], [1.3, 1.5, 1.2, 1.6, 1.1, 1.4, 1.45])\n"
              "print(json.dumps({'p': p, 'stats': 'scipy.stats' in sys.modules}))\n")
    out = json.loads(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                                    cwd=REPO).stdout.strip().splitlines()[-1])
    assert out["stats"] is False
    assert out["p"] == pytest.approx(0.0035685, rel=1e-4)  # Welch's two-sided p (scipy.stats.ttest_ind, equal_var=False)


def test_welch_edge_cases_and_single_runs():
    assert math.isnan(welch_p([1.0], [2.0, 3.0]))
    assert welch_p([1.0, 1.0], [1.0, 1.0]) == 1.0
    assert welch_p([1.0, 1.0], [2.0, 2.0]) == 0.0
    summary = summarize(trials_frame(trial_records({"a": [1.0], "b": [2.0]})))
    assert summary.set_index("variation").loc["b", "vs_best"] == "too few repeats to tell"
    assert math.isnan(summary["test_rmse_std"].iloc[0])
    assert "too few finished runs" in ranking_note(summary)


def test_settings_are_ranked_against_persistence_with_a_test_over_the_seeds():
    # persistence 2.5 on every trial: a (1.0, 1.1, 0.9) beats it beyond the spread, b (2.3, 2.6, 2.5)
    # cannot be told from it, c (3.0, 3.1, 2.9) loses beyond the spread
    records = trial_records({"a": [1.0, 1.1, 0.9], "b": [2.3, 2.6, 2.5], "c": [3.0, 3.1, 2.9]})
    summary = summarize(trials_frame(records)).set_index("variation")
    assert summary.loc["a", "ratio_mean"] == pytest.approx(1.0 / 2.5)
    assert summary.loc["c", "ratio_mean"] == pytest.approx(3.0 / 2.5)
    assert summary.loc["a", "vs_persistence"] == "better beyond the spread"
    assert summary.loc["b", "vs_persistence"] == "within the spread"
    assert summary.loc["c", "vs_persistence"] == "worse beyond the spread"
    scipy_stats = pytest.importorskip("scipy.stats")
    expected = scipy_stats.ttest_1samp([3.0, 3.1, 2.9], 2.5).pvalue  # persistence is the same for every seed
    assert summary.loc["c", "p_vs_persistence"] == pytest.approx(expected)
    note = ranking_note(summarize(trials_frame(records)))
    assert "RMSE / persistence, best first: A 0.4000 (p " in note
    assert note.index("B 0.") < note.index("persistence 1 < C 1.2000") and "A beats it beyond" in note
    table = comparison_table(summarize(trials_frame(records)))
    assert list(table["Setting"]) == ["A", "B", "Persistence (no change)", "C"]
    assert table.loc[2, "RMSE / persistence (mean)"] == 1.0 and table.loc[2, "Test RMSE median"] == 2.5


def test_no_persistence_row_when_the_settings_saw_other_test_windows():
    records = trial_records({"a": [1.0, 1.1], "b": [2.4, 2.7]})
    for r in records[2:]:
        r["persistence_rmse"] = 2.0  # another N: other test windows, another persistence
    table = comparison_table(summarize(trials_frame(records)))
    assert "Persistence (no change)" not in set(table["Setting"])
    assert list(table["RMSE / persistence (mean)"]) == pytest.approx([1.05 / 2.5, 2.55 / 2.0])


def test_the_note_says_when_every_setting_falls_back_to_persistence():
    records = trial_records({"a": [2.4, 2.45], "b": [2.6, 2.55]})
    assert "Every setting falls back" not in ranking_note(summarize(trials_frame(records)))
    for r in records:
        r["as_persistence"] = 1.0
    summary = summarize(trials_frame(records))
    note = ranking_note(summary)
    assert "Lowest mean network test RMSE: A" in note and "It is not crowned" in note
    assert "none is used or crowned" in note and "[falls back: = persistence]" in note
    assert "Every setting falls back to 'no change'" in note
    assert list(comparison_table(summary)["Decision"]) == ["= persistence", "", "= persistence"]


def test_experiments_rank_the_networks_and_never_crown_a_fallback():
    # every trial's decision fell back to persistence (its test_rmse = persistence's, 2.5); the networks differ
    records = trial_records({"a": [2.5, 2.5], "b": [2.5, 2.5], "c": [2.5, 2.5]})
    networks = {"a": [2.6, 2.7], "b": [2.2, 2.25], "c": [2.4, 2.3]}
    for r in records:
        x = networks[r["variation"]][r["repeat"]]
        r.update(network_rmse=x, network_skill=1 - x / 2.5, decision="persistence", decision_p=0.3,
                 as_persistence=0.0 if r["variation"] == "c" else 1.0)
        if r["variation"] == "c":
            r.update(decision="network", test_rmse=x, skill=1 - x / 2.5)
    frame = trials_frame(records)
    assert frame["test_rmse"].nunique() == 6  # the networks' own scores, not six copies of persistence
    assert set(frame["decision_rmse"][frame["decision"] == "persistence"]) == {2.5}
    summary = summarize(frame)
    assert list(summary["variation"]) == ["b", "c", "a"]
    note = ranking_note(summary)
    assert note.startswith("Lowest mean network test RMSE: B") and "It is not crowned" in note
    assert "Best network in use: C" in note
    table = comparison_table(summary)
    assert dict(zip(table["Setting"], table["Decision"]))["C"] == "network"
