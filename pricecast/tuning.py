"""Hyperparameter search with Optuna over the catalogue's settings (``pricecast tune``).

Every trial is an ordinary training run (:func:`pricecast.training.pipeline.train`) of the base
setup with the searched settings laid over it. The objective is the run's **validation** RMSE over
persistence's (below 1 beats "no change"); the test part is read once, for the best trial, after
the search, and never chooses anything. Pruning (Optuna's median pruner) watches the per-epoch
validation loss through the training listener and ends a hopeless trial with the Stop event.

Search ranges come from the catalogue (:data:`pricecast.catalogue.FIELDS`): choices become a
categorical, yes/no settings one of two, shares (dropout) their Model-page limits, and other
numbers with a positive base value within a factor of :data:`SPAN` of it (rates, penalties, widths,
lengths), on a log scale where the range spans 16x or more;
``--range name=lo:hi`` or ``name=a|b`` narrows any of them.

The study lives in an Optuna storage (SQLite under ``PRICECAST_HOME`` by default), so a killed
search resumes where it stopped when the same command runs again; the trial budget counts the
study's finished trials. Optuna is optional (``requirements-ml.txt``) and imported only here.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from pricecast.catalogue import FIELDS, SpecError, field_named, format_value, with_overrides
from pricecast.errors import PricecastError
from pricecast.events import Epoch, Event
from pricecast.optional import import_optional
from pricecast.paths import home
from pricecast.spec_io import spec_to_dict, validate_spec
from pricecast.specs import RunSpec
from pricecast.training.pipeline import train

DEFAULT_FIELDS: tuple[str, ...] = ("units", "dropout", "learning_rate")
SPAN = 8.0  # a positive base value's default range: base / SPAN .. base * SPAN (limits permitting)
EXECUTORS: tuple[str, ...] = ("local", "ray")
# Settings that are budgets, plumbing or data, not the model's quality: never searched.
NOT_SEARCHED: dict[str, str] = {
    "data": "the data", "preset": "a label", "epochs": "the trial budget (--epochs)", "seed": "the seed",
    "split": "the train/validation/test split (the objective's ground)", "workers": "plumbing",
    "pipeline": "plumbing", "per_batch_updates": "plumbing", "live_val_predictions": "plumbing",
    "jit_compile": "plumbing", "mixed_precision": "plumbing", "base_batch_size": "plumbing",
    "persistence_floor": "a guard, not a setting", "floor_p": "a guard, not a setting",
    "features": "a list of columns (choose them with --features)", "regularize": "a list (set it with --regularize)",
}
# Searching these changes what the validation loss measures (its units or its target), so trials'
# per-epoch losses cannot be compared and pruning is turned off.
LOSS_CHANGING: tuple[str, ...] = ("loss", "scaling", "target", "k")


class TuningError(PricecastError):
    """A search that cannot run as asked (a setting that cannot be searched, a bad range, storage)."""


@dataclass(frozen=True)
class Dimension:
    """One searched setting: a categorical (``choices``) or a number range (``low``..``high``)."""

    name: str
    kind: str  # "choice", "int" or "float"
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    choices: tuple = ()
    layers: int = 0  # "ints" settings (units 64,32): one searched width for every layer of the base

    def suggest(self, trial: Any) -> Any:
        """The trial's value, in the setting's own form (a tuple for ``units``)."""
        if self.kind == "choice":
            value = trial.suggest_categorical(self.name, list(self.choices))
        elif self.kind == "int":
            value = trial.suggest_int(self.name, int(self.low), int(self.high), log=self.log)
        else:
            value = trial.suggest_float(self.name, self.low, self.high, log=self.log)
        return (value,) * self.layers if self.layers else value

    def describe(self) -> str:
        if self.kind == "choice":
            return f"{self.name}: one of {', '.join(format_value(c) or '(none)' for c in self.choices)}"
        scale = "log" if self.log else "linear"
        per = f" (every one of {self.layers} layers)" if self.layers > 1 else ""
        return f"{self.name}: {self.low:g} .. {self.high:g}, {scale} scale{per}"

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "low": self.low, "high": self.high, "log": self.log,
                "choices": list(self.choices), "layers": self.layers}


def _number_range(name: str, kind: str, base: float, lo: float, hi: float, share: bool) -> Dimension:
    if base > 0 and not share:
        lo, hi = max(lo, base / SPAN), min(hi, base * SPAN)
    if kind == "int":
        lo, hi = math.ceil(lo), math.floor(hi)
        if hi - lo > 1000:
            raise TuningError(f"{name}: the range {lo:g} .. {hi:g} is too wide to search from a base of "
                              f"{base:g}; give one, e.g. --range {name}=LOW:HIGH")
    log = lo > 0 and hi / lo >= 16
    return Dimension(name, kind, float(lo), float(hi), log)


def _parse_range(name: str, kind: str, text: str, f: Any) -> Dimension:
    """``lo:hi`` (``lo:hi:log`` / ``:linear``) or ``a|b|c``, each value checked by the catalogue."""
    if "|" in text or kind == "choice":
        choices = tuple(dict.fromkeys(f.parse(t) for t in text.split("|")))
        return Dimension(name, "choice", choices=choices)
    parts = text.split(":")
    if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] not in ("log", "linear")):
        raise TuningError(f"--range {name}={text}: write LOW:HIGH (optionally :log or :linear), or a|b|c")
    number = float if kind == "float" else int
    try:
        lo, hi = number(float(parts[0])), number(float(parts[1]))
    except ValueError:
        raise TuningError(f"--range {name}={text}: LOW and HIGH must be numbers") from None
    for v in (lo, hi):
        problem = f.problem((v,) if f.is_list else v)
        if problem is not None:
            raise TuningError(f"--range {name}={text}: {problem}")
    if not lo < hi:
        raise TuningError(f"--range {name}={text}: LOW must be below HIGH")
    log = parts[2] == "log" if len(parts) == 3 else lo > 0 and hi / lo >= 16
    if log and lo <= 0:
        raise TuningError(f"--range {name}={text}: a log scale needs LOW above 0")
    return Dimension(name, kind, float(lo), float(hi), log)


def _kind_of(f, value) -> tuple[str, object, int]:
    """How a setting is searched ("int", "float" or "choice"), the base value to centre on, and how many
    layers a per-layer list has (0: not a list)."""
    if f.kind == "ints":
        if not value:
            raise TuningError(f"{f.name}: the base setup has no layers to size; set e.g. --{f.name} 32")
        return "int", value[0], len(value)
    if f.kind == "bool" or (f.choices is not None and f.kind == "str"):
        return "choice", value, 0
    if f.kind in ("int", "float"):
        return f.kind, value, 0
    raise TuningError(f"{f.name} cannot be searched ({f.expects()})")


def search_space(names: Sequence[str], base: RunSpec, ranges: Mapping[str, str] | None = None) -> list[Dimension]:
    """The dimensions for settings ``names`` around ``base``; ``ranges`` (name -> text) narrow them."""
    ranges = dict(ranges or {})
    out: list[Dimension] = []
    for key in names:
        f = field_named(key)
        if f.name in NOT_SEARCHED:
            raise TuningError(f"{f.name} cannot be searched: it is {NOT_SEARCHED[f.name]}")
        value = getattr(getattr(base, f.section) if f.section else base, f.name)
        kind, value, layers = _kind_of(f, value)
        if f.name in ranges:
            dim = _parse_range(f.name, kind, ranges.pop(f.name), f)
        elif kind == "choice":
            dim = Dimension(f.name, "choice", choices=(False, True) if f.kind == "bool" else tuple(f.choices))
        else:
            lo, hi = f.limits or (f.at_least or 0, f.below or 1)
            if f.above is not None:
                lo = max(lo, f.above)
            # a share (dropout: below 1) spans its limits; rates, penalties and sizes a factor of SPAN around the base
            dim = _number_range(f.name, kind, float(value), float(lo), float(hi), share=f.below is not None)
        out.append(Dimension(dim.name, dim.kind, dim.low, dim.high, dim.log, dim.choices, layers))
    if ranges:
        raise TuningError(f"--range names {', '.join(ranges)}, which --fields does not search")
    if not out:
        raise TuningError("no settings to search: name some with --fields, e.g. units,dropout,learning_rate")
    return out


def parse_ranges(texts: Sequence[str]) -> dict[str, str]:
    """``["units=8:128", "arch=gru|lstm"]`` -> ``{"units": "8:128", "arch": "gru|lstm"}``."""
    out = {}
    for text in texts:
        name, sep, value = text.partition("=")
        if not sep or not value.strip():
            raise TuningError(f"--range {text}: write NAME=LOW:HIGH or NAME=a|b|c")
        out[field_named(name).name] = value.strip()
    return out


@dataclass(frozen=True)
class TuneSpec:
    """What to search: the base setup, the dimensions, the budgets and where the study lives."""

    base: RunSpec
    space: tuple[Dimension, ...]
    trials: int = 20
    timeout_s: float | None = None
    storage: str | None = None  # an Optuna storage URL; None: SQLite under PRICECAST_HOME
    study: str | None = None  # None: named from the setup and the space, so the same command resumes
    executor: str = "local"
    workers: int = 2  # Ray tasks sharing the study
    prune: bool = True
    startup_trials: int = 3  # the median pruner prunes nothing before this many trials completed
    warmup_epochs: int = 1  # ... nor in a trial's first epochs (this many)
    seed: int = 0  # the sampler's
    data_range: tuple[str | None, str | None] = (None, None)  # --since/--until: part of the default study name

    def study_name(self) -> str:
        if self.study:
            return self.study
        key = json.dumps({"base": spec_to_dict(self.base), "space": [d.to_dict() for d in self.space],
                          **({"range": list(self.data_range)} if any(self.data_range) else {})},
                         sort_keys=True, default=str)
        return "tune-" + hashlib.sha256(key.encode()).hexdigest()[:12]

    def storage_url(self) -> str:
        return self.storage or f"sqlite:///{tuning_dir() / 'studies.db'}"

    def pruning(self) -> tuple[bool, str]:
        """Whether trials are pruned, and why not when they are not."""
        if not self.prune:
            return False, "turned off (--no-prune)"
        changing = [d.name for d in self.space if d.name in LOSS_CHANGING]
        if changing:
            return False, (f"off: searching {', '.join(changing)} changes what the validation loss measures, "
                           "so trials' losses per epoch cannot be compared")
        return True, f"median pruner on the validation loss per epoch (after {self.startup_trials} trials)"


def tuning_dir() -> Path:
    path = home() / "tuning"
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass
class TuneResult:
    """The study's outcome: best trial, counts, the best run's test score (read after the search)."""

    study: str
    storage: str
    best: dict | None
    trials: dict
    space: list[dict]
    pruning: str
    test: dict | None = None
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"study": self.study, "storage": self.storage, "best": self.best, "trials": self.trials,
                "space": self.space, "pruning": self.pruning, "test": self.test, "seconds": self.seconds,
                "notes": self.notes}


TrialHook = Callable[[Any, Any], None]  # (trial, Run) after a trial's run is saved: MLflow logging


def val_ratio(metrics: Mapping[str, Any]) -> float:
    """The objective: the network's own validation RMSE over persistence's (NaN where persistence's is 0 or
    missing). The network's, not the forecast the run decided to use: a setting whose network falls back
    to "no change" would otherwise tie every other at 1 and leave the search nothing to rank."""
    val = metrics.get("val") or {}
    rmse, persistence = (val.get("network") or val).get("rmse"), val.get("persistence_rmse")
    if rmse is None or not persistence or not math.isfinite(persistence):
        return math.nan
    return float(rmse) / float(persistence)


def _objective(spec: TuneSpec, candles: pd.DataFrame, runs_root: Path, on_trial: TrialHook | None,
               on_event: Callable[[str], None] | None) -> Callable[[Any], float]:
    optuna = import_optional("optuna", "pricecast tune")
    prune, _ = spec.pruning()
    say = on_event or (lambda text: None)

    def objective(trial: Any) -> float:
        overrides = {d.name: d.suggest(trial) for d in spec.space}
        setup = with_overrides(spec.base, overrides)
        try:
            validate_spec(setup)
        except SpecError as exc:  # a combination that can never train (a CNN kernel longer than N): not a score
            trial.set_user_attr("error", str(exc))
            say(f"trial {trial.number}: skipped ({exc})")
            return math.nan
        stop = threading.Event()
        pruned_at: list[int] = []

        def listener(event: Event) -> None:
            if not prune or not isinstance(event, Epoch) or stop.is_set():
                return
            if not math.isfinite(event.val_loss):
                return
            trial.report(float(event.val_loss), event.epoch)
            if trial.should_prune():
                pruned_at.append(event.epoch)
                stop.set()  # ends training within one batch; the run is saved, then removed below

        try:
            run = train(setup, listener=listener, stop=stop, candles=candles, runs_root=runs_root)
        except (ValueError, OSError) as exc:  # too few windows for this N, a loss that turned NaN: a failed trial
            trial.set_user_attr("error", str(exc))
            say(f"trial {trial.number}: failed ({exc})")
            return math.nan
        if pruned_at:
            shutil.rmtree(run.run_dir, ignore_errors=True)
            say(f"trial {trial.number}: pruned at epoch {pruned_at[0]}")
            raise optuna.TrialPruned(f"pruned at epoch {pruned_at[0]}")
        value = val_ratio(run.metrics)
        trial.set_user_attr("run_dir", str(run.run_dir))
        trial.set_user_attr("epochs_run", run.metrics.get("epochs_run"))
        trial.set_user_attr("best_epoch", run.metrics.get("best_epoch"))
        trial.set_user_attr("val_rmse", (run.metrics["val"].get("network") or run.metrics["val"])["rmse"])
        trial.set_user_attr("decision", (run.metrics.get("decision") or {}).get("choice"))
        trial.set_user_attr("val_persistence_rmse", run.metrics["val"]["persistence_rmse"])
        if on_trial is not None:
            on_trial(trial, run)
        say(f"trial {trial.number}: val RMSE / persistence {value:.4f} "
            f"({', '.join(f'{k}={format_value(v)}' for k, v in trial.params.items())})")
        return value

    return objective


def _open_study(spec: TuneSpec) -> Any:
    optuna = import_optional("optuna", "pricecast tune")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = spec.storage_url()
    engine = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    try:
        storage = optuna.storages.RDBStorage(url, engine_kwargs=engine)
    except Exception as exc:  # noqa: BLE001  SQLAlchemy/Optuna raise many kinds for a bad URL or a locked file
        raise TuningError(f"the study storage {url} cannot be opened: {exc}") from None
    sampler = optuna.samplers.TPESampler(seed=spec.seed, n_startup_trials=min(10, max(2, spec.trials // 2)))
    # steps are epochs from 1; Optuna prunes from step n_warmup_steps on, so +1 spares the first warmup_epochs
    pruner = (optuna.pruners.MedianPruner(n_startup_trials=spec.startup_trials, n_warmup_steps=spec.warmup_epochs + 1)
              if spec.pruning()[0] else optuna.pruners.NopPruner())
    return optuna.create_study(storage=storage, study_name=spec.study_name(), direction="minimize",
                               sampler=sampler, pruner=pruner, load_if_exists=True)


def _finished(study: Any) -> int:
    optuna = import_optional("optuna", "pricecast tune")
    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.FAIL)
    return len(study.get_trials(deepcopy=False, states=states))


def _optimize(spec: TuneSpec, candles: pd.DataFrame, n_trials: int, on_trial: TrialHook | None,
              on_event: Callable[[str], None] | None) -> None:
    """One worker's share: run trials of the shared study until the study's budget is spent."""
    optuna = import_optional("optuna", "pricecast tune")
    study = _open_study(spec)
    runs_root = tuning_dir() / spec.study_name() / "runs"
    runs_root.mkdir(parents=True, exist_ok=True)
    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.FAIL)
    study.optimize(_objective(spec, candles, runs_root, on_trial, on_event), n_trials=n_trials,
                   timeout=spec.timeout_s, catch=(),
                   callbacks=[optuna.study.MaxTrialsCallback(spec.trials, states=states)])


def _ray_worker(spec: TuneSpec, candles: pd.DataFrame, n_trials: int) -> None:
    _optimize(spec, candles, n_trials, None, None)


def _run_on_ray(spec: TuneSpec, candles: pd.DataFrame, remaining: int) -> None:
    """``spec.workers`` Ray tasks, each running trials of the one study until its budget is spent.
    The storage must be reachable from every worker: SQLite only on one machine (a local Ray);
    on a cluster give ``--storage`` a database server URL (PostgreSQL, MySQL)."""
    from pricecast.jobs.executors import import_ray

    ray = import_ray()
    if not ray.is_initialized():
        address = os.environ.get("RAY_ADDRESS") or None
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(num_cpus=max(spec.workers, 1), include_dashboard=False, log_to_driver=False)
    package = Path(__file__).resolve().parent
    env = {"env_vars": {"TF_CPP_MIN_LOG_LEVEL": "3", "PRICECAST_HOME": str(home()),
                        "PYTHONPATH": os.pathsep.join([str(package.parent)] + [p for p in os.environ.get(
                            "PYTHONPATH", "").split(os.pathsep) if p])}}
    remote = ray.remote(_ray_worker).options(num_cpus=1, max_retries=0, runtime_env=env)
    workers = max(1, min(spec.workers, remaining))
    # shares that add up to the budget exactly: a shared "stop at N" check would let workers that start
    # together overshoot it
    shares = [remaining // workers + (1 if i < remaining % workers else 0) for i in range(workers)]
    ray.get([remote.remote(spec, candles, share) for share in shares])


def _trial_counts(study: Any) -> dict:
    optuna = import_optional("optuna", "pricecast tune")
    states = optuna.trial.TrialState
    trials = study.get_trials(deepcopy=False)
    count = {s: sum(t.state == s for t in trials) for s in (states.COMPLETE, states.PRUNED, states.FAIL)}
    return {"ran": sum(count.values()), "complete": count[states.COMPLETE], "pruned": count[states.PRUNED],
            "failed": count[states.FAIL]}


def _best(study: Any) -> tuple[dict | None, Any]:
    optuna = import_optional("optuna", "pricecast tune")
    complete = [t for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
                if t.value is not None and math.isfinite(t.value)]
    if not complete:
        return None, None
    trial = min(complete, key=lambda t: t.value)
    return {"number": trial.number, "value": trial.value, "params": dict(trial.params),
            "run_dir": trial.user_attrs.get("run_dir"), "epochs_run": trial.user_attrs.get("epochs_run"),
            "best_epoch": trial.user_attrs.get("best_epoch")}, trial


def best_setup(spec: TuneSpec, params: Mapping[str, Any]) -> RunSpec:
    """The base setup with a trial's ``params`` (as Optuna stores them) laid over it."""
    by_name = {d.name: d for d in spec.space}
    return with_overrides(spec.base, {k: (v,) * by_name[k].layers if by_name[k].layers else v
                                      for k, v in params.items() if k in by_name})


