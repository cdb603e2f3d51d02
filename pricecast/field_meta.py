"""How one spec field is described: ``setting(default, help=..., ...)`` instead of a bare default.

The description lives in the dataclass field's ``metadata`` so the spec classes stay the one
place a setting is defined; :mod:`pricecast.catalogue` reads it to parse text (CLI, links, YAML,
``--vary``), check values and build the CLI options. This module imports nothing of the project,
so every spec module can use it.
"""
from __future__ import annotations

import dataclasses
from typing import Any

KEY = "pricecast"  # the metadata key the description is stored under


def setting(default: Any = dataclasses.MISSING, *, help: str, choices: tuple[str, ...] | None = None,
            limits: tuple[float, float] | None = None, at_least: float | None = None, above: float | None = None,
            below: float | None = None, min_items: int = 0, flag: str | None = "", url: str = "",
            label: str = "", explain: str = "", widget: str = "", step: float | None = None,
            default_factory: Any = dataclasses.MISSING) -> Any:
    """A dataclass field with its description.

    ``choices``: the values it may take (each item, for a list). ``at_least`` / ``above`` /
    ``below`` and ``min_items`` (of a list): what can work at all (checked wherever text is read).
    ``limits``: the narrower range the Model page offers; links outside it are dropped so the page
    can show every setup it opens.
    ``flag``: the CLI option ("" = ``--name-with-dashes``; None = not on the CLI). ``url``: the query
    parameter ("" = the field name).
    ``label``: how a page names it ("" = the name with spaces); ``explain``: the longer help a page
    shows beside it, for someone new to forecasting ("" = ``help``; which architectures a model
    option applies to is the registry's and is prefixed by the catalogue, never written here);
    ``widget``: "slider", "toggle" or "radio" where a page draws it so instead of the kind's usual
    input; ``step``: a page input's step.
    """
    meta = {KEY: {"help": help, "choices": choices, "limits": limits, "at_least": at_least, "above": above,
                  "below": below, "min_items": min_items, "flag": flag, "url": url,
                  "label": label, "explain": explain, "widget": widget, "step": step}}
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)
