"""Experiments: one data + window setup x a grid of model variations x R repeats with seeds.

Single trainings of small nets on prices are noisy; an experiment repeats each setting with
different seeds so a real difference can be told from luck. Every trial is an ordinary run
(:func:`pricecast.training.pipeline.train` into ``<experiment>/trials``), so any trial opens like any run.

An experiment folder (``<home>/experiments/<name>``) holds:

- ``experiment.json``: the definition (:class:`ExperimentSpec`),
- ``results/<trial>.json``: one record per finished trial, written atomically (temp file + rename),
  so an interrupted experiment resumes without repeating finished trials,
- ``trials/<run folder>``: the trials' run folders.

Trials are keyed by variation id + repeat; the seed of repeat ``r`` is ``base_seed + r`` for every
variation, so variations are compared on the same seeds. Executors (a local process pool, this
process, or Ray) live in :mod:`pricecast.experiments.execution`; figures in
:mod:`pricecast.plots.experiments`. No Keras, Ray or Streamlit at import time.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pricecast.catalogue import SpecError, field_named, with_overrides
from pricecast.errors import PricecastError
from pricecast.models.builders import ModelSpec, check_model
from pricecast.paths import home
from pricecast.specs import RunSpec, TrainSpec

Progress = Callable[[dict], None]

EXECUTORS: tuple[str, ...] = ("local", "serial", "ray")
MODEL_FIELDS: frozenset[str] = frozenset(f.name for f in fields(ModelSpec))
# The seed is what the repeats vary, so a variation may not set it; the data is the experiment's.
NOT_VARIED: frozenset[str] = frozenset({"seed", "data", "preset"})
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")


class ExperimentError(PricecastError):
    """An experiment that cannot run as defined, with what to change."""


# ---- definition --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Variation:
    """One setting of the grid. ``overrides`` names ModelSpec fields directly (``l2``, ``arch``,
    ``units``...); ``window.n``, ``train.batch_size`` or ``scaling`` reach the other sections."""

    id: str
    overrides: Mapping[str, Any] = field(default_factory=dict)
    label: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "overrides", dict(self.overrides))
        if not self.label:
            object.__setattr__(self, "label", self.id)

    def to_dict(self) -> dict:
        return {"id": self.id, "label": self.label, "overrides": _plain(self.overrides)}

    @classmethod
    def from_dict(cls, data: Mapping) -> Variation:
        return cls(id=str(data["id"]), overrides=dict(data.get("overrides", {})), label=str(data.get("label", "")))


@dataclass(frozen=True)
class ExperimentSpec:
    """A base run setup, the variations to compare and how often to repeat each.

    ``since``/``until`` clip the data by date and ``last_rows`` keeps only the most recent rows
    (how a reduced-size experiment trains on a recent slice)."""

    name: str
    base: RunSpec
    variations: tuple[Variation, ...]
    repeats: int = 3
    base_seed: int = 0
    since: str | None = None
    until: str | None = None
    last_rows: int | None = None
    title: str = ""
    preset: str = ""
    size: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "variations", tuple(self.variations))

    def to_dict(self) -> dict:
        return {
            "name": self.name, "title": self.title, "preset": self.preset, "size": self.size,
            "base": self.base.to_dict(), "variations": [v.to_dict() for v in self.variations],
            "repeats": self.repeats, "base_seed": self.base_seed,
            "since": self.since, "until": self.until, "last_rows": self.last_rows,
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> ExperimentSpec:
        return cls(
            name=str(data["name"]), base=RunSpec.from_dict(data.get("base", {})),
            variations=tuple(Variation.from_dict(v) for v in data.get("variations", [])),
            repeats=int(data.get("repeats", 3)), base_seed=int(data.get("base_seed", 0)),
            since=data.get("since"), until=data.get("until"), last_rows=data.get("last_rows"),
            title=str(data.get("title", "")), preset=str(data.get("preset", "")), size=float(data.get("size", 1.0)),
        )

    def replace(self, **changes) -> ExperimentSpec:
        return replace(self, **changes)

    def identity(self) -> dict:
        """What must match for a folder's finished trials to belong to this experiment. The repeat
        count may grow (more repeats extend an experiment); labels and titles are cosmetic."""
        d = self.to_dict()
        return _plain({"base": d["base"], "base_seed": d["base_seed"], "since": d["since"], "until": d["until"],
                       "last_rows": d["last_rows"], "variations": {v["id"]: v["overrides"] for v in d["variations"]}})


@dataclass(frozen=True)
class Trial:
    """One training of one variation with one seed."""

    key: str
    variation: str
    label: str
    repeat: int
    seed: int
    spec: RunSpec

    @property
    def file_name(self) -> str:
        return trial_file_name(self.variation, self.repeat)


def trial_key(variation_id: str, repeat: int) -> str:
    return f"{variation_id}#r{repeat}"


def trial_file_name(variation_id: str, repeat: int) -> str:
    # Ids may hold '=', ',' or '/'; the hash keeps two ids that slug alike apart.
    slug = re.sub(r"[^A-Za-z0-9._=-]+", "-", variation_id).strip("-")[:48] or "v"
    digest = hashlib.sha1(variation_id.encode()).hexdigest()[:6]
    return f"{slug}-{digest}-r{repeat:03d}.json"


def _plain(value: Any) -> Any:
    """JSON-friendly: tuples become lists (so a definition compares equal after a round trip)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def format_value(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "/".join(format_value(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def variation_id(overrides: Mapping[str, Any]) -> str:
    """``l2=0.01,regularize=bias``: readable, stable, unique per setting."""
    return ",".join(f"{k}={format_value(v)}" for k, v in overrides.items()) or "base"


def grid(axes: Mapping[str, Sequence[Any]] | None = None, **more: Sequence[Any]) -> tuple[Variation, ...]:
    """Every combination of the given values, in order: ``grid(arch=["lstm", "gru"],
    dropout=[0, 0.2])`` gives 4 variations. A fixed setting is a one-value axis."""
    axes = {**(axes or {}), **more}
    for name, values in axes.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
            raise ExperimentError(f"'{name}' needs a list of values to try (got {values!r})")
    names = list(axes)
    combos = itertools.product(*(list(axes[n]) for n in names))
    out = []
    for combo in combos:
        overrides = dict(zip(names, combo))
        out.append(Variation(variation_id(overrides), overrides))
    ids = [v.id for v in out]
    if len(set(ids)) != len(ids):
        raise ExperimentError("the grid repeats a setting; list each value once")
    return tuple(out)


def parse_values(name: str, text: str) -> list:
    """``"0, 0.01"`` -> ``[0.0, 0.01]``; for list options (``units``...) the layers of one value are
    joined by '/': ``"32, 64/64"`` -> ``[(32,), (64, 64)]``. Each value is read and checked as the
    CLI and links read it (:mod:`pricecast.catalogue`)."""
    values = [v for v in text.split(",") if v.strip()]
    if not values:
        raise ExperimentError(f"give at least one value for '{name}', separated by commas")
    try:
        f = field_named(name)
        return [f.parse(v.replace("/", ",") if f.is_list else v) for v in values]
    except SpecError as exc:
        raise ExperimentError(str(exc)) from None


def parse_vary(items: Sequence[str]) -> dict[str, list]:
    """``["l2=0,0.01", "units=32,64/64"]`` -> ``{"l2": [0, 0.01], "units": [(32,), (64, 64)]}``."""
    axes: dict[str, list] = {}
    for item in items:
        name, sep, values = item.partition("=")
        if not sep or not name.strip() or not values.strip():
            raise ExperimentError(f"a setting to vary is written FIELD=VALUE1,VALUE2,... (got '{item}')")
        axes[name.strip()] = parse_values(name.strip(), values)
    return axes


def apply_overrides(base: RunSpec, overrides: Mapping[str, Any]) -> RunSpec:
    """``base`` with a variation's settings laid over it."""
    names = {}
    for key in overrides:
        try:
            f = field_named(key)
        except SpecError:
            f = None
        if f is None or f.name in NOT_VARIED:
            known = ", ".join(sorted(MODEL_FIELDS))
            raise ExperimentError(
                f"cannot vary '{key}': use a model option ({known}), window.<option>, train.<option> "
                f"(not the seed: the repeats set it) or scaling")
        names[key] = f.name
    return with_overrides(base, {names[k]: v for k, v in overrides.items()})


def expand(exp: ExperimentSpec) -> list[Trial]:
    """All trials, repeat-major (every variation's first repeat, then the second...), so an
    interrupted experiment already has a little of everything."""
    trials = []
    for repeat in range(exp.repeats):
        seed = exp.base_seed + repeat
        for v in exp.variations:
            spec = apply_overrides(exp.base, v.overrides)
            spec = spec.replace(train=replace(spec.train, seed=seed))
            trials.append(Trial(trial_key(v.id, repeat), v.id, v.label, repeat, seed, spec))
    return trials


def validate(exp: ExperimentSpec) -> None:
    """Fail before anything trains: bad name, no variations, a setting that cannot build."""
    if not _NAME_RE.match(exp.name):
        raise ExperimentError(f"experiment name '{exp.name}' may only use letters, digits, '.', '_' and '-' "
                              "(up to 80 characters)")
    if not exp.variations:
        raise ExperimentError("an experiment needs at least one variation")
    ids = [v.id for v in exp.variations]
    if len(set(ids)) != len(ids):
        raise ExperimentError(f"variation ids must be unique (got {ids})")
    if exp.repeats < 1:
        raise ExperimentError("repeats must be at least 1")
    if exp.last_rows is not None and exp.last_rows < 2:
        raise ExperimentError("last_rows must be at least 2 (or unset for all rows)")
    for v in exp.variations:
        spec = apply_overrides(exp.base, v.overrides)
        try:
            spec.window.check()
            check_model(spec.model, spec.window.n, spec.window.k, spec.window.features, spec.window.target)
        except ValueError as exc:
            raise ExperimentError(f"variation '{v.label}': {exc}") from exc


# ---- presets and size --------------------------------------------------------------------------
@dataclass(frozen=True)
class ExperimentPreset:
    name: str
    title: str
    source: str
    spec: ExperimentSpec  # at size 1.0


def _seed_regularizer_lstm() -> ModelSpec:
    # The seed's fit_lstm(reg): LSTM(50, bias_regularizer=reg) -> tanh -> Dropout(0.2) -> Dense(K)
    # -> LeakyReLU; MSE, Adam.
    return ModelSpec(arch="lstm", units=(50,), activation="tanh", post_activation="tanh", dropout=0.2,
                     output_activation="leaky_relu", residual=False, regularize=("bias",))


SEED_BIAS_SETTINGS: tuple[tuple[str, float, float], ...] = (
    ("none", 0.0, 0.0),
    ("L1 0.1", 0.1, 0.0), ("L1 0.01", 0.01, 0.0), ("L1 0.001", 0.001, 0.0), ("L1 0.0001", 0.0001, 0.0),
    ("L2 0.1", 0.0, 0.1), ("L2 0.01", 0.0, 0.01), ("L2 0.001", 0.0, 0.001), ("L2 0.0001", 0.0, 0.0001),
)
SEED_ARCHITECTURES: tuple[str, ...] = ("seed-cnn-2-relu", "seed-cnn-2-leaky", "seed-cnn-3-relu", "seed-cnn-3-leaky",
                                       "seed-cnn-4-relu", "seed-cnn-4-leaky", "seed-lstm", "seed-gru")


def _architectures() -> ExperimentPreset:
    from pricecast.presets import get_preset

    variations = []
    for name in SEED_ARCHITECTURES:
        preset = get_preset(name)
        variations.append(Variation(name.removeprefix("seed-"), preset.spec.model.to_dict(),
                                    preset.title.removeprefix("Seed ")))
    seed_spec = get_preset("seed-lstm").spec
    # The seed's window (N=256, K=16: the seed CNNs' conv heads only fit it) over daily AAPL; the
    # tutorial's non-overlapping stride would leave a dozen windows on 13 years of daily bars, so
    # windows slide by one day here (and the split stays the tutorial's 80% training).
    base = seed_spec.replace(data="sample:AAPL", window=replace(seed_spec.window, stride=1, split=(0.8, 0.1, 0.1)),
                             preset="seed-lstm")
    return ExperimentPreset(
        "architectures", "Seed architectures: CNN-2/3/4 ReLU & LeakyReLU, LSTM, GRU",
        "tutorial 000's table of the best validation loss per architecture (100 epochs, batch 8, MinMax, "
        "N=256, K=16); here on bundled daily AAPL with sliding windows and 5 seeds per model",
        ExperimentSpec(name="architectures", base=base, variations=tuple(variations), repeats=5,
                       title="Seed architectures", preset="architectures"),
    )


def _bias_regularizers() -> ExperimentPreset:
    from pricecast.presets import get_preset

    default = get_preset("default").spec
    base = default.replace(model=_seed_regularizer_lstm(),
                           train=TrainSpec(epochs=30, batch_size=8, patience=0), preset="")
    variations = tuple(Variation(f"l1={l1:g},l2={l2:g}", {"l1": l1, "l2": l2}, label)
                       for label, l1, l2 in SEED_BIAS_SETTINGS)
    return ExperimentPreset(
        "bias-regularizers", "Seed bias regularizers: LSTM(50), L1/L2 on the bias, 30 repeats",
        "tutorial 000's regularization experiment: LSTM(50) with a bias regularizer L1 or L2 at 0, 0.1, "
        "0.01, 0.001, 0.0001 (9 settings) x 30 repeats x 30 epochs, batch 8; here on bundled daily AAPL, "
        "N=30, K=5, log-ratio scaling (the seed used 5-minute BTC, which needs a download)",
        ExperimentSpec(name="bias-regularizers", base=base, variations=variations, repeats=30,
                       title="Seed bias regularizers", preset="bias-regularizers"),
    )


def experiment_presets() -> dict[str, ExperimentPreset]:
    return {p.name: p for p in (_architectures(), _bias_regularizers())}


def min_rows(spec: RunSpec) -> int:
    """Rows a slice needs so that every part still holds a few windows."""
    w = spec.window
    smallest = min(s for s in w.split if s > 0) if any(s > 0 for s in w.split) else 1.0
    return int(math.ceil(3 * (w.n + w.k) / smallest))


def scale(exp: ExperimentSpec, size: float, rows_available: int | None = None) -> ExperimentSpec:
    """A smaller (or larger) version: repeats and epochs times ``size`` (at least 2 repeats, so
    there is a spread, and 1 epoch) and, below 1, only the most recent ``size`` share of the rows
    (never fewer than :func:`min_rows`). ``size`` 0.1 of the seed's regularizer grid: 3 repeats x 3
    epochs on a recent slice."""
    if not size > 0:
        raise ExperimentError("size must be above 0")
    if size == 1.0:
        return exp.replace(size=1.0)
    repeats = max(min(2, exp.repeats), int(round(exp.repeats * size)))
    epochs = max(1, int(round(exp.base.train.epochs * size)))
    base = exp.base.replace(train=replace(exp.base.train, epochs=epochs))
    last_rows = exp.last_rows
    if size < 1.0 and rows_available:
        wanted = max(min_rows(base), int(rows_available * size))
        last_rows = None if wanted >= rows_available else wanted
    return exp.replace(base=base, repeats=repeats, last_rows=last_rows, size=float(size))


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:30] or "data"


def from_preset(preset: str, size: float = 1.0, data: str | None = None, name: str | None = None,
                repeats: int | None = None, epochs: int | None = None, base_seed: int | None = None,
                since: str | None = None, until: str | None = None) -> ExperimentSpec:
    """A preset experiment at ``size``, optionally on other data (and date range), renamed, or with
    repeats/epochs set."""
    presets = experiment_presets()
    if preset not in presets:
        raise KeyError(f"unknown experiment preset '{preset}'; choose one of {', '.join(presets)}")
    exp = presets[preset].spec
    if data:
        exp = exp.replace(base=exp.base.replace(data=data))
    if since or until:
        exp = exp.replace(since=since, until=until)
    rows = None
    if size < 1.0:
        rows = len(load_candles(exp))
    exp = scale(exp, size, rows)
    if repeats is not None:
        exp = exp.replace(repeats=int(repeats))
    if epochs is not None:
        exp = exp.replace(base=exp.base.replace(train=replace(exp.base.train, epochs=int(epochs))))
    if base_seed is not None:
        exp = exp.replace(base_seed=int(base_seed))
    default_name = f"{preset}-{_slug(exp.base.data)}-s{size:g}"
    return exp.replace(name=name or default_name)


# ---- data --------------------------------------------------------------------------------------
def load_candles(exp: ExperimentSpec) -> pd.DataFrame:
    """The experiment's candles: its data reference, date range and recent-rows slice."""
    from pricecast.data.datasets import load_data

    candles = load_data(exp.base.data, since=exp.since, until=exp.until).candles
    if exp.last_rows:
        candles = candles.iloc[-int(exp.last_rows):]
    return candles


# ---- folders -----------------------------------------------------------------------------------
def experiments_root(root: Path | str | None = None) -> Path:
    path = Path(root) if root else home() / "experiments"
    path.mkdir(parents=True, exist_ok=True)
    return path


def experiment_dir(name: str, root: Path | str | None = None) -> Path:
    """``<root>/<name>``; a name that would lead out of the experiments folder (``../x``, ``a/b``,
    an absolute path) is refused, so delete and run can never touch another folder."""
    base = experiments_root(root).resolve()
    folder = base / name
    if not name or name in (".", "..") or Path(name).name != name or folder.resolve().parent != base:
        raise ExperimentError(f"'{name}' is not an experiment name: use letters, digits, '-' and '_', no folders")
    return folder


def _write_json_atomic(path: Path, obj: Any) -> None:
    from pricecast.training.runs import _jsonable

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(_jsonable(obj), indent=1))
    os.replace(tmp, path)


def save_record(exp_dir: Path | str, record: dict) -> Path:
    path = Path(exp_dir) / "results" / trial_file_name(record["variation"], int(record["repeat"]))
    _write_json_atomic(path, record)
    return path


def read_records(exp_dir: Path | str) -> list[dict]:
    """Finished trial records (a damaged file is skipped: that trial simply runs again)."""
    out = []
    for path in sorted((Path(exp_dir) / "results").glob("*.json")):
        try:
            out.append(json.loads(path.read_text()))
        except (OSError, json.JSONDecodeError):
            continue
    return out


def prepare_folder(exp: ExperimentSpec, root: Path | str | None = None) -> Path:
    """Create the folder with ``experiment.json``, or check an existing one matches ``exp``."""
    validate(exp)
    folder = experiment_dir(exp.name, root)
    definition = folder / "experiment.json"
    if definition.exists():
        old = ExperimentSpec.from_dict(json.loads(definition.read_text()))
        if old.identity() != exp.identity():
            raise ExperimentError(
                f"an experiment named '{exp.name}' already exists with a different setup ({folder}); "
                "choose another name, or delete that folder to start over")
    (folder / "trials").mkdir(parents=True, exist_ok=True)
    (folder / "results").mkdir(parents=True, exist_ok=True)
    _write_json_atomic(definition, exp.to_dict())
    return folder


# ---- results -----------------------------------------------------------------------------------
@dataclass
class Experiment:
    """An experiment folder read back: definition, finished trial records and summaries."""

    dir: Path
    spec: ExperimentSpec
    records: list[dict]

    @property
    def trials(self) -> list[Trial]:
        return expand(self.spec)

    @property
    def total(self) -> int:
        return len(self.spec.variations) * self.spec.repeats

    @property
    def done(self) -> int:
        return len(done_keys(self.records, self.spec))

    def missing(self) -> list[Trial]:
        finished = done_keys(self.records, self.spec)
        return [t for t in self.trials if t.key not in finished]

    def frame(self) -> pd.DataFrame:
        return trials_frame(self.records, self.spec)

    def summary(self) -> pd.DataFrame:
        return summarize(self.frame(), self.spec)

    def note(self) -> str:
        note = ranking_note(self.summary())
        penalties = {(m.l1, m.l2, m.regularize) for m in
                     (apply_overrides(self.spec.base, v.overrides).model for v in self.spec.variations)}
        if len(penalties) > 1:
            note += (" Validation losses include each setting's regularization penalty, so they are not "
                     "comparable across L1/L2 settings; compare test RMSE.")
        return note

    def run_dir(self, record: Mapping) -> Path | None:
        rel = record.get("run_dir")
        return (self.dir / rel) if rel else None


def done_keys(records: Iterable[dict], exp: ExperimentSpec) -> set[str]:
    wanted = {t.key for t in expand(exp)}
    return {r["key"] for r in records if r.get("status") == "ok" and r.get("key") in wanted}


def load_experiment(name_or_dir: str | Path, root: Path | str | None = None) -> Experiment:
    path = Path(name_or_dir)
    folder = path if (path / "experiment.json").exists() else experiment_dir(str(name_or_dir), root)
    definition = folder / "experiment.json"
    if not definition.exists():
        raise FileNotFoundError(f"no experiment '{name_or_dir}' (looked in {folder})")
    spec = ExperimentSpec.from_dict(json.loads(definition.read_text()))
    return Experiment(folder, spec, read_records(folder))


def list_experiments(root: Path | str | None = None) -> list[dict]:
    """One row per experiment folder, newest first."""
    rows = []
    base = experiments_root(root)
    folders = [f for f in base.iterdir() if (f / "experiment.json").exists()]
    for folder in sorted(folders, key=lambda f: (f / "experiment.json").stat().st_mtime, reverse=True):
        try:
            exp = load_experiment(folder)
        except (OSError, ValueError, KeyError):
            continue
        summary = exp.summary()
        best = summary.iloc[0] if len(summary) and summary["n"].iloc[0] > 0 else None
        rows.append({
            "name": exp.spec.name, "dir": str(folder), "title": exp.spec.title, "data": exp.spec.base.data,
            "variations": len(exp.spec.variations), "repeats": exp.spec.repeats,
            "epochs": exp.spec.base.train.epochs, "done": exp.done, "total": exp.total,
            "best": None if best is None else best["label"],
            "best_test_rmse": None if best is None else best["test_rmse_mean"],
        })
    return rows


def delete_experiment(name: str, root: Path | str | None = None) -> None:
    import shutil

    folder = experiment_dir(name, root)
    if not (folder / "experiment.json").exists():
        raise FileNotFoundError(f"no experiment '{name}' in {folder.parent}")
    shutil.rmtree(folder)


TRIAL_COLUMNS = ("key", "variation", "label", "repeat", "seed", "status", "test_rmse", "persistence_rmse", "skill",
                 "test_mae", "test_direction", "val_rmse", "best_val_loss", "best_epoch", "epochs_run",
                 "train_seconds", "seconds_per_epoch", "params", "device", "run_dir", "error")


def trials_frame(records: Iterable[dict], exp: ExperimentSpec | None = None) -> pd.DataFrame:
    """One row per trial record (no histories), in the experiment's variation order."""
    rows = [{c: r.get(c) for c in TRIAL_COLUMNS} for r in records]
    frame = pd.DataFrame(rows, columns=list(TRIAL_COLUMNS))
    if exp is not None and len(frame):
        order = {v.id: i for i, v in enumerate(exp.variations)}
        labels = {v.id: v.label for v in exp.variations}
        frame = frame[frame["variation"].isin(order)].copy()
        frame["label"] = frame["variation"].map(labels)
        frame["_order"] = frame["variation"].map(order)
        frame = frame.sort_values(["_order", "repeat"]).drop(columns="_order").reset_index(drop=True)
    for col in ("test_rmse", "persistence_rmse", "skill", "test_mae", "test_direction", "val_rmse", "best_val_loss",
                "train_seconds", "seconds_per_epoch"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(float)
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
        # P(|T| > t) for Student's t with dof degrees = I_{dof/(dof+t^2)}(dof/2, 1/2). scipy.special
        # imports in ~0.2 s where scipy.stats takes 1-4 s: this runs when the Experiments page opens.
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
        rmse, skill = _stats(part["test_rmse"]), _stats(part["skill"])
        rows.append({
            "variation": vid, "label": label, "n": int(len(part)), "errors": errors,
            **{f"test_rmse_{k}": v for k, v in rmse.items()},
            **{f"skill_{k}": v for k, v in skill.items()},
            "persistence_rmse": float(part["persistence_rmse"].mean()) if len(part) else math.nan,
            "best_val_loss_mean": float(part["best_val_loss"].mean()) if len(part) else math.nan,
            "best_val_loss_min": float(part["best_val_loss"].min()) if len(part) else math.nan,
            "train_seconds_mean": float(part["train_seconds"].mean()) if len(part) else math.nan,
            "seconds_per_epoch": float(part["seconds_per_epoch"].mean()) if len(part) else math.nan,
            "params": int(part["params"].iloc[0]) if len(part) and part["params"].iloc[0] is not None else None,
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
    return summary


def ranking_note(summary: pd.DataFrame) -> str:
    """A plain-language reading of the ranking."""
    if summary.empty or summary["n"].max() == 0:
        return "No finished trials yet."
    best = summary.iloc[0]
    tied = summary[summary["vs_best"] == "within the spread"]["label"].tolist()
    unclear = summary[summary["vs_best"] == "too few repeats to tell"]["label"].tolist()
    parts = [f"Lowest mean test RMSE: {best['label']} ({best['test_rmse_mean']:.4g}"
             + (f" ± {best['test_rmse_std']:.2g}" if np.isfinite(best["test_rmse_std"]) else "")
             + f" over {int(best['n'])} run{'s' if best['n'] != 1 else ''})."]
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
    return " ".join(parts)


def _join(items: list[str]) -> str:
    items = [str(i) for i in items]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def comparison_table(summary: pd.DataFrame) -> pd.DataFrame:
    """The seed's architecture table, with the spread: one row per setting, plain column names."""
    if summary.empty:
        return pd.DataFrame()

    def pm(mean: float, std: float) -> str:
        if not np.isfinite(mean):
            return "-"
        return f"{mean:.4g} ± {std:.2g}" if np.isfinite(std) else f"{mean:.4g}"

    return pd.DataFrame({
        "Rank": summary["rank"],
        "Setting": summary["label"],
        "Runs": summary["n"],
        "Best val loss (lowest)": summary["best_val_loss_min"],
        "Best val loss (mean)": summary["best_val_loss_mean"],
        "Test RMSE (mean ± sd)": [pm(m, s) for m, s in zip(summary["test_rmse_mean"], summary["test_rmse_std"])],
        "Test RMSE median": summary["test_rmse_median"],
        "Persistence RMSE": summary["persistence_rmse"],
        "Skill vs persistence (mean)": summary["skill_mean"],
        "Parameters": summary["params"],
        "Seconds per epoch": summary["seconds_per_epoch"],
        "Gap to best": summary["vs_best"],
    })


def histories(records: Iterable[dict]) -> pd.DataFrame:
    """Long table of every trial's loss curves: key, variation, label, repeat, epoch, loss, val_loss."""
    rows = []
    for r in records:
        h = r.get("history") or {}
        for i, (loss, val) in enumerate(zip(h.get("loss", []), h.get("val_loss", h.get("loss", [])))):
            rows.append({"key": r["key"], "variation": r["variation"], "label": r.get("label", r["variation"]),
                         "repeat": r["repeat"], "epoch": i + 1, "loss": loss, "val_loss": val})
    return pd.DataFrame(rows, columns=["key", "variation", "label", "repeat", "epoch", "loss", "val_loss"])


def result_json(exp: Experiment, include_trials: bool = True) -> dict:
    """Everything the CLI prints with ``--json``."""
    summary = exp.summary()
    out = {"name": exp.spec.name, "dir": str(exp.dir), "title": exp.spec.title, "data": exp.spec.base.data,
           "done": exp.done, "total": exp.total, "repeats": exp.spec.repeats,
           "epochs": exp.spec.base.train.epochs, "last_rows": exp.spec.last_rows,
           "summary": summary.to_dict(orient="records"), "note": exp.note()}
    if include_trials:
        out["trials"] = exp.frame().to_dict(orient="records")
    return out


# ---- running -----------------------------------------------------------------------------------
def default_workers(gpu: bool | None = None) -> int:
    """One worker per core, or 1 when a GPU trains (trials on one GPU are serialised)."""
    if gpu is None:
        gpu = gpu_present()
    return 1 if gpu else max(1, os.cpu_count() or 1)


def gpu_present() -> bool:
    """A cheap look for an NVIDIA GPU without importing TensorFlow."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1"):
        return False
    return Path("/dev/nvidia0").exists() or Path("/dev/nvidiactl").exists()


class _FolderLock:
    """One runner per experiment folder at a time (a second one would repeat trials)."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / ".lock"
        self.handle = None

    def __enter__(self) -> _FolderLock:
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock, the user is trusted not to run it twice
            return self
        self.handle = open(self.path, "a+")
        try:
            fcntl.flock(self.handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.handle.close()
            self.handle = None
            raise ExperimentError(f"experiment '{self.path.parent.name}' is already running in another process") from None
        return self

    def __exit__(self, *exc) -> None:
        if self.handle is not None:
            import fcntl

            fcntl.flock(self.handle.fileno(), fcntl.LOCK_UN)
            self.handle.close()


def run_experiment(exp: ExperimentSpec, executor: str = "local", workers: int | None = None,
                   address: str | None = None, progress: Progress | None = None,
                   stop: threading.Event | None = None, root: Path | str | None = None,
                   candles: pd.DataFrame | None = None) -> Experiment:
    """Run the trials not yet finished in the experiment's folder and return the experiment.

    ``executor``: ``local`` (a process pool of ``workers``, default one per core; 1 worker trains
    in this process), ``serial`` (this process) or ``ray`` (each trial a Ray task; ``address`` or
    ``RAY_ADDRESS``, else a local Ray instance). ``progress`` gets ``start``, ``trial`` (after each
    finished trial: done, total, eta seconds, the record) and ``finish`` events. ``stop`` ends the
    experiment after the running trials; an exception (or a kill) loses only running trials."""
    from pricecast.experiments import execution as experiment_exec

    if executor not in EXECUTORS:
        raise ExperimentError(f"unknown executor '{executor}'; choose from {', '.join(EXECUTORS)}")
    folder = prepare_folder(exp, root)
    progress = progress or (lambda event: None)
    stop = stop or threading.Event()
    with _FolderLock(folder):
        finished = done_keys(read_records(folder), exp)
        todo = [t for t in expand(exp) if t.key not in finished]
        total = len(finished) + len(todo)
        if workers is None:
            workers = default_workers()
        workers = max(1, min(int(workers), max(1, len(todo))))
        started = time.perf_counter()
        progress({"type": "start", "name": exp.name, "dir": str(folder), "done": len(finished), "total": total,
                  "todo": len(todo), "executor": executor, "workers": workers})
        counter = {"done": len(finished), "ran": 0}

        def on_result(record: dict) -> None:
            if record.get("status") == "ok":
                counter["done"] += 1
            counter["ran"] += 1
            elapsed = time.perf_counter() - started
            left = len(todo) - counter["ran"]
            eta = elapsed / counter["ran"] * left if counter["ran"] else None
            progress({"type": "trial", "done": counter["done"], "total": total, "ran": counter["ran"],
                      "todo": len(todo), "elapsed": elapsed, "eta": eta, "record": record})

        if todo:
            if candles is None:
                candles = load_candles(exp)
            check_data(exp, candles)
            experiment_exec.execute(executor, todo, candles, folder, on_result, stop, workers, address)
        progress({"type": "finish", "done": counter["done"], "total": total, "ran": counter["ran"],
                  "elapsed": time.perf_counter() - started, "stopped": stop.is_set()})
    return load_experiment(folder)


def check_data(exp: ExperimentSpec, candles: pd.DataFrame) -> None:
    """Window and scale the data once per distinct setup (no TensorFlow): a series too short for
    the windows fails here with one message instead of in every trial."""
    from pricecast.training.pipeline import prepare

    seen = set()
    for v in exp.variations:
        spec = apply_overrides(exp.base, v.overrides)
        key = (spec.window, spec.scaling)
        if key in seen:
            continue
        seen.add(key)
        try:
            prepare(spec, candles)
        except ValueError as exc:
            rows = f" ({len(candles)} rows" + (f", the last {exp.last_rows}" if exp.last_rows else "") + ")"
            raise ExperimentError(f"variation '{v.label}' cannot use this data{rows}: {exc}") from exc
