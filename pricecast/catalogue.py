"""The one table of what every setting of a :class:`~pricecast.specs.RunSpec` accepts.

Read from the spec dataclasses' field descriptions (:func:`pricecast.field_meta.setting`): each
setting's type (from its annotation), choices, bounds, CLI flag, query parameter and help. Every
place that turns text into settings goes through :meth:`Field.parse` — the CLI options of
``train``, ``backtest`` and ``experiment run`` (built here by :func:`add_spec_options`), links and
YAML (:mod:`pricecast.spec_io`) and ``experiment --vary`` — so a bad value gets the same message
everywhere, naming the setting.
"""
from __future__ import annotations

import argparse
import math
from collections.abc import Collection, Mapping
from dataclasses import MISSING, dataclass, fields, replace
from typing import Any

from pricecast.errors import PricecastError
from pricecast.field_meta import KEY
from pricecast.models.registry import ARCHITECTURES, ARCHS, taking
from pricecast.models.spec import ModelSpec
from pricecast.prep.windows import WindowSpec
from pricecast.specs import RunSpec, TrainSpec

SECTIONS: dict[str, type] = {"window": WindowSpec, "model": ModelSpec, "train": TrainSpec}
# Training share, validation share: the Model page's percentage inputs (a link outside is dropped).
SPLIT_LIMITS: tuple[tuple[float, float], tuple[float, float]] = ((0.05, 0.95), (0.0, 0.9))

_KINDS: dict[str, str] = {
    "int": "int", "float": "float", "bool": "bool", "str": "str", "bool | None": "optbool",
    "tuple[int, ...]": "ints", "tuple[str, ...]": "strs", "tuple[float, float, float]": "floats",
    "tuple[float, ...]": "fractions", "str | None": "str",
}
_YES, _NO = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
_EXPECTS: dict[str, str] = {
    "int": "a whole number", "float": "a number", "bool": "a yes/no value (1 or 0)", "optbool": "1, 0 or auto",
    "ints": "a comma-separated list of whole numbers (e.g. 32,16)",
    "floats": "three comma-separated shares that add up to 1 (e.g. 0.7,0.15,0.15)",
    "fractions": "comma-separated shares between 0 and 1, or percentages (e.g. 0.8,0.95 or 80,95)",
}


class SpecError(PricecastError):
    """A setup that cannot be read or cannot work, with what to change."""


