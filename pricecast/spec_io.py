"""A :class:`~pricecast.specs.RunSpec` as flat URL query parameters and as YAML, both ways.

Query parameters are flat (``?data=sample:MSFT&n=60&k=5&arch=lstm&units=64,32``): every field of
the window, model and training specs is one parameter under its own name (the names do not
collide), lists are comma-separated and booleans are ``1``/``0``. Only values that differ from
``RunSpec()``'s defaults are written, so links stay short; reading starts from ``RunSpec()`` too.

Every reading error is a :class:`SpecError` that names the parameter and says what it expects.
This module knows nothing of Streamlit.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import fields
from typing import Any

import yaml

from pricecast.catalogue import FIELDS, SECTIONS, SPLIT_LIMITS, Field, SpecError, format_value
from pricecast.jsonable import jsonable
from pricecast.models.checks import check_model
from pricecast.models.common import ModelSpecError
from pricecast.models.spec import ModelSpec
from pricecast.prep.windows import WindowError, WindowSpec
from pricecast.presets import PRESETS, origin_preset
from pricecast.specs import RunSpec, TrainSpec

__all__ = ["SpecError", "SECTIONS", "SPLIT_LIMITS", "LIMITS", "CHOICES", "TOP_LEVEL", "FIELD_SECTION", "PARAM_NAMES",
           "spec_to_params", "spec_from_params", "spec_from_link", "validate_spec", "value_problem", "spec_problems",
           "spec_to_dict", "spec_to_yaml", "spec_from_yaml"]

TOP_LEVEL: tuple[str, ...] = tuple(f.name for f in FIELDS.values() if not f.section)
# Flat parameter name -> section ('window' / 'model' / 'train'); the catalogue keeps names unique.
FIELD_SECTION: dict[str, str] = {f.name: f.section for f in FIELDS.values() if f.section}
PARAM_NAMES: tuple[str, ...] = tuple(f.url for f in FIELDS.values())
_BY_URL: dict[str, Field] = {f.url: f for f in FIELDS.values()}

# The catalogue's ranges and choices under the names the pages use (the Model page's widgets use
# the same bounds, so any setup read from a link or a file can be shown there).
LIMITS: dict[str, tuple[float, float]] = {f.name: f.limits for f in FIELDS.values() if f.limits is not None}
CHOICES: dict[str, tuple[str, ...]] = {f.name: f.choices for f in FIELDS.values() if f.choices is not None}
_format = format_value


def _defaults() -> dict[str, dict[str, Any]]:
    base = RunSpec()
    return {name: getattr(base, name).to_dict() for name in SECTIONS}


# ---- query parameters --------------------------------------------------------------------------
def spec_to_params(spec: RunSpec) -> dict[str, str]:
    """Flat query parameters for ``spec``: only what differs from ``RunSpec()``."""
    base = RunSpec()
    out: dict[str, str] = {}
    for f in FIELDS.values():
        value = _value(spec, f)
        if _normal(value) != _normal(_value(base, f)):
            out[f.url] = _format(value)
    return out


def _value(spec: RunSpec, f: Field) -> Any:
    return getattr(getattr(spec, f.section) if f.section else spec, f.name)


def _normal(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _last(raw: Any) -> str:
    return str(raw[-1] if isinstance(raw, (list, tuple)) and raw else raw).strip()


def spec_from_params(params: Mapping[str, Any], validate: bool = True) -> tuple[RunSpec, list[str]]:
    """Read a spec from query parameters (values may be ``str`` or a list of ``str``: the last one wins).

    Returns the spec and the names of parameters that are not part of a setup (ignored).
    Raises :class:`SpecError` on a value that cannot be read or (``validate``) a setup that cannot work.
    """
    values: dict[str, Any] = {}
    ignored: list[str] = []
    for key, raw in params.items():
        f = _BY_URL.get(key)
        if f is None:
            ignored.append(key)
        else:
            values[f.name] = f.parse(_last(raw))
    spec = _build(values)
    if validate:
        validate_spec(spec)
    return spec, ignored


def _build(values: Mapping[str, Any]) -> RunSpec:
    """``RunSpec()`` with flat settings laid over it (empty data falls back to the default)."""
    top = {k: v for k, v in values.items() if not FIELDS[k].section}
    if not top.get("data", RunSpec.data):
        top["data"] = RunSpec.data
    defaults = _defaults()
    sections = {s: {k: v for k, v in values.items() if FIELDS[k].section == s} for s in SECTIONS}
    try:
        return RunSpec(
            **top,
            window=WindowSpec.from_dict({**defaults["window"], **sections["window"]}),
            model=ModelSpec.from_dict({**defaults["model"], **sections["model"]}),
            train=TrainSpec.from_dict({**defaults["train"], **sections["train"]}),
        )
    except (TypeError, ValueError) as exc:
        raise SpecError(f"the setup cannot be read: {exc}") from None


def validate_spec(spec: RunSpec) -> None:
    """Raise :class:`SpecError` with the fix when the setup can never train (no data needed)."""
    if not spec.data.strip():
        raise SpecError("data: no data chosen (e.g. sample:AAPL)")
    for f in FIELDS.values():
        if (problem := f.problem(_value(spec, f))) is not None:
            raise SpecError(f"{f.name}: {problem}")
    try:
        spec.window.check()
        check_model(spec.model, spec.window.n, spec.window.k, spec.window.features, spec.window.target)
    except (WindowError, ModelSpecError) as exc:
        raise SpecError(str(exc)) from None


def value_problem(name: str, value: Any) -> str | None:
    """Why ``value`` is not a usable value of setting ``name`` on the Model page (None when it is).
    Single settings only; combinations (a CNN head that does not fit N) are :func:`validate_spec`'s."""
    f = FIELDS.get(name)
    return None if f is None else f.page_problem(value)


