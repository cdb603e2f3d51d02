"""Run folders: save, list, reload, delete, and export a run's windows to HDF5.

A run folder holds ``spec.json``, ``history.csv``, ``model.keras``, ``metrics.json``,
``predictions.csv``, ``forecast.csv`` and ``scaler.json``. It is written under a temporary name
and renamed when complete, so a crash never leaves a half-written run that looks finished.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from pricecast.data.datasets import display_name
from pricecast.errors import PricecastError
from pricecast.jsonable import jsonable
from pricecast.paths import runs_dir
from pricecast.prep.scaling import Scaler
from pricecast.prep.windows import WindowSet
from pricecast.presets import setup_label
from pricecast.specs import RunSpec
from pricecast.training.types import Run, RunFileError

RUN_FILES = ("spec.json", "history.csv", "model.keras", "metrics.json", "predictions.csv")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:40] or "run"


# A save takes seconds; a partial folder this old belongs to a process that died mid-save.
STALE_PARTIAL_SECONDS = 3600
# A run folder's name starts with the time it was saved (UTC), so names sort by age.
STAMP = "%Y%m%d-%H%M%S"


def saved_at(name: str) -> datetime | None:
    """When the run folder ``name`` was saved (UTC), read from its name; None for a folder named otherwise."""
    try:
        return datetime.strptime(name[:15], STAMP).replace(tzinfo=UTC)
    except ValueError:
        return None


def save_run(run: Run, root: Path | None = None) -> Path:
    """Write the run under a hidden ``.NAME.partial`` folder, then rename it. On any failure (a
    full disk) the partial folder is removed and the error raised: no half run is left behind."""
    root = Path(root) if root else runs_dir()
    root.mkdir(parents=True, exist_ok=True)
    remove_stale_partials(root)
    stamp = datetime.now(UTC).strftime(STAMP)
    name = f"{stamp}-{_slug(run.spec.preset or run.spec.model.arch)}-{_slug(display_name(run.spec.data))}-{uuid.uuid4().hex[:6]}"
    tmp = root / f".{name}.partial"
    tmp.mkdir()
    try:
        (tmp / "spec.json").write_text(json.dumps(run.spec.to_dict(), indent=2))
        (tmp / "metrics.json").write_text(json.dumps(jsonable(run.metrics), indent=2))
        (tmp / "scaler.json").write_text(json.dumps(run.scaler.to_dict(), indent=2))
        run.history.to_csv(tmp / "history.csv", index=False)
        run.predictions.to_csv(tmp / "predictions.csv", index=False)
        run.forecast.to_csv(tmp / "forecast.csv", index=False)
        run.model.save(tmp / "model.keras")
        final = root / name
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def remove_stale_partials(root: Path, older_than_s: float = STALE_PARTIAL_SECONDS) -> list[Path]:
    """Delete ``.*.partial`` folders left by saves that died (kill -9, power loss) long ago."""
    removed = []
    cutoff = time.time() - older_than_s
    for folder in Path(root).glob(".*.partial"):
        try:
            if folder.is_dir() and folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder)
                removed.append(folder)
        except OSError:
            continue  # another process removed or renamed it meanwhile
    return removed


RUNNING = ".running"  # a marker per training under way (see running_marker); left behind when it died
FORGET_INTERRUPTED_DAYS = 7


@dataclass
class RunListing:
    """What a runs folder holds: the complete runs (newest first), the folders that could not be
    read (``"NAME (why)"``) and the trainings that ended before saving (``interrupted``)."""

    rows: list[dict] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    interrupted: list[dict] = field(default_factory=list)

    @property
    def notes(self) -> list[str]:
        """One line each for what the table cannot show: say so rather than leave it out silently."""
        notes = []
        if self.unreadable:
            n = len(self.unreadable)
            notes.append(f"{n} run folder{'s' if n > 1 else ''} could not be read: {'; '.join(self.unreadable)}")
        if self.interrupted:
            n = len(self.interrupted)
            what = "; ".join(f"{r.get('preset') or r.get('arch') or 'a run'} on {r.get('data') or '?'}, started "
                             f"{r.get('started', '?')}" for r in self.interrupted)
            notes.append(f"{n} training{'s were' if n > 1 else ' was'} interrupted before saving (its server or "
                         f"worker process ended; nothing of it was kept): {what}")
        return notes


def list_runs(root: Path | None = None) -> list[dict]:
    """One summary row per complete run folder, newest first."""
    return scan_runs(root).rows


def scan_runs(root: Path | None = None) -> RunListing:
    """The runs folder read in full: :func:`list_runs`'s rows and what could not be listed."""
    root = Path(root) if root else runs_dir()
    listing = RunListing(interrupted=_interrupted(root))
    for folder in sorted(root.glob("*"), reverse=True):
        if folder.name.startswith(".") or not folder.is_dir() or not (
                (folder / "metrics.json").exists() or (folder / "spec.json").exists()):
            continue
        try:
            spec, metrics = _read_object(folder / "spec.json"), _read_object(folder / "metrics.json")
        except (OSError, ValueError) as exc:  # a damaged folder is named, not fatal to the listing
            listing.unreadable.append(f"{folder.name} ({exc})")
            continue
        test = metrics.get("test", {}) if isinstance(metrics.get("test"), dict) else {}
        try:
            label = setup_label(RunSpec.from_dict(spec))
        except (TypeError, ValueError, AttributeError, KeyError):  # settings this version cannot read
            label = spec.get("preset") or ""
        own = test.get("network") or test  # runs are compared by their networks' own scores
        decision = metrics.get("decision") or {}
        listing.rows.append({
            "run": folder.name,
            "run_dir": str(folder),
            "preset": spec.get("preset") or "",
            "label": label,  # what differs from the preset: "GRU · N=60"
            "data": spec.get("data", ""),
            "arch": (spec.get("model") or {}).get("arch", ""),
            "n": (spec.get("window") or {}).get("n"),
            "k": (spec.get("window") or {}).get("k"),
            "params": metrics.get("params"),
            "epochs": metrics.get("epochs_run"),
            "seconds": metrics.get("train_seconds"),
            "best_val_loss": metrics.get("best_val_loss"),
            "test_rmse": own.get("rmse"),
            "persistence_rmse": test.get("persistence_rmse"),
            "skill": own.get("skill"),
            # which forecast the run uses (older folders: their floor's outcome)
            "decision": decision.get("choice") or ("persistence" if metrics.get("ended_as_persistence") else "network"),
            "decision_p": decision.get("p_value"),
        })
    return listing


