"""Experiment folders and what they hold, written so that a killed experiment resumes.

An experiment folder (``<home>/experiments/<name>``) holds:

- ``experiment.json``: the definition (:class:`~pricecast.experiments.spec.ExperimentSpec`),
- ``results/<trial>.json``: one record per finished trial, written atomically (temp file + rename),
  so an interrupted experiment resumes without repeating finished trials,
- ``trials/<run folder>``: the trials' run folders (ordinary runs: any trial opens like any run).

A folder lock keeps a second runner out of a folder while one runs.
"""
from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from pricecast.experiments.spec import (
    ExperimentError,
    ExperimentSpec,
    Trial,
    apply_overrides,
    expand,
    trial_file_name,
    validate,
)
from pricecast.experiments.stats import ranking_note, summarize, trials_frame
from pricecast.jsonable import jsonable
from pricecast.paths import experiments_dir

try:
    import fcntl
except ImportError:  # not POSIX: no lock, the user is trusted not to run an experiment twice
    fcntl = None


def experiments_root(root: Path | str | None = None) -> Path:
    if not root:
        return experiments_dir()
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def experiment_dir(name: str, root: Path | str | None = None) -> Path:
    """``<root>/<name>``; a name that would lead out of the experiments folder (``../x``, ``a/b``,
    an absolute path) is refused, so delete and run can never touch another folder."""
    base = experiments_root(root).resolve()
    folder = base / name
    if not name or name in (".", "..") or Path(name).name != name or folder.resolve().parent != base:
        raise ExperimentError(f"'{name}' is not an experiment name: use letters, digits, '-' and '_', no folders")
    return folder


def _write_json_atomic(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(jsonable(obj), indent=1))
    os.replace(tmp, path)


def save_record(exp_dir: Path | str, record: dict) -> Path:
    path = Path(exp_dir) / "results" / trial_file_name(record["variation"], int(record["repeat"]))
    _write_json_atomic(path, record)
    return path


def read_records(exp_dir: Path | str) -> list[dict]:
    """Finished trial records (a damaged file is skipped: that trial simply runs again)."""
    out = []
    for path in sorted((Path(exp_dir) / "results").glob("*.json")):
        try:
            out.append(json.loads(path.read_text()))
        except (OSError, json.JSONDecodeError):
            continue
    return out


def save_workers(exp_dir: Path | str, workers: int) -> None:
    """Remember the trials-at-a-time a run was started with (``--workers``), for its resume."""
    _write_json_atomic(Path(exp_dir) / "run_options.json", {"workers": int(workers)})


def saved_workers(exp_dir: Path | str) -> int | None:
    """The ``--workers`` the experiment was last run with, or None (never given, or unreadable)."""
    try:
        workers = json.loads((Path(exp_dir) / "run_options.json").read_text()).get("workers")
    except (OSError, ValueError, AttributeError):
        return None
    return workers if isinstance(workers, int) and workers >= 1 else None


def prepare_folder(exp: ExperimentSpec, root: Path | str | None = None) -> Path:
    """Create the folder with ``experiment.json``, or check an existing one matches ``exp``."""
    validate(exp)
    folder = experiment_dir(exp.name, root)
    definition = folder / "experiment.json"
    if definition.exists():
        old = ExperimentSpec.from_dict(json.loads(definition.read_text()))
        if old.identity() != exp.identity():
            raise ExperimentError(
                f"an experiment named '{exp.name}' already exists with a different setup ({folder}); "
                "choose another name, or delete that folder to start over")
    (folder / "trials").mkdir(parents=True, exist_ok=True)
    (folder / "results").mkdir(parents=True, exist_ok=True)
    _write_json_atomic(definition, exp.to_dict())
    return folder