def spec_problems(spec: RunSpec) -> list[str]:
    """Every setting of ``spec`` outside what :func:`value_problem` accepts, as ``name: why``."""
    return [f"{f.name}: {problem}" for f in FIELDS.values() if f.name not in ("data", "preset")
            and (problem := f.page_problem(_value(spec, f))) is not None]


def spec_from_link(params: Mapping[str, Any], data_problem: Callable[[str], str | None] | None = None,
                   ) -> tuple[RunSpec, list[str]]:
    """Read a setup from a link's query parameters, dropping what cannot be used instead of failing.

    Each value that cannot be read or lies outside :data:`LIMITS` / :data:`CHOICES` is left at its
    default, and so are unknown parameters; ``data_problem(ref)`` says why a ``data`` value may not
    be opened (None: it may). Returns the spec and one entry per dropped parameter, e.g.
    ``"n=-5 (must be 1 to 5,000)"``.
    """
    values: dict[str, Any] = {}
    dropped: list[str] = []
    for key, raw in params.items():
        text = _last(raw)
        shown = f"{str(key)[:40]}={text[:60]}{'…' if len(text) > 60 else ''}"
        f = _BY_URL.get(key)
        if f is None:
            problem = "not a setting"
        elif f.name in ("data", "preset"):
            problem = _top_problem(f.name, text, data_problem)
            value = text
        else:
            try:
                value = f.parse(text)
                problem = f.page_problem(value)
            except SpecError as exc:
                problem = str(exc).split(": ", 1)[-1]
        if problem is None:
            values[f.name] = value
        else:
            dropped.append(f"{shown} ({problem})")
    for section in SECTIONS:  # values fine one by one but not together (a dataclass refused them)
        mine = [k for k in values if FIELDS[k].section == section]
        try:
            _build({k: values[k] for k in mine})
        except SpecError as exc:
            dropped.append(f"the {section} settings {', '.join(mine)} ({exc})")
            values = {k: v for k, v in values.items() if k not in mine}
    return _build(values), dropped


def _top_problem(key: str, text: str, data_problem: Callable[[str], str | None] | None) -> str | None:
    if key == "data":
        if not text:
            return "empty"
        return data_problem(text) if data_problem is not None else None
    # "custom (from default)": a setup edited away from a preset names where it started
    return None if origin_preset(text) in PRESETS or not text else "no preset of that name"