def _read_object(path: Path) -> dict:
    """A JSON object from one of a run folder's files; the error names the file and what is wrong."""
    try:
        value = json.loads(path.read_text())
    except FileNotFoundError:
        raise OSError(f"{path.name} is missing") from None
    except OSError as exc:
        raise OSError(f"{path.name}: {exc.strerror or exc}") from None
    except ValueError as exc:  # JSONDecodeError, or bytes that are not text
        raise PricecastError(f"{path.name} is not valid JSON: {str(exc)[:100]}") from None
    if not isinstance(value, dict):
        raise PricecastError(f"{path.name} does not hold a JSON object")
    return value


@contextlib.contextmanager
def running_marker(spec: RunSpec, root: Path | str | None = None) -> Iterator[Path]:
    """Mark a training as under way in the runs folder for as long as it runs. A training whose
    process is killed (the server stopped, the machine out of memory) leaves the marker behind, and
    :func:`scan_runs` lists it as interrupted instead of it vanishing without a trace."""
    folder = Path(root) if root else runs_dir()
    marker = folder / RUNNING / f"{uuid.uuid4().hex}.json"
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(json.dumps({
            "started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "pid": os.getpid(),
            "host": socket.gethostname(), "preset": spec.preset, "data": display_name(spec.data),
            "arch": spec.model.arch}))
    except OSError:
        pass  # a read-only or full disk: the training itself says so when it saves
    try:
        yield marker
    finally:
        marker.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _interrupted(root: Path) -> list[dict]:
    out = []
    for marker in sorted((root / RUNNING).glob("*.json"), reverse=True):
        try:
            info = json.loads(marker.read_text())
            if time.time() - marker.stat().st_mtime > FORGET_INTERRUPTED_DAYS * 86400:
                marker.unlink(missing_ok=True)  # said often enough
                continue
        except (OSError, ValueError):
            continue
        if not isinstance(info, dict):
            continue
        if info.get("host") == socket.gethostname() and _alive(int(info.get("pid") or 0) or -1):
            continue  # still training
        out.append(info)
    return out