@dataclass
class Experiment:
    """An experiment folder read back: definition, finished trial records and summaries."""

    dir: Path
    spec: ExperimentSpec
    records: list[dict]

    @property
    def trials(self) -> list[Trial]:
        return expand(self.spec)

    @property
    def total(self) -> int:
        return len(self.spec.variations) * self.spec.repeats

    @property
    def done(self) -> int:
        return len(done_keys(self.records, self.spec))

    def missing(self) -> list[Trial]:
        finished = done_keys(self.records, self.spec)
        return [t for t in self.trials if t.key not in finished]

    def frame(self) -> pd.DataFrame:
        return trials_frame(self.records, self.spec)

    def summary(self) -> pd.DataFrame:
        return summarize(self.frame(), self.spec)

    def note(self) -> str:
        note = ranking_note(self.summary())
        penalties = {(m.l1, m.l2, m.regularize) for m in
                     (apply_overrides(self.spec.base, v.overrides).model for v in self.spec.variations)}
        if len(penalties) > 1:
            note += (" Validation losses include each setting's regularization penalty, so they are not "
                     "comparable across L1/L2 settings; compare test RMSE.")
        return note

    def run_dir(self, record: Mapping) -> Path | None:
        rel = record.get("run_dir")
        return (self.dir / rel) if rel else None


def done_keys(records: Iterable[dict], exp: ExperimentSpec) -> set[str]:
    wanted = {t.key for t in expand(exp)}
    return {r["key"] for r in records if r.get("status") == "ok" and r.get("key") in wanted}


def load_experiment(name_or_dir: str | Path, root: Path | str | None = None) -> Experiment:
    path = Path(name_or_dir)
    folder = path if (path / "experiment.json").exists() else experiment_dir(str(name_or_dir), root)
    definition = folder / "experiment.json"
    if not definition.exists():
        raise FileNotFoundError(f"no experiment '{name_or_dir}' (looked in {folder})")
    spec = ExperimentSpec.from_dict(json.loads(definition.read_text()))
    return Experiment(folder, spec, read_records(folder))


def list_experiments(root: Path | str | None = None) -> list[dict]:
    """One row per experiment folder, newest first."""
    rows = []
    base = experiments_root(root)
    folders = [f for f in base.iterdir() if (f / "experiment.json").exists()]
    for folder in sorted(folders, key=lambda f: (f / "experiment.json").stat().st_mtime, reverse=True):
        try:
            exp = load_experiment(folder)
        except (OSError, ValueError, KeyError):
            continue
        summary = exp.summary()
        best = summary.iloc[0] if len(summary) and summary["n"].iloc[0] > 0 else None
        rows.append({
            "name": exp.spec.name, "dir": str(folder), "title": exp.spec.title, "data": exp.spec.base.data,
            "variations": len(exp.spec.variations), "repeats": exp.spec.repeats,
            "epochs": exp.spec.base.train.epochs, "done": exp.done, "total": exp.total,
            "best": None if best is None else best["label"],
            "best_test_rmse": None if best is None else best["test_rmse_mean"],
        })
    return rows


def delete_experiment(name: str, root: Path | str | None = None) -> None:
    folder = experiment_dir(name, root)
    if not (folder / "experiment.json").exists():
        raise FileNotFoundError(f"no experiment '{name}' in {folder.parent}")
    shutil.rmtree(folder)


def result_json(exp: Experiment, include_trials: bool = True) -> dict:
    """Everything the CLI prints with ``--json``."""
    summary = exp.summary()
    out = {"name": exp.spec.name, "dir": str(exp.dir), "title": exp.spec.title, "data": exp.spec.base.data,
           "done": exp.done, "total": exp.total, "repeats": exp.spec.repeats,
           "epochs": exp.spec.base.train.epochs, "last_rows": exp.spec.last_rows,
           "summary": summary.to_dict(orient="records"), "note": exp.note()}
    if include_trials:
        out["trials"] = exp.frame().to_dict(orient="records")
    return out


class FolderLock:
    """One runner per experiment folder at a time (a second one would repeat trials)."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / ".lock"
        self.handle = None

    def __enter__(self) -> FolderLock:
        if fcntl is None:
            return self
        self.handle = open(self.path, "a+")
        try:
            fcntl.flock(self.handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.handle.close()
            self.handle = None
            raise ExperimentError(f"experiment '{self.path.parent.name}' is already running in another process") from None
        return self

    def __exit__(self, *exc) -> None:
        if self.handle is not None:
            fcntl.flock(self.handle.fileno(), fcntl.LOCK_UN)
            self.handle.close()