def _test_score(run_dir: str | None) -> dict | None:
    """The best trial's test part beside persistence, read from its run's metrics once the search is over."""
    if not run_dir or not (Path(run_dir) / "metrics.json").exists():
        return None
    metrics = json.loads((Path(run_dir) / "metrics.json").read_text())
    test = metrics.get("test") or {}
    own = test.get("network") or test  # the network's own test score; the run's decision beside it
    return {"rmse": own.get("rmse"), "persistence_rmse": test.get("persistence_rmse"), "skill": own.get("skill"),
            "ratio": (own["rmse"] / test["persistence_rmse"]) if test.get("persistence_rmse") else None,
            "decision": (metrics.get("decision") or {}).get("choice"), "used_rmse": test.get("rmse")}


def run_search(spec: TuneSpec, candles: pd.DataFrame, on_trial: TrialHook | None = None,
               on_event: Callable[[str], None] | None = None) -> TuneResult:
    """Run (or resume) the study until it holds ``spec.trials`` finished trials or the time is up."""
    if spec.trials < 1:
        raise TuningError("--trials must be 1 or more")
    if spec.executor not in EXECUTORS:
        raise TuningError(f"executor '{spec.executor}' is not one of {', '.join(EXECUTORS)}")
    validate_spec(spec.base)
    started = time.perf_counter()
    study = _open_study(spec)
    done = _finished(study)
    notes = [f"resumed: {done} trial(s) were already finished"] if done else []
    remaining = spec.trials - done
    if remaining > 0:
        if spec.executor == "ray":
            if on_trial is not None:
                notes.append("trials on Ray are not logged to MLflow one by one")
            _run_on_ray(spec, candles, remaining)
        else:
            _optimize(spec, candles, remaining, on_trial, on_event)
        study = _open_study(spec)
    best, _ = _best(study)
    return TuneResult(study=spec.study_name(), storage=spec.storage_url(), best=best, trials=_trial_counts(study),
                      space=[d.describe() for d in spec.space], pruning=spec.pruning()[1],
                      test=_test_score(best["run_dir"]) if best else None,
                      seconds=time.perf_counter() - started, notes=notes)