def load_run(run_dir: Path | str) -> Run:
    """A saved run, with its model loaded on first use (``run.load_model()``)."""
    folder = Path(run_dir)
    missing = [f for f in RUN_FILES if not (folder / f).exists()]
    if missing:
        raise FileNotFoundError(f"{folder} is not a complete run folder (missing {', '.join(missing)})")
    forecast_file = folder / "forecast.csv"
    return Run(
        run_dir=folder,
        spec=RunSpec.from_dict(_read_json(folder / "spec.json")),
        history=pd.read_csv(folder / "history.csv"),
        metrics=_read_json(folder / "metrics.json"),
        predictions=_read_times(folder / "predictions.csv", ("origin_time", "time")),
        forecast=_read_times(forecast_file, ("time",)) if forecast_file.exists() else pd.DataFrame(),
        scaler=Scaler.from_dict(_read_json(folder / "scaler.json")),
    )


def _read_json(path: Path) -> dict:
    """A run's JSON file as a dict; :class:`RunFileError` naming the file when it is damaged
    (json's own message, "Invalid control character at...", says neither which file nor what to do)."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
        raise RunFileError(f"{path} is damaged (not valid JSON: {str(exc)[:80]}); train this run again, "
                           "or restore the file from a backup") from None
    if not isinstance(value, dict):
        raise RunFileError(f"{path} is damaged (it holds {type(value).__name__}, not the run's settings); "
                           "train this run again, or restore the file from a backup")
    return value


def _read_times(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    frame = pd.read_csv(path)
    for col in columns:
        frame[col] = pd.to_datetime(frame[col], utc=True)
    return frame


READ_ONLY_ENV = "PRICECAST_READ_ONLY_RUNS"


def read_only_runs() -> bool:
    """``$PRICECAST_READ_ONLY_RUNS`` set (1/yes/true): on a server others reach (a LAN), the dashboard
    shows runs trained in other browser sessions but offers no download or delete for them."""
    return os.environ.get(READ_ONLY_ENV, "").strip().lower() in ("1", "yes", "true", "on")


def delete_run(run_dir: Path | str, root: Path | str | None = None) -> None:
    """Delete one run folder, which must sit directly in ``root`` (default: the runs folder):
    a path that leads anywhere else (``../``, a symlink, another folder with a spec.json) is refused."""
    root_dir = (Path(root) if root else runs_dir()).resolve()
    folder = Path(run_dir).expanduser()
    if not folder.is_absolute() and not folder.exists():
        folder = root_dir / folder  # a bare run name, as `runs` lists it
    resolved = folder.resolve()
    if resolved.parent != root_dir or folder.is_symlink():
        raise PricecastError(f"refusing to delete {run_dir}: it is not a run folder in {root_dir}")
    if not (resolved / "spec.json").exists():
        raise FileNotFoundError(f"{folder} is not a run folder")
    shutil.rmtree(resolved)


def export_windows_h5(wset: WindowSet, scaler: Scaler, path: Path | str, chunk: int = 16384) -> Path:
    """The windowed dataset in the tutorial's HDF5 layout (scaled and original-scale copies), plus
    which part each window belongs to. Written in chunks: the views are never materialised whole."""
    import h5py  # not at the top: it takes a fifth of a second to import, and only this export needs it

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


def store_run_files(root: Path | str | None, name: str, files: dict[str, bytes]) -> Path:
    """Write a run folder that arrived as bytes (from another machine) under ``root`` (the runs
    folder by default), atomically: a temporary folder renamed into place. An existing folder of
    that name is kept (the same run gathered twice)."""
    root = Path(root) if root else runs_dir()
    final = root / Path(name).name
    if final.exists():
        return final
    tmp = root / f".{final.name}.{uuid.uuid4().hex[:6]}.partial"
    for rel, data in files.items():
        path = tmp / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    tmp.mkdir(parents=True, exist_ok=True)
    if final.exists():
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        os.replace(tmp, final)
    return final
