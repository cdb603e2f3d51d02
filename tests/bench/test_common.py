"""bench/_common.py's results files: the library's one JSON conversion, so they are strict JSON too."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from bench._common import save_results


def _strict(text: str) -> dict:
    def refuse(name: str) -> float:
        raise ValueError(f"not strict JSON: {name}")

    return json.loads(text, parse_constant=refuse)


def test_results_are_strict_json_with_numpy_values_and_nan_as_null(tmp_path):
    path = save_results("x", {"rmse": np.float32(0.5), "epochs": np.int64(3), "curve": np.array([1.0, math.nan]),
                              "skill": math.nan, "ok": np.bool_(True), "file": Path("a/b.csv")},
                        path=tmp_path / "x.json")
    data = _strict(path.read_text())
    assert data["benchmark"] == "x"
    assert {k: data[k] for k in ("rmse", "epochs", "curve", "skill", "ok", "file")} == {
        "rmse": 0.5, "epochs": 3, "curve": [1.0, None], "skill": None, "ok": True, "file": "a/b.csv"}

