"""Values as plain JSON data, the one cleaner for everything pricecast writes as JSON or YAML
(run metrics, experiment files, setups, ``--json`` output)."""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON data: numpy numbers to Python ones, NaN/inf to null (strict JSON has no
    NaN), tuples and arrays to lists (so a definition compares equal after a round trip), keys to
    strings."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.generic):  # numpy integers, booleans, strings
        return value.item()
    return value