# ---- YAML --------------------------------------------------------------------------------------
def spec_to_dict(spec: RunSpec) -> dict:
    """Plain nested dict (lists, not tuples) for YAML/JSON."""
    return jsonable(spec.to_dict())


def spec_to_yaml(spec: RunSpec) -> str:
    header = "# pricecast setup: load it on the dashboard's Model page to reproduce this run\n"
    return header + yaml.safe_dump(spec_to_dict(spec), sort_keys=False, default_flow_style=None)


# A setup written by spec_to_yaml is well under 2 KB; anything near these is not a setup.
MAX_YAML_CHARS = 64_000
MAX_YAML_ITEMS = 100


class _SetupLoader(yaml.SafeLoader):
    """``safe_load`` without aliases: ``*a`` repeats a node, so nested aliases expand a few hundred
    bytes into gigabytes (an "alias bomb"). A setup never needs them; refusing them at the first
    one costs nothing, before any expansion."""

    def compose_node(self, parent, index):  # type: ignore[no-untyped-def]  # PyYAML's own signature
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise SpecError(f"the setup file uses a YAML alias (*name, line {mark.line + 1}); write each "
                            "value out instead: a setup file has no use for anchors and aliases")
        return super().compose_node(parent, index)


def _check_sizes(node: Any, where: str) -> None:
    """Refuse lists longer than any setting takes, so no error message joins thousands of items."""
    if isinstance(node, dict):
        for key, value in node.items():
            _check_sizes(value, f"{where}.{key}" if where else str(key)[:40])
    elif isinstance(node, list):
        if len(node) > MAX_YAML_ITEMS:
            raise SpecError(f"{where}: {len(node):,} values; a setting takes at most {MAX_YAML_ITEMS}")
        for value in node:
            _check_sizes(value, where)


def _yaml_mapping(text: str | bytes) -> dict:
    """The setup file's top-level mapping, refused before it expands when it is too large or uses aliases."""
    if len(text) > MAX_YAML_CHARS:
        raise SpecError(f"the setup file is {len(text):,} bytes; a setup is at most {MAX_YAML_CHARS:,}")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise SpecError("the setup file is not UTF-8 text") from None
    try:
        data = yaml.load(text, Loader=_SetupLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" (line {where.line + 1})" if where is not None else ""
        raise SpecError(f"the setup file is not valid YAML{at}: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise SpecError("the setup file must hold a mapping with data, window, model, train")
    _check_sizes(data, "")
    return data


def _section_values(section: str, cls: type, part: Any) -> dict[str, Any]:
    if not isinstance(part, dict):
        raise SpecError(f"{section}: expected a mapping of settings")
    known = {f.name for f in fields(cls)}
    bad = [k for k in part if k not in known]
    if bad:
        raise SpecError(f"{section}: unknown setting(s) {_short(', '.join(map(str, bad)))}; known: {', '.join(sorted(known))}")
    # Through the text parser, so YAML and links accept and reject the same things; an empty entry
    # keeps the default.
    return {key: FIELDS[key].parse(value if isinstance(value, str) else _format(value))
            for key, value in part.items() if value is not None}


def spec_from_yaml(text: str | bytes, validate: bool = True) -> RunSpec:
    """Read a setup written by :func:`spec_to_yaml` (or by hand). Unknown keys are errors, so a
    typo never silently falls back to a default. Aliases, files over :data:`MAX_YAML_CHARS` and
    lists over :data:`MAX_YAML_ITEMS` are refused (a setup is small; those are attacks or accidents)."""
    data = _yaml_mapping(text)
    unknown = [k for k in data if k not in TOP_LEVEL and k not in SECTIONS]
    if unknown:
        raise SpecError(f"unknown key(s) {_short(', '.join(map(str, unknown)))}; expected {', '.join(TOP_LEVEL + tuple(SECTIONS))}")
    values: dict[str, Any] = {}
    for section, cls in SECTIONS.items():
        values.update(_section_values(section, cls, data.get(section) or {}))
    for key in TOP_LEVEL:
        if data.get(key) is not None:
            values[key] = FIELDS[key].parse(str(data[key]))
    spec = _build(values)
    if validate:
        validate_spec(spec)
    return spec


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
