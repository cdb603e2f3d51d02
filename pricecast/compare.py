"""What-if: two or more saved runs compared — the settings that differ, the networks' and the decisions'
scores side by side, and a paired test of the networks on the test forecasts they share.

Runs are compared by their **networks'** own forecasts (a run that fell back to "no change" still has
its network's), matched by origin time and horizon step from each run's ``predictions.csv``. Only
forecasts of the same value at the same time are paired: runs on other data or another target share
none, and then no p-value is given, rather than one about different things. Reads run folders only
(no Keras, no Streamlit); the dashboard's Runs page and ``pricecast runs compare`` both call
:func:`compare_runs`.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pricecast.catalogue import setting_text, settings_of
from pricecast.data.datasets import display_name
from pricecast.errors import PricecastError
from pricecast.evaluation.leakage import paired_test
from pricecast.experiments.presets import CUSTOM, build_experiment
from pricecast.experiments.spec import ExperimentSpec, Variation, variation_id
from pricecast.jsonable import jsonable
from pricecast.paths import runs_dir
from pricecast.presets import REPORTING_ONLY, setup_label
from pricecast.specs import RunSpec

# Where a setup came from is no setting of it: two runs of one setup, one edited back, compare equal.
NOT_COMPARED = ("preset", *REPORTING_ONLY)
# Settings an experiment cannot vary: its repeats set the seed themselves.
NOT_AN_AXIS = ("seed",)
NOISE_P = 0.05


class CompareError(PricecastError):
    """Runs that cannot be compared (fewer than two, a missing or damaged folder), with what to do."""


@dataclass
class RunScores:
    """One run of a comparison: its label, its differing settings and its test scores (``network_*``:
    the network's own; ``used_*``: the forecast its decision uses, which is the network's or 'no change')."""

    run: str
    run_dir: str
    label: str
    data: str
    target: str
    differs: dict[str, Any]
    network_rmse: float | None
    network_skill: float | None
    decision: str
    decision_p: float | None
    used_rmse: float | None
    used_skill: float | None
    persistence_rmse: float | None
    test_forecasts: int

    @property
    def name(self) -> str:
        """How a sentence names it: what differs (``N=60``), else its label and time."""
        if self.differs:
            return " ".join(setting_text(k, _shown(k, v)) for k, v in self.differs.items())
        return f"{self.label} ({_when(self.run)})"


@dataclass
class PairTest:
    """The networks of runs ``a`` and ``b`` on the test forecasts both made (same time, same step, same
    actual value). ``p`` is two-sided (None: no test, ``reason`` says why); ``rmse_*`` on the shared ones."""

    a: str
    b: str
    shared_forecasts: int
    shared_windows: int
    rmse_a: float | None
    rmse_b: float | None
    skill_a: float | None  # 1 - RMSE / persistence's RMSE on the shared forecasts
    skill_b: float | None
    t: float | None
    p: float | None
    better: str | None  # the run (by name) whose network forecast better beyond noise, else None
    reason: str
    sentence: str


@dataclass
class Comparison:
    runs: list[RunScores]
    differing: dict[str, list[Any]]  # setting -> its value in each run, for the settings that differ
    pairs: list[PairTest] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # each run's network_forecasts (for the overlay chart; not part of the JSON)
    forecasts: list[pd.DataFrame] = field(default_factory=list, repr=False)

    @property
    def sentences(self) -> list[str]:
        return [p.sentence for p in self.pairs]

    def scores_frame(self) -> pd.DataFrame:
        """One row per run: label, data, the network's and the decision's scores."""
        return pd.DataFrame([{
            "run": r.name, "label": r.label, "data": display_name(r.data),
            "network_rmse": r.network_rmse, "network_skill": r.network_skill, "decision": r.decision,
            "decision_p": r.decision_p, "used_rmse": r.used_rmse, "used_skill": r.used_skill,
            "persistence_rmse": r.persistence_rmse, "test_forecasts": r.test_forecasts} for r in self.runs])

    def differing_frame(self) -> pd.DataFrame:
        """The settings that differ, one row each, one column per run (named by its label and time)."""
        columns = _unique([f"{r.label} ({_when(r.run)})" for r in self.runs])
        return pd.DataFrame({col: [_text(k, v[i]) for k, v in self.differing.items()] for i, col in enumerate(columns)},
                            index=pd.Index(list(self.differing), name="setting"))

    def to_dict(self) -> dict:
        return jsonable({"runs": [asdict(r) | {"name": r.name} for r in self.runs],
                       "differing": self.differing, "pairs": [asdict(p) for p in self.pairs],
                       "sentences": self.sentences, "notes": self.notes})


def resolve_run(ref: str | Path, root: Path | None = None) -> Path:
    """A run folder from a path or a bare run name (as ``pricecast runs`` lists it)."""
    folder = Path(ref).expanduser()
    if not folder.exists() and not folder.is_absolute():
        folder = (Path(root) if root else runs_dir()) / folder
    if not (folder / "spec.json").is_file():
        raise CompareError(f"{ref}: not a run folder (no spec.json there); `pricecast runs` lists the saved runs")
    return folder.resolve()  # one run named by path and by name is one run


def compare_runs(refs: Sequence[str | Path], root: Path | None = None) -> Comparison:
    """Compare two or more saved runs; the first is the reference each other run is tested against."""
    folders = list(dict.fromkeys(resolve_run(r, root) for r in refs))
    if len(folders) < 2:
        raise CompareError("pick at least two different runs to compare")
    specs = [_spec(f) for f in folders]
    metrics = [_json(f / "metrics.json") for f in folders]
    settings = [settings_of(s) for s in specs]
    differing = {name: [s[name] for s in settings] for name in settings[0]
                 if name not in NOT_COMPARED and any(s[name] != settings[0][name] for s in settings)}
    forecasts = [network_forecasts(f) for f in folders]
    runs = [_scores(f, spec, m, {k: v[i] for k, v in differing.items()}, len(fc))
            for i, (f, spec, m, fc) in enumerate(zip(folders, specs, metrics, forecasts))]
    pairs = [pair_test(runs[0], runs[i], forecasts[0], forecasts[i], max(specs[0].window.k, specs[i].window.k))
             for i in range(1, len(runs))]
    notes = []
    if loss_note(differing):
        notes.append(loss_note(differing))
    if len(runs) > 2:
        notes.append(f"Each run is tested against the first ({runs[0].name}); with {len(runs) - 1} tests, one p below "
                     f"{NOISE_P:g} in {round(1 / NOISE_P)} comes by chance.")
    return Comparison(runs, differing, pairs, notes, forecasts)


# Settings that change what a validation loss is measured on (its windows, its scaled units).
LOSS_SETTINGS = ("data", "n", "k", "stride", "split", "features", "target", "scaling", "loss")


def loss_note(differing: Mapping[str, Any]) -> str:
    """What to say when runs' loss curves are not comparable in height; ``""`` when they are."""
    changed = [setting_text(k, "").rstrip("=") for k in LOSS_SETTINGS if k in differing]
    if not changed:
        return ""
    return (f"These runs differ in {', '.join(changed)}: their validation losses are measured on other windows or in "
            "other scaled units, so compare them by the test scores and the paired test, not by the height of "
            "their loss curves.")