def write_plots(spec: TuneSpec, folder: Path | str) -> list[Path]:
    """Optuna's own figures of the study as HTML files in ``folder``: the optimisation history and,
    with two or more completed trials, the parameters' importances (Optuna's fANOVA)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, figure in study_figures(spec).items():
        if isinstance(figure, str):
            (folder / f"{name}.txt").write_text(f"not drawn: {figure}\n")
            continue
        path = folder / f"{name}.html"
        figure.write_html(str(path), include_plotlyjs=True)  # works offline, like the rest of pricecast
        written.append(path)
    return written


def study_figures(spec: TuneSpec) -> dict[str, Any]:
    """Optuna's own plotly figures of the study: ``history`` and, with two or more completed trials,
    ``importances`` (Optuna's fANOVA); a figure Optuna cannot draw is the reason why, as text."""
    optuna = import_optional("optuna", "pricecast tune")
    study = _open_study(spec)
    plots = {"history": optuna.visualization.plot_optimization_history}
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if len(complete) >= 2:
        plots["importances"] = optuna.visualization.plot_param_importances
    figures: dict[str, Any] = {}
    for name, plot in plots.items():
        try:
            figures[name] = plot(study)
        except (ValueError, RuntimeError) as exc:  # e.g. importances where every trial took the same values
            figures[name] = str(exc)
    return figures


def searchable_fields(base: RunSpec) -> list[str]:
    """The catalogue's settings :func:`search_space` can search around ``base``, in catalogue order."""
    out = []
    for name in FIELDS:
        try:
            search_space([name], base)
        except (TuningError, SpecError):
            continue
        out.append(name)
    return out