@dataclass(frozen=True)
class Field:
    """One user-settable setting: where it lives, what it accepts, how it is spelled."""

    name: str
    section: str  # "window", "model", "train", or "" for RunSpec's own (data, scaling, preset)
    kind: str  # int, float, bool, optbool (yes/no/auto), str, ints, floats, strs
    default: Any
    help: str
    choices: tuple[str, ...] | None = None
    limits: tuple[float, float] | None = None  # the Model page's range
    at_least: float | None = None
    above: float | None = None
    below: float | None = None
    min_items: int = 0
    flag: str | None = None  # CLI option, None: not on the CLI
    url: str = ""  # query parameter
    label: str = ""  # how a page names it
    explain: str = ""  # the longer help a page shows ("" = help)
    widget: str = ""  # "slider", "toggle", "radio": a page's input other than the kind's usual one
    step: float | None = None  # a page input's step
    archs: tuple[str, ...] | None = None  # the architectures a model setting applies to (None: all)

    @property
    def is_list(self) -> bool:
        return self.kind in ("ints", "floats", "strs", "fractions")

    def expects(self) -> str:
        if self.kind in _EXPECTS:
            return _EXPECTS[self.kind]
        if self.choices is not None:
            return "one of " + _shown(self.choices)
        return "text"

    def parse(self, text: Any) -> Any:
        """The value ``text`` stands for, checked; :class:`SpecError` ``"name: why"`` when unusable."""
        value = self._convert(str(text).strip())
        problem = self.problem(value)
        if problem is not None:
            raise SpecError(f"{self.name}: {problem}")
        return value

    def _convert(self, text: str) -> Any:
        lowered = text.lower()
        try:
            if self.kind == "bool":
                if lowered in _YES or lowered in _NO or lowered == "":
                    return lowered in _YES
            elif self.kind == "optbool":
                if lowered in ("", "none", "null", "auto"):
                    return None
                if lowered in _YES or lowered in _NO:
                    return lowered in _YES
            elif self.kind == "int":
                number = float(text)
                if number.is_integer():
                    return int(number)
            elif self.kind == "float":
                return float(text)
            elif self.is_list:
                items = [t.strip() for t in text.split(",") if t.strip()]
                if self.kind == "fractions":  # "80,95" and "0.8,0.95" both work
                    return tuple(v / 100.0 if v > 1 else v for v in map(float, items))
                cast = {"ints": int, "floats": float, "strs": str}[self.kind]
                return tuple(cast(t) for t in items)
            else:
                return text
        except (ValueError, OverflowError):
            pass
        raise SpecError(f"{self.name}: '{_clip(text)}' is not {self.expects()}")

    def problem(self, value: Any) -> str | None:
        """Why ``value`` can never work for this setting (None: it may). Combinations (a CNN head
        that does not fit N) are :func:`pricecast.spec_io.validate_spec`'s."""
        items = tuple(value) if self.is_list and isinstance(value, (tuple, list)) else (value,)
        if self.choices is not None:
            bad = [str(v) for v in items if v not in self.choices]
            if bad:
                return f"'{_clip(', '.join(bad))}' is not one of {_shown(self.choices)}"
            if self.is_list and len(set(items)) != len(items):
                return "choose each value once"
        if self.is_list and len(items) < self.min_items:
            return "needs at least one value"
        if self.kind == "floats":
            return _split_problem(items)
        if self.kind == "fractions" and any(not 0.0 < v < 1.0 for v in items):
            return f"each must lie between 0 and 1 (got {format_value(items)})"
        if self.kind == "optbool" and value not in (None, True, False):
            return "must be 1, 0 or auto"
        if self.kind in ("int", "float", "ints"):
            for v in items:
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not self._in_bounds(v):
                    return f"{self._bounds_text()} (got {format_value(v)})"
        return None

    def _in_bounds(self, v: float) -> bool:
        return (not math.isnan(v) and (self.at_least is None or v >= self.at_least)
                and (self.above is None or v > self.above) and (self.below is None or v < self.below))

    def _bounds_text(self) -> str:
        parts = [f"{_number(self.at_least)} or more" if self.at_least is not None else "",
                 f"above {_number(self.above)}" if self.above is not None else "",
                 f"below {_number(self.below)}" if self.below is not None else ""]
        return "must be " + " and ".join(p for p in parts if p) if any(parts) else f"must be {self.expects()}"

    def page_problem(self, value: Any) -> str | None:
        """Why the Model page cannot show ``value`` (outside its range), or :meth:`problem`."""
        items = tuple(value) if isinstance(value, (tuple, list)) else (value,)
        if self.limits is not None:
            lo, hi = self.limits
            if self.is_list and len(items) < self.min_items:
                return "needs at least one number"
            if any(isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi for v in items):
                return f"must be {_number(lo)} to {_number(hi)}"
        if (problem := self.problem(value)) is not None:
            return problem
        if self.kind == "floats":
            for share, (lo, hi), what in zip(items, SPLIT_LIMITS, ("training", "validation")):
                if not lo <= share <= hi:
                    return f"the {what} share must be {lo:g} to {hi:g}"
        return None

    def cli_choices(self) -> str | None:
        """``{a,b,c}`` for the CLI's usage line, where the choices read well there."""
        if self.choices and not self.is_list and all(self.choices):
            return "{" + ",".join(self.choices) + "}"
        return None

    def page_help(self) -> str:
        """The help a page shows: the long explanation, led by the architectures it applies to when not
        all ("CNN only: ...", "Not for DLinear: ...", read from the registry)."""
        text = self.explain or self.help[:1].upper() + self.help[1:] + "."
        if self.archs is None:
            return text
        names = [ARCHS[a].short for a in self.archs]
        text = text if text[1:2].isupper() else text[:1].lower() + text[1:]  # "N: ..." keeps its capital
        if len(names) <= len(ARCHS) // 2:
            return f"{'/'.join(names)} only: {text}"
        return f"Not for {'/'.join(a.short for a in ARCHS.values() if a.name not in self.archs)}: {text}"

    def cli_help(self) -> str:
        shown = self.choices is not None and self.cli_choices() is None
        return self.help + (f" (from {_shown(self.choices)})" if shown else "")


