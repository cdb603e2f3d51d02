"""One page input per setting: ``widget(field, value, key)`` draws any catalogued setting
(:mod:`pricecast.catalogue`: a run's, a backtest's or an experiment's) as its description says — a
number box within the Model page's range, a slider, a checkbox or toggle, a choice, a list of whole
numbers — with the setting's label and long help, and returns the value in the setting's own type.
A page passes only what is its own: the key (kept stable: tests find widgets by it), the column to
draw in and Streamlit's keyword arguments where it narrows or words the input differently."""
from __future__ import annotations

import math
from typing import Any

import streamlit as st

from pricecast.catalogue import Field, SpecError


def _decimals(step: float) -> int:
    """Decimals a number box shows for ``step``: one more than the step's below 1%, so an L2 of
    0.00015 (step 0.00001) is not shown rounded."""
    digits = max(0, -math.floor(math.log10(step)))
    return digits + (1 if step < 0.01 else 0)


def _number(where: Any, field: Field, label: str, value: Any, options: dict[str, Any]) -> int | float:
    cast = int if field.kind == "int" else float
    if field.limits is not None:
        options.setdefault("min_value", cast(field.limits[0]))
        options.setdefault("max_value", cast(field.limits[1]))
    if field.step is not None:
        options.setdefault("step", cast(field.step))
    if field.widget == "slider":
        return cast(where.slider(label, value=cast(value), **options))
    if cast is float and "step" in options:
        options.setdefault("format", f"%.{_decimals(options['step'])}f")
    return cast(where.number_input(label, value=cast(value), **options))


def widget(field: Field, value: Any, key: str, where: Any = None, label: str | None = None, **options: Any) -> Any:
    """Draw ``field`` showing ``value`` in ``where`` (a column or container; default the page) and
    return what it holds now. ``label`` replaces the field's; ``options`` are Streamlit's keyword
    arguments (``min_value``, ``format_func``, ``disabled``, ``horizontal`` ...), over what the field
    says. A list that cannot be read raises :class:`~pricecast.catalogue.SpecError` naming the label."""
    where = st if where is None else where
    label = label or field.label
    options.setdefault("help", field.page_help())
    options["key"] = key
    if field.kind in ("bool", "optbool"):
        draw = where.toggle if field.widget == "toggle" else where.checkbox
        checked = bool(draw(label, value=bool(value), **options))
        return checked if field.kind == "bool" else (True if checked else None)  # optbool: off = let it decide
    if field.kind in ("int", "float"):
        return _number(where, field, label, value, options)
    if field.kind == "str" and field.choices is not None:
        choices = list(field.choices)
        options.setdefault("format_func", lambda choice: choice or "(none)")
        draw = where.radio if field.widget == "radio" else where.selectbox
        return draw(label, choices, index=choices.index(value) if value in choices else 0, **options)
    if field.kind == "strs" and field.choices is not None:
        chosen = where.multiselect(label, list(field.choices), default=[v for v in value if v in field.choices],
                                   **options)
        return tuple(chosen)
    if field.kind == "ints":
        typed = where.text_input(label, ", ".join(map(str, value)), **options)
        try:
            return field.parse(typed.replace(";", ","))
        except SpecError as exc:  # "units: why" -> "Units per layer: why", as the page names it
            raise SpecError(f"{label}: {str(exc).split(': ', 1)[1]}") from None
    if field.kind == "str":
        return where.text_input(label, "" if value is None else str(value), **options)
    raise TypeError(f"{field.name}: no page input for a setting of kind {field.kind}")
