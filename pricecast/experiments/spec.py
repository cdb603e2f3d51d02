"""An experiment's definition: the variations (a grid of settings), the spec that repeats them with
seeds, the trials it expands to, and the checks that run before anything trains.

Trials are keyed by variation id + repeat; the seed of repeat ``r`` is ``base_seed + r`` for every
variation, so variations are compared on the same seeds.
"""
from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

from pricecast.catalogue import Field, SpecError, field_named, fields_of, with_overrides
from pricecast.errors import PricecastError
from pricecast.field_meta import setting
from pricecast.jsonable import jsonable
from pricecast.models.checks import check_model
from pricecast.models.spec import ModelSpec
from pricecast.specs import RunSpec

MODEL_FIELDS: frozenset[str] = frozenset(f.name for f in fields(ModelSpec))
# The seed is what the repeats vary, so a variation may not set it; the data is the experiment's.
NOT_VARIED: frozenset[str] = frozenset({"seed", "data", "preset"})
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")


class ExperimentError(PricecastError):
    """An experiment that cannot run as defined, with what to change."""


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
        return {"id": self.id, "label": self.label, "overrides": jsonable(self.overrides)}

    @classmethod
    def from_dict(cls, data: Mapping) -> Variation:
        return cls(id=str(data["id"]), overrides=dict(data.get("overrides", {})), label=str(data.get("label", "")))


@dataclass(frozen=True)
class ExperimentSpec:
    """A base run setup, the variations to compare and how often to repeat each.

    ``since``/``until`` clip the data by date and ``last_rows`` keeps only the most recent rows
    (how a reduced-size experiment trains on a recent slice). ``folds`` above 0 makes every trial a
    walk-forward backtest over that many test folds (pooled), instead of one train/val/test split.
    The described settings are :data:`EXPERIMENT_FIELDS` (``experiment run``'s options, the page's inputs)."""

    name: str = setting(help="experiment name (default from the preset, data and size)",
                        label="Experiment name (optional)",
                        explain="Runs with the same name continue where they stopped instead of starting over. "
                                "Leave empty for a name made from the choices above.")
    base: RunSpec
    variations: tuple[Variation, ...]
    repeats: int = setting(3, limits=(1, 200), at_least=1, help="runs per setting (after --size)",
                           label="Repeats per setting",
                           explain="How many times each setting trains, each with its own seed. More repeats tell "
                                   "real differences from luck better.")
    # the seed of repeat r is base_seed + r; --seed, as a run's seed option is called
    base_seed: int = setting(0, at_least=0, flag="--seed",
                             help="seed of the first repeat (default 0); the repeats count on from it")
    since: str | None = setting(None, help="first date of the data")
    until: str | None = setting(None, help="last date of the data")
    last_rows: int | None = None
    title: str = ""
    preset: str = ""
    size: float = setting(1.0, limits=(0.02, 1.0), above=0.0, widget="slider", step=0.02,
                          help="scale repeats, epochs and data (0.1: a tenth; the seed's regularizer grid becomes "
                               "3 repeats x 3 epochs on a recent slice)",
                          explain="Scales repeats, epochs and data down for a quick look: 1 is the full experiment, "
                                  "0.1 runs a tenth of the repeats and epochs on a recent slice of the data.")
    folds: int = setting(0, limits=(0, 50), at_least=0,
                         help="walk-forward test folds per trial, scored pooled (0: one train/val/test split; "
                              "all-architectures: 3)")

    def __post_init__(self) -> None:
        object.__setattr__(self, "variations", tuple(self.variations))

    def to_dict(self) -> dict:
        return {
            "name": self.name, "title": self.title, "preset": self.preset, "size": self.size,
            "base": self.base.to_dict(), "variations": [v.to_dict() for v in self.variations],
            "repeats": self.repeats, "base_seed": self.base_seed,
            "since": self.since, "until": self.until, "last_rows": self.last_rows, "folds": self.folds,
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> ExperimentSpec:
        return cls(
            name=str(data["name"]), base=RunSpec.from_dict(data.get("base", {})),
            variations=tuple(Variation.from_dict(v) for v in data.get("variations", [])),
            repeats=int(data.get("repeats", 3)), base_seed=int(data.get("base_seed", 0)),
            since=data.get("since"), until=data.get("until"), last_rows=data.get("last_rows"),
            title=str(data.get("title", "")), preset=str(data.get("preset", "")), size=float(data.get("size", 1.0)),
            folds=int(data.get("folds") or 0),
        )

    def replace(self, **changes) -> ExperimentSpec:
        return replace(self, **changes)

    def identity(self) -> dict:
        """What must match for a folder's finished trials to belong to this experiment. The repeat
        count may grow (more repeats extend an experiment); labels and titles are cosmetic."""
        d = self.to_dict()
        return jsonable({"base": d["base"], "base_seed": d["base_seed"], "since": d["since"], "until": d["until"],
                       "last_rows": d["last_rows"], "folds": d["folds"], "variations": {v["id"]: v["overrides"] for v in d["variations"]}})


# An experiment's own settings, read as a run's are (the CLI's `experiment run` options, the page's inputs).
EXPERIMENT_FIELDS: dict[str, Field] = {f.name: f for f in fields_of(ExperimentSpec, "experiment")}


@dataclass(frozen=True)
class Trial:
    """One training of one variation with one seed."""

    key: str
    variation: str
    label: str
    repeat: int
    seed: int
    spec: RunSpec
    folds: int = 0  # walk-forward test folds (0: one train/val/test split)

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
            trials.append(Trial(trial_key(v.id, repeat), v.id, v.label, repeat, seed, spec, exp.folds))
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
    if exp.folds < 0:
        raise ExperimentError("folds must be 0 (one train/val/test split) or more (walk-forward test folds)")
    if exp.last_rows is not None and exp.last_rows < 2:
        raise ExperimentError("last_rows must be at least 2 (or unset for all rows)")
    for v in exp.variations:
        spec = apply_overrides(exp.base, v.overrides)
        try:
            spec.window.check()
            check_model(spec.model, spec.window.n, spec.window.k, spec.window.features, spec.window.target)
        except ValueError as exc:
            raise ExperimentError(f"variation '{v.label}': {exc}") from exc