def _split_problem(shares: tuple) -> str | None:
    if len(shares) != 3 or min(shares) < 0 or shares[0] <= 0 or abs(sum(shares) - 1.0) > 1e-6:
        return f"needs three shares that add up to 1, training above 0, e.g. 0.7,0.15,0.15 (got {format_value(shares)})"
    return None


def _clip(text: str, limit: int = 80) -> str:
    """A value quoted in a message, cut short: a message never repeats a whole hostile input."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _shown(choices: tuple[str, ...]) -> str:
    return ", ".join(c or "(none)" for c in choices)


def _number(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


def format_value(value: Any) -> str:
    """Text :meth:`Field.parse` reads back to ``value`` (lists comma-separated, booleans 1/0)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (list, tuple)):
        return ",".join(format_value(v) for v in value)
    if isinstance(value, float):
        return repr(value)  # repr round-trips exactly (0.1 stays 0.1, 1e-05 stays 1e-05)
    return str(value)



def _default(f: Any) -> Any:
    if f.default is not MISSING:
        return f.default
    return None if f.default_factory is MISSING else f.default_factory()


def fields_of(cls: type, section: str) -> list[Field]:
    """The described fields of one spec dataclass (nested sections are catalogued on their own)."""
    out = []
    for f in fields(cls):
        meta = f.metadata.get(KEY)
        if meta is None:
            continue  # a nested section (RunSpec.window ...), catalogued on its own
        kind = _KINDS.get(str(f.type))
        if kind is None:
            raise AssertionError(f"{cls.__name__}.{f.name}: no text form for type {f.type}")
        flag = meta["flag"]
        # ModelSpec.arch: the registry's architectures (the registry's modules take a ModelSpec, so the
        # spec cannot name them without an import circle)
        choices = ARCHITECTURES if cls is ModelSpec and f.name == "arch" else meta["choices"]
        out.append(Field(
            name=f.name, section=section, kind=kind, default=_default(f), help=meta["help"],
            choices=choices, limits=meta["limits"], at_least=meta["at_least"], above=meta["above"],
            below=meta["below"], min_items=meta["min_items"],
            flag=None if flag is None else (flag or "--" + f.name.replace("_", "-")), url=meta["url"] or f.name,
            label=meta["label"] or f.name.replace("_", " ").capitalize(), explain=meta["explain"],
            widget=meta["widget"], step=meta["step"], archs=taking(f.name) if cls is ModelSpec else None))
    return out


def _catalogue() -> dict[str, Field]:
    out: dict[str, Field] = {}
    for f in fields_of(RunSpec, "") + [f for s, cls in SECTIONS.items() for f in fields_of(cls, s)]:
        if f.name in out:  # flat names keep links and --vary short; a clash would make them ambiguous
            raise AssertionError(f"setting name clash: {f.name}")
        out[f.name] = f
    return out


FIELDS: dict[str, Field] = _catalogue()


# How a setting is named in a short label ("N=60" reads better than "n=60").
_SHORT_NAMES = {"n": "N", "k": "K"}


def settings_of(spec: RunSpec) -> dict[str, Any]:
    """Every setting of ``spec`` by its flat name (``{"data": ..., "n": 30, "arch": "gru", ...}``)."""
    return {f.name: getattr(getattr(spec, f.section) if f.section else spec, f.name) for f in FIELDS.values()}


