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

from .candles import CANDLE_COLUMNS
from .errors import PricecastError
from .models import (
    ACTIVATIONS,
    ARCHITECTURES,
    OPTIMIZERS,
    OUTPUT_ACTIVATIONS,
    REGULARIZED,
    ModelSpec,
    ModelSpecError,
    check_model,
)
from .scaling import SCALERS
from .specs import RunSpec, TrainSpec
from .windows import WindowError, WindowSpec

TOP_LEVEL: tuple[str, ...] = ("data", "scaling", "preset")
SECTIONS: dict[str, type] = {"window": WindowSpec, "model": ModelSpec, "train": TrainSpec}


class SpecError(PricecastError):
    """A setup that cannot be read or cannot work, with what to change."""


def _defaults() -> dict[str, dict[str, Any]]:
    base = RunSpec()
    return {name: getattr(base, name).to_dict() for name in SECTIONS}


def _field_section() -> dict[str, str]:
    """Flat parameter name -> section ('window' / 'model' / 'train')."""
    out: dict[str, str] = {}
    for section, cls in SECTIONS.items():
        for f in fields(cls):
            if f.name in out or f.name in TOP_LEVEL:  # a clash would make links ambiguous
                raise AssertionError(f"query parameter name clash: {f.name}")
            out[f.name] = section
    return out


FIELD_SECTION: dict[str, str] = _field_section()
PARAM_NAMES: tuple[str, ...] = TOP_LEVEL + tuple(FIELD_SECTION)

# The values a setting may take (the Model page's widgets use the same bounds, so any setup read
# from a link or a file can be shown there). Lists of numbers: the bound applies to each item.
LIMITS: dict[str, tuple[float, float]] = {
    "n": (1, 5000), "k": (1, 500), "stride": (1, 10000),
    "units": (1, 4096), "dense_units": (1, 4096), "kernel_sizes": (1, 5000), "strides": (1, 5000),
    "dropout": (0.0, 0.9), "recurrent_dropout": (0.0, 0.9), "l1": (0.0, 1.0), "l2": (0.0, 1.0),
    "learning_rate": (1e-6, 1.0),
    "epochs": (1, 10000), "batch_size": (1, 65536), "patience": (0, 1000), "seed": (0, 2**31 - 1),
    "workers": (1, 64), "base_batch_size": (0, 65536),
}
CHOICES: dict[str, tuple[str, ...]] = {
    "scaling": tuple(SCALERS), "arch": ARCHITECTURES, "activation": ACTIVATIONS,
    "output_activation": OUTPUT_ACTIVATIONS, "post_activation": ("", *ACTIVATIONS), "optimizer": OPTIMIZERS,
    "cnn_head": ("dense", "conv"), "target": CANDLE_COLUMNS, "features": CANDLE_COLUMNS, "regularize": REGULARIZED,
    "loss": ("mse", "mae", "huber", "log_cosh"), "pipeline": ("auto", "batches", "prefetch"),
}
# Training share, validation share (the Model page's percentage inputs).
SPLIT_LIMITS: tuple[tuple[float, float], tuple[float, float]] = ((0.05, 0.95), (0.0, 0.9))


# ---- values <-> text ---------------------------------------------------------------------------
def _format(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (list, tuple)):
        return ",".join(_format(v) for v in value)
    if isinstance(value, float):
        return repr(value)  # repr round-trips exactly (0.1 stays 0.1, 1e-05 stays 1e-05)
    return str(value)


def _parse(name: str, text: str, default: Any) -> Any:
    """Parse ``text`` to the type of ``default`` (the dataclass default tells the type)."""
    text = str(text).strip()
    try:
        if default is None:  # optional setting (e.g. "auto" = None): yes/no, a number, or text
            lowered = text.lower()
            if lowered in ("", "none", "null", "auto"):
                return None
            if lowered in ("1", "true", "yes", "on", "0", "false", "no", "off"):
                return lowered in ("1", "true", "yes", "on")
            for kind in (int, float):
                try:
                    return kind(text)
                except ValueError:
                    pass
            return text
        if isinstance(default, bool):
            lowered = text.lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off", ""):
                return False
            raise ValueError
        if isinstance(default, int):
            return int(float(text)) if float(text).is_integer() else _raise()
        if isinstance(default, float):
            return float(text)
        if isinstance(default, (tuple, list)):
            items = [t.strip() for t in text.split(",") if t.strip()]
            sample = default[0] if len(default) else None
            if name in ("units", "kernel_sizes", "strides", "dense_units"):
                return tuple(int(t) for t in items)
            if name == "split" or isinstance(sample, float):
                return tuple(float(t) for t in items)
            return tuple(items)
        return text
    except (ValueError, TypeError):
        raise SpecError(f"{name}: '{text}' is not {_expects(name, default)}") from None


def _raise():
    raise ValueError


