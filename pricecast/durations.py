"""Spans of time as a person reads them, one spelling everywhere (CLI, pages, warnings):
``duration`` for how long something took or will take ("3 min 05 s"), ``ago`` for how old something is
("5 min ago", one unit is enough there)."""
from __future__ import annotations

import math
from datetime import timedelta


def _seconds(value: float | timedelta | None) -> float | None:
    if isinstance(value, timedelta):
        value = value.total_seconds()
    if value is None or not math.isfinite(value):
        return None
    return max(0.0, float(value))


def duration(seconds: float | timedelta | None, missing: str = "–") -> str:
    """``"45 s"``, ``"3 min 05 s"``, ``"2 h 05 min"``; ``missing`` for None or NaN (not known yet)."""
    value = _seconds(seconds)
    if value is None:
        return missing
    whole = int(round(value))
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


def ago(age: float | timedelta | None) -> str:
    """``"45 s ago"``, ``"12 min ago"``, ``"5 h ago"``, ``"3 days ago"``: the age in its one largest
    unit (up to 1.5 of the next, so "80 s", not "1 min"); "at an unknown time" for None."""
    value = _seconds(age)
    if value is None:
        return "at an unknown time"
    secs = int(value)
    if secs < 90:
        return f"{secs} s ago"
    if secs < 90 * 60:
        return f"{secs // 60} min ago"
    if secs < 48 * 3600:
        return f"{secs // 3600} h ago"
    return f"{secs // 86400} days ago"