def setting_text(name: str, value: Any) -> str:
    """``N=60``, ``units=64,32``, ``residual=0``: one setting as a label shows it."""
    return f"{_SHORT_NAMES.get(name, name)}={format_value(value)}"


def field_named(key: str) -> Field:
    """The setting ``key`` (``units`` or ``model.units``); :class:`SpecError` naming the known ones."""
    section, _, name = key.strip().rpartition(".")
    f = FIELDS.get(name)
    if f is None or (section and section != f.section):
        raise SpecError(f"{key}: not a setting; known: {', '.join(FIELDS)}")
    return f


def parse_overrides(texts: Mapping[str, Any]) -> dict[str, Any]:
    """``{"units": "64,32", "model.dropout": "0.2"}`` -> ``{"units": (64, 32), "dropout": 0.2}``, each
    value checked (:class:`SpecError` names the first bad one)."""
    return {field_named(str(key)).name: field_named(str(key)).parse(text) for key, text in texts.items()}


def with_overrides(spec: RunSpec, overrides: Mapping[str, Any]) -> RunSpec:
    """``spec`` with flat settings (``{"n": 60, "arch": "lstm"}``) laid over it."""
    parts: dict[str, dict[str, Any]] = {"": {}, **{s: {} for s in SECTIONS}}
    for key, value in overrides.items():
        f = field_named(key)
        parts[f.section][f.name] = value
    changes = {s: replace(getattr(spec, s), **parts[s]) for s in SECTIONS if parts[s]}
    return spec.replace(**parts[""], **changes)


# ---- CLI --------------------------------------------------------------------------------------
# The options' own namespace, so a command's other options (`experiment run --workers`, trials at a
# time) never write into a setting of the same name.
_DEST = "setting_"


def cli_fields(table: Mapping[str, Field] | None = None) -> list[Field]:
    return [f for f in (FIELDS if table is None else table).values() if f.flag is not None]


def _argparse_type(f: Field):
    def parse(text: str) -> Any:
        try:
            return f.parse(text)
        except SpecError as exc:  # argparse prefixes "argument --flag:", so drop the "name: "
            raise argparse.ArgumentTypeError(str(exc).split(": ", 1)[1]) from None

    parse.__name__ = f.name  # argparse names the type in some messages
    return parse


def add_spec_options(parser: argparse.ArgumentParser, own: Collection[str] = (),
                     title: str = "setup options (override the preset's)",
                     table: Mapping[str, Field] | None = None, only: Collection[str] = ()) -> None:
    """The window, model and training options (every CLI setting of the catalogue, or of ``table``
    such as :data:`~pricecast.backtest.spec.BACKTEST_FIELDS`), each overriding the preset (or the spec's default) when given.
    ``own``: settings the command defines itself with the same flag but its own meaning
    (``experiment --seed`` is the first repeat's seed). ``only``: just these settings (``data show``
    takes the window's)."""
    group = parser.add_argument_group(title)
    for f in cli_fields(table):
        if f.name in own or (only and f.name not in only):
            continue
        if f.kind in ("bool", "optbool"):
            group.add_argument(f.flag, dest=_DEST + f.section + f.name, action=argparse.BooleanOptionalAction,
                               default=None, help=f.cli_help())
        else:
            group.add_argument(f.flag, dest=_DEST + f.section + f.name, type=_argparse_type(f), default=None,
                               metavar=f.cli_choices() or f.flag[2:].replace("-", "_").upper(), help=f.cli_help())


def overrides_from_args(args: argparse.Namespace, table: Mapping[str, Field] | None = None) -> dict[str, Any]:
    """The settings given on the command line (by :func:`add_spec_options` with the same ``table``)."""
    return {f.name: getattr(args, _DEST + f.section + f.name) for f in cli_fields(table)
            if getattr(args, _DEST + f.section + f.name, None) is not None}
