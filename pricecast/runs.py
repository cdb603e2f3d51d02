"""Run folders: save, list, reload, delete, and export a run's windows to HDF5.

A run folder holds ``spec.json``, ``history.csv``, ``model.keras``, ``metrics.json``,
``predictions.csv``, ``forecast.csv`` and ``scaler.json``. It is written under a temporary name
and renamed when complete, so a crash never leaves a half-written run that looks finished.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .datasets import display_name
from .paths import runs_dir
from .scaling import Scaler
from .specs import RunSpec

if TYPE_CHECKING:
    from .training import Run
    from .windows import WindowSet

RUN_FILES = ("spec.json", "history.csv", "model.keras", "metrics.json", "predictions.csv")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:40] or "run"


def save_run(run: "Run", root: Path | None = None) -> Path:
    root = Path(root) if root else runs_dir()
    root.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    name = f"{stamp}-{_slug(run.spec.preset or run.spec.model.arch)}-{_slug(display_name(run.spec.data))}-{uuid.uuid4().hex[:6]}"
    tmp = root / f".{name}.partial"
    tmp.mkdir()
    (tmp / "spec.json").write_text(json.dumps(run.spec.to_dict(), indent=2))
    (tmp / "metrics.json").write_text(json.dumps(_jsonable(run.metrics), indent=2))
    (tmp / "scaler.json").write_text(json.dumps(run.scaler.to_dict(), indent=2))
    run.history.to_csv(tmp / "history.csv", index=False)
    run.predictions.to_csv(tmp / "predictions.csv", index=False)
    run.forecast.to_csv(tmp / "forecast.csv", index=False)
    run.model.save(tmp / "model.keras")
    final = root / name
    os.replace(tmp, final)
    return final


def list_runs(root: Path | None = None) -> list[dict]:
    """One summary row per complete run folder, newest first."""
    root = Path(root) if root else runs_dir()
    rows = []
    for folder in sorted(root.glob("*"), reverse=True):
        if folder.name.startswith(".") or not (folder / "metrics.json").exists():
            continue
        try:
            spec = json.loads((folder / "spec.json").read_text())
            metrics = json.loads((folder / "metrics.json").read_text())
        except (OSError, json.JSONDecodeError):
            continue  # a damaged folder is skipped, not fatal to the listing
        test = metrics.get("test", {})
        rows.append({
            "run": folder.name,
            "run_dir": str(folder),
            "preset": spec.get("preset") or "",
            "data": spec.get("data", ""),
            "arch": spec.get("model", {}).get("arch", ""),
            "n": spec.get("window", {}).get("n"),
            "k": spec.get("window", {}).get("k"),
            "params": metrics.get("params"),
            "epochs": metrics.get("epochs_run"),
            "seconds": metrics.get("train_seconds"),
            "best_val_loss": metrics.get("best_val_loss"),
            "test_rmse": test.get("rmse"),
            "persistence_rmse": test.get("persistence_rmse"),
            "skill": test.get("skill"),
        })
    return rows


def load_run(run_dir: Path | str) -> "Run":
    """A saved run, with its model loaded on first use (``run.load_model()``)."""
    from .training import Run

    folder = Path(run_dir)
    missing = [f for f in RUN_FILES if not (folder / f).exists()]
    if missing:
        raise FileNotFoundError(f"{folder} is not a complete run folder (missing {', '.join(missing)})")
    forecast_file = folder / "forecast.csv"
    return Run(
        run_dir=folder,
        spec=RunSpec.from_dict(json.loads((folder / "spec.json").read_text())),
        history=pd.read_csv(folder / "history.csv"),
        metrics=json.loads((folder / "metrics.json").read_text()),
        predictions=_read_times(folder / "predictions.csv", ("origin_time", "time")),
        forecast=_read_times(forecast_file, ("time",)) if forecast_file.exists() else pd.DataFrame(),
        scaler=Scaler.from_dict(json.loads((folder / "scaler.json").read_text())),
    )


def _read_times(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    frame = pd.read_csv(path)
    for col in columns:
        frame[col] = pd.to_datetime(frame[col], utc=True)
    return frame


def delete_run(run_dir: Path | str) -> None:
    folder = Path(run_dir)
    if not (folder / "spec.json").exists():
        raise FileNotFoundError(f"{folder} is not a run folder")
    shutil.rmtree(folder)


def export_windows_h5(wset: "WindowSet", scaler: Scaler, path: Path | str, chunk: int = 16384) -> Path:
    """The windowed dataset in the tutorial's HDF5 layout (scaled and original-scale copies), plus
    which part each window belongs to. Written in chunks: the views are never materialised whole."""
    import h5py

    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    parts = [p for p in wset.parts.values() if len(p)]
    m = sum(len(p) for p in parts)
    n, k, f = wset.spec.n, wset.spec.k, len(wset.spec.features)
    with h5py.File(tmp, "w") as h5:
        ds = {
            "inputs": h5.create_dataset("inputs", (m, n, f), "f4"),
            "outputs": h5.create_dataset("outputs", (m, k, 1), "f4"),
            "original_inputs": h5.create_dataset("original_inputs", (m, n, f), "f8"),
            "original_outputs": h5.create_dataset("original_outputs", (m, k, 1), "f8"),
            "input_times": h5.create_dataset("input_times", (m, n), "i8"),
            "output_times": h5.create_dataset("output_times", (m, k), "i8"),
        }
        h5.create_dataset("original_datas", data=wset.values)
        h5.create_dataset("part", data=np.concatenate([[p.name.encode()] * len(p) for p in parts]))
        h5.attrs.update({"features": ",".join(wset.spec.features), "target": wset.spec.target,
                         "scaling": scaler.kind, "time_unit": "unix seconds", "n": n, "k": k})
        seconds = wset.times.as_unit("s").asi8
        row = 0
        for p in parts:
            for a in range(0, len(p), chunk):
                b = min(a + chunk, len(p))
                sl = slice(row + a, row + b)
                ds["inputs"][sl] = scaler.transform_x(p.x[a:b])
                ds["outputs"][sl] = scaler.transform_y(p.y[a:b], p.history[a:b])[..., None]
                ds["original_inputs"][sl] = p.x[a:b]
                ds["original_outputs"][sl] = np.asarray(p.y[a:b])[..., None]
                origin = p.origin[a:b]
                ds["input_times"][sl] = seconds[origin[:, None] + np.arange(-n + 1, 1)[None, :]]
                ds["output_times"][sl] = seconds[origin[:, None] + np.arange(1, k + 1)[None, :]]
            row += len(p)
    os.replace(tmp, path)
    return path


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return None if not np.isfinite(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value