def _expects(name: str, default: Any) -> str:
    if isinstance(default, bool):
        return "a yes/no value (1 or 0)"
    if isinstance(default, int):
        return "a whole number"
    if isinstance(default, float):
        return "a number"
    if name in ("units", "kernel_sizes", "strides", "dense_units"):
        return "a comma-separated list of whole numbers (e.g. 32,16)"
    if name == "split":
        return "three comma-separated shares adding up to 1 (e.g. 0.7,0.15,0.15)"
    return "a valid value"


# ---- query parameters --------------------------------------------------------------------------
def spec_to_params(spec: RunSpec) -> dict[str, str]:
    """Flat query parameters for ``spec``: only what differs from ``RunSpec()``."""
    base = RunSpec()
    out: dict[str, str] = {}
    for name in TOP_LEVEL:
        if getattr(spec, name) != getattr(base, name):
            out[name] = str(getattr(spec, name))
    defaults = _defaults()
    for section in SECTIONS:
        values = getattr(spec, section).to_dict()
        for key, value in values.items():
            if _normal(value) != _normal(defaults[section][key]):
                out[key] = _format(value)
    return out


def _normal(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def spec_from_params(params: Mapping[str, Any], validate: bool = True) -> tuple[RunSpec, list[str]]:
    """Read a spec from query parameters (values may be ``str`` or a list of ``str``: the last one wins).

    Returns the spec and the names of parameters that are not part of a setup (ignored).
    Raises :class:`SpecError` on a value that cannot be read or (``validate``) a setup that cannot work.
    """
    defaults = _defaults()
    top: dict[str, Any] = {}
    sections: dict[str, dict[str, Any]] = {s: {} for s in SECTIONS}
    ignored: list[str] = []
    for key, raw in params.items():
        value = raw[-1] if isinstance(raw, (list, tuple)) and raw else raw
        if key in TOP_LEVEL:
            top[key] = str(value).strip()
        elif key in FIELD_SECTION:
            section = FIELD_SECTION[key]
            sections[section][key] = _parse(key, value, defaults[section][key])
        else:
            ignored.append(key)
    spec = _build(top, sections, defaults)
    if validate:
        validate_spec(spec)
    return spec, ignored


def _build(top: dict, sections: dict[str, dict], defaults: dict[str, dict]) -> RunSpec:
    try:
        return RunSpec(
            data=top.get("data", RunSpec.data) or RunSpec.data,
            scaling=top.get("scaling", RunSpec.scaling),
            preset=top.get("preset", ""),
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
    if spec.scaling not in SCALERS:
        raise SpecError(f"scaling: unknown '{spec.scaling}'; choose from {', '.join(SCALERS)}")
    try:
        spec.window.check()
        check_model(spec.model, spec.window.n, spec.window.k, spec.window.features, spec.window.target)
    except (WindowError, ModelSpecError) as exc:
        raise SpecError(str(exc)) from None
    t = spec.train
    if t.epochs < 1:
        raise SpecError(f"epochs: must be at least 1 (got {t.epochs})")
    if t.batch_size < 1:
        raise SpecError(f"batch_size: must be at least 1 (got {t.batch_size})")
    if t.patience < 0:
        raise SpecError(f"patience: must be 0 (off) or more (got {t.patience})")


def value_problem(name: str, value: Any) -> str | None:
    """Why ``value`` is not a usable value of setting ``name`` (None when it is). Single settings
    only; combinations (a CNN head that does not fit N) are :func:`validate_spec`'s."""
    if name in CHOICES:
        allowed = CHOICES[name]
        items = value if isinstance(value, (tuple, list)) else (value,)
        bad = [str(v) for v in items if v not in allowed]
        if bad:
            shown = ", ".join(a or "(none)" for a in allowed)
            return f"'{', '.join(bad)}' is not one of {shown}"
        if name == "features" and (not items or len(set(items)) != len(items)):
            return "choose each input feature once, at least one"
    if name in LIMITS:
        lo, hi = LIMITS[name]
        items = value if isinstance(value, (tuple, list)) else (value,)
        if name in ("units", "kernel_sizes", "strides") and not items:
            return "needs at least one number"
        if any(isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi for v in items):
            return f"must be {_number(lo)} to {_number(hi)}"
    if name == "split":
        if len(value) != 3 or min(value) < 0 or abs(sum(value) - 1.0) > 1e-6:
            return "needs three shares adding up to 1, e.g. 0.7,0.15,0.15"
        for share, (lo, hi), what in zip(value, SPLIT_LIMITS, ("training", "validation")):
            if not lo <= share <= hi:
                return f"the {what} share must be {lo:g} to {hi:g}"
    if name == "jit_compile" and value not in (None, True, False):
        return "must be 1, 0 or auto"
    return None


def _number(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


def spec_problems(spec: RunSpec) -> list[str]:
    """Every setting of ``spec`` outside what :func:`value_problem` accepts, as ``name: why``."""
    out = []
    if (problem := value_problem("scaling", spec.scaling)) is not None:
        out.append(f"scaling: {problem}")
    for section in SECTIONS:
        for key, value in getattr(spec, section).to_dict().items():
            if (problem := value_problem(key, value)) is not None:
                out.append(f"{key}: {problem}")
    return out


def spec_from_link(params: Mapping[str, Any], data_problem: Callable[[str], str | None] | None = None,
                   ) -> tuple[RunSpec, list[str]]:
    """Read a setup from a link's query parameters, dropping what cannot be used instead of failing.

    Each value that cannot be read or lies outside :data:`LIMITS` / :data:`CHOICES` is left at its
    default, and so are unknown parameters; ``data_problem(ref)`` says why a ``data`` value may not
    be opened (None: it may). Returns the spec and one entry per dropped parameter, e.g.
    ``"n=-5 (must be 1 to 5,000)"``.
    """
    defaults = _defaults()
    top: dict[str, Any] = {}
    sections: dict[str, dict[str, Any]] = {s: {} for s in SECTIONS}
    dropped: list[str] = []
    for key, raw in params.items():
        text = str(raw[-1] if isinstance(raw, (list, tuple)) and raw else raw).strip()
        shown = f"{str(key)[:40]}={text[:60]}{'…' if len(text) > 60 else ''}"
        if key in TOP_LEVEL:
            problem = _top_problem(key, text, data_problem)
            if problem is None:
                top[key] = text
        elif key in FIELD_SECTION:
            section = FIELD_SECTION[key]
            try:
                value = _parse(key, text, defaults[section][key])
                problem = value_problem(key, value)
            except SpecError as exc:
                problem = str(exc).split(": ", 1)[-1]
            if problem is None:
                sections[section][key] = value
        else:
            problem = "not a setting"
        if problem is not None:
            dropped.append(f"{shown} ({problem})")
    for section in SECTIONS:  # values fine one by one but not together (a dataclass refused them)
        try:
            _build(top, {**{s: {} for s in SECTIONS}, section: sections[section]}, defaults)
        except SpecError as exc:
            dropped.append(f"the {section} settings {', '.join(sections[section])} ({exc})")
            sections[section] = {}
    return _build(top, sections, defaults), dropped


def _top_problem(key: str, text: str, data_problem: Callable[[str], str | None] | None) -> str | None:
    if key == "data":
        if not text:
            return "empty"
        return data_problem(text) if data_problem is not None else None
    if key == "scaling":
        return value_problem("scaling", text)
    from .presets import PRESETS

    return None if text in PRESETS or not text else "no preset of that name"


# ---- YAML --------------------------------------------------------------------------------------
def spec_to_dict(spec: RunSpec) -> dict:
    """Plain nested dict (lists, not tuples) for YAML/JSON."""
    def plain(value):
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        return value

    return plain(spec.to_dict())


def spec_to_yaml(spec: RunSpec) -> str:
    import yaml

    header = "# pricecast setup: load it on the dashboard's Model page to reproduce this run\n"
    return header + yaml.safe_dump(spec_to_dict(spec), sort_keys=False, default_flow_style=None)


def spec_from_yaml(text: str | bytes, validate: bool = True) -> RunSpec:
    """Read a setup written by :func:`spec_to_yaml` (or by hand). Unknown keys are errors, so a
    typo never silently falls back to a default."""
    import yaml

    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise SpecError("the setup file is not UTF-8 text") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" (line {where.line + 1})" if where is not None else ""
        raise SpecError(f"the setup file is not valid YAML{at}: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise SpecError("the setup file must hold a mapping with data, window, model, train")
    unknown = [k for k in data if k not in TOP_LEVEL and k not in SECTIONS]
    if unknown:
        raise SpecError(f"unknown key(s) {', '.join(map(str, unknown))}; expected {', '.join(TOP_LEVEL + tuple(SECTIONS))}")
    defaults = _defaults()
    sections: dict[str, dict] = {}
    for section, cls in SECTIONS.items():
        part = data.get(section) or {}
        if not isinstance(part, dict):
            raise SpecError(f"{section}: expected a mapping of settings")
        known = {f.name for f in fields(cls)}
        bad = [k for k in part if k not in known]
        if bad:
            raise SpecError(f"{section}: unknown setting(s) {', '.join(map(str, bad))}; known: {', '.join(sorted(known))}")
        checked = {}
        for key, value in part.items():
            # Reuse the text parser so YAML and URLs accept and reject the same things.
            if value is None:
                checked[key] = None if defaults[section][key] is None else defaults[section][key]
                continue
            text = _format(value) if not isinstance(value, str) else value
            checked[key] = _parse(key, text, defaults[section][key])
        sections[section] = checked
    top = {k: str(data[k]) for k in TOP_LEVEL if data.get(k) is not None}
    spec = _build(top, sections, defaults)
    if validate:
        validate_spec(spec)
    return spec