def network_forecasts(folder: Path) -> pd.DataFrame:
    """A run's test forecasts, one row per (origin, step): ``origin_time``, ``step``, ``time``, ``actual``,
    ``persistence`` and ``forecast``, the network's own (``predicted`` in folders from before the decision)."""
    path = folder / "predictions.csv"
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise CompareError(f"{path} cannot be read ({exc}); train this run again") from None
    if frame.empty or not {"origin_time", "step", "actual"} <= set(frame.columns):
        return pd.DataFrame(columns=["origin_time", "step", "time", "actual", "persistence", "forecast"])
    if "part" in frame:
        frame = frame[frame["part"] == "test"]
    own = "network" if "network" in frame else "predicted"
    out = pd.DataFrame({"origin_time": pd.to_datetime(frame["origin_time"], utc=True), "step": frame["step"].astype(int),
                        "time": pd.to_datetime(frame.get("time", frame["origin_time"]), utc=True),
                        "actual": frame["actual"].astype(float),
                        "persistence": frame["persistence"].astype(float) if "persistence" in frame else np.nan,
                        "forecast": frame[own].astype(float)})
    return out.reset_index(drop=True)


def pair_test(a: RunScores, b: RunScores, fa: pd.DataFrame, fb: pd.DataFrame, k: int) -> PairTest:
    """Run ``a``'s network against ``b``'s on the test forecasts both made. The per-window losses
    (squared error, averaged over the shared steps) are paired; the t statistic's variance spans K-1
    lags, as overlapping windows share errors (:func:`~pricecast.evaluation.leakage.paired_test`)."""
    names = f"{a.name} vs {b.name}"
    shared = fa.merge(fb, on=["origin_time", "step"], suffixes=("_a", "_b"))
    same_value = np.isclose(shared["actual_a"], shared["actual_b"], rtol=1e-9, atol=1e-12) if len(shared) else []
    shared = shared[same_value] if len(shared) else shared
    if not len(shared):
        why = (f"they forecast different data ({display_name(a.data)} vs {display_name(b.data)})" if a.data != b.data
               else "they share no test forecast of the same value at the same time (another target, or test "
                    "parts that do not overlap)")
        return PairTest(a.name, b.name, 0, 0, None, None, None, None, None, None, None, why,
                        f"{names}: {_pct(a.network_skill)} vs {_pct(b.network_skill)} skill, each on its own test "
                        f"part; no paired test: {why}.")
    err_a = (shared["forecast_a"] - shared["actual_a"]) ** 2
    err_b = (shared["forecast_b"] - shared["actual_b"]) ** 2
    windows = pd.DataFrame({"origin": shared["origin_time"], "a": err_a, "b": err_b}).groupby("origin").mean()
    rmse_a, rmse_b = float(np.sqrt(err_a.mean())), float(np.sqrt(err_b.mean()))
    # Skill on the shared forecasts, so the numbers in the sentence are the ones the test is about
    # (each run's own test part may be longer: another N leaves other windows).
    pers = float(np.sqrt(((shared["persistence_a"] - shared["actual_a"]) ** 2).mean()))
    skill_a, skill_b = (_num(1 - r / pers) if pers > 0 else None for r in (rmse_a, rmse_b))
    count = f"{len(shared):,} shared test forecasts"
    head = f"{names}: {_pct(skill_a)} vs {_pct(skill_b)} skill on their {count}"
    t, p = paired_test((windows["a"] - windows["b"]).to_numpy(), lag=max(int(k) - 1, 1))
    if not np.isfinite(p):
        why = f"too few shared test windows for a paired test ({len(windows)})"
        return PairTest(a.name, b.name, len(shared), len(windows), rmse_a, rmse_b, skill_a, skill_b, None, None, None,
                        why, f"{head}; {why}.")
    better = None
    if p < NOISE_P:
        better = a.name if t < 0 else b.name
        verdict = f"{better}'s network forecasts better, beyond noise (p = {p:.2g})"
    else:
        verdict = f"the difference is within noise (p = {p:.2g})"
    return PairTest(a.name, b.name, len(shared), len(windows), rmse_a, rmse_b, skill_a, skill_b, float(t), float(p),
                    better, "", f"{head}; {verdict}.")


def repeat_experiment(comparison: Comparison, repeats: int = 3) -> ExperimentSpec:
    """A small custom experiment that trains each compared setup ``repeats`` times (new seeds): the
    settings that differ are its axes over the first run's setup. Exactly the compared combinations
    are trained, not every cross of them."""
    axes = {k: _unique_values(v) for k, v in comparison.differing.items() if k not in NOT_AN_AXIS}
    if not axes:
        raise CompareError("these runs differ in no setting an experiment can vary (only their seed): "
                           "repeat one of them instead, with an experiment's repeats")
    base = _spec(Path(comparison.runs[0].run_dir))
    variations: list[Variation] = []
    for i in range(len(comparison.runs)):
        overrides = {k: comparison.differing[k][i] for k in axes}
        v = Variation(variation_id(overrides), overrides, label=" ".join(setting_text(k, _shown(k, x))
                                                                         for k, x in overrides.items()))
        if v.id not in {u.id for u in variations}:
            variations.append(v)
    # The same comparison repeated again resumes its experiment (same name), as experiments do.
    digest = hashlib.sha1(json.dumps([base.to_dict(), [v.id for v in variations], repeats], sort_keys=True,
                                     default=str).encode()).hexdigest()[:8]
    exp = build_experiment(CUSTOM, base=base, axes=axes, repeats=repeats, name=f"whatif-{digest}",
                           title="What-if: " + " vs ".join(v.label for v in variations))
    return exp.replace(variations=tuple(variations))


# ---- helpers --------------------------------------------------------------------------------------
def _json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CompareError(f"{path.parent.name} has no {path.name}: not a complete run; train it again") from None
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise CompareError(f"{path} cannot be read ({str(exc)[:80]}); train this run again") from None
    if not isinstance(value, dict):
        raise CompareError(f"{path} is damaged (not a JSON object); train this run again")
    return value


def _spec(folder: Path) -> RunSpec:
    return RunSpec.from_dict(_json(folder / "spec.json"))


def _scores(folder: Path, spec: RunSpec, metrics: Mapping, differs: dict[str, Any], forecasts: int) -> RunScores:
    test = metrics.get("test") if isinstance(metrics.get("test"), Mapping) else {}
    own = test.get("network") if isinstance(test.get("network"), Mapping) else test
    decision = metrics.get("decision") if isinstance(metrics.get("decision"), Mapping) else {}
    return RunScores(
        run=folder.name, run_dir=str(folder), label=setup_label(spec), data=spec.data, target=spec.window.target, differs=differs,
        network_rmse=_num(own.get("rmse")), network_skill=_num(own.get("skill")),
        decision=str(decision.get("choice") or ("persistence" if metrics.get("ended_as_persistence") else "network")),
        decision_p=_num(decision.get("p_value")), used_rmse=_num(test.get("rmse")), used_skill=_num(test.get("skill")),
        persistence_rmse=_num(test.get("persistence_rmse")), test_forecasts=forecasts)


def _num(value: Any) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if np.isfinite(value) else None


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:+.1f}%"


def _when(run: str) -> str:
    """``11-25 06:45`` from a run folder's ``YYYYMMDD-HHMMSS-...`` name."""
    return f"{run[4:6]}-{run[6:8]} {run[9:11]}:{run[11:13]}" if len(run) >= 15 and run[8] == "-" else run


def _shown(name: str, value: Any) -> Any:
    return display_name(value) if name == "data" else value


def _text(name: str, value: Any) -> str:
    return setting_text(name, _shown(name, value)).split("=", 1)[1]


def _unique(items: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for item in items:
        seen[item] = seen.get(item, 0) + 1
        out.append(item if seen[item] == 1 else f"{item} #{seen[item]}")
    return out


def _unique_values(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if v not in out:
            out.append(v)
    return out
