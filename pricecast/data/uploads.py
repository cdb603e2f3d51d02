"""Uploaded CSV files, kept by content so that runs can name (and reload) them like any CSV path.

Each upload is written once to ``<home>/uploads/<sha256 prefix>/<file name>``: two browser
sessions uploading different ``data.csv`` files get two folders, the same file uploaded twice is
stored once, and a run that points at an upload always finds the bytes it was trained on. The
file keeps its name (made safe for paths); the name exactly as uploaded, which is what people are shown,
is kept beside it when the two differ. Uploads no saved run trains on are deleted after
``UPLOAD_MAX_AGE_DAYS`` (:func:`tidy_uploads`, when an upload is stored).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

from pricecast.paths import experiments_dir, home, runs_dir

_HASH_CHARS = 24  # 96 bits of SHA-256: collisions between uploads are not a practical concern
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
# Uploaded files no saved run names are deleted after this long (runs keep theirs for good).
UPLOAD_MAX_AGE_DAYS = 30


def uploads_dir() -> Path:
    return home() / "uploads"


def safe_file_name(name: str, data: bytes = b"") -> str:
    """``name`` without folders or characters that are unsafe in paths, links or markdown, ending
    in a suffix the CSV reader accepts."""
    stem = _UNSAFE.sub("_", Path(str(name).replace("\\", "/")).name).strip("._") or "upload"
    if not stem.lower().endswith((".csv", ".csv.gz", ".txt")):
        stem += ".csv.gz" if data[:2] == b"\x1f\x8b" else ".csv"
    return stem[-120:]


def store_upload(data: bytes, name: str) -> Path:
    """Keep ``data`` (an uploaded file called ``name``) and return its path; never overwrites."""
    tidy_uploads()  # first: an upload kept now is never the one housekeeping deletes
    digest = hashlib.sha256(data).hexdigest()[:_HASH_CHARS]
    folder = uploads_dir() / digest
    path = folder / safe_file_name(name, data)
    if path.exists():
        os.utime(path)  # uploaded again: its age starts anew
        return path
    folder.mkdir(parents=True, exist_ok=True)
    if path.name != name:  # the name as uploaded, for display (the stored one lost unsafe characters)
        _write_atomic(_name_file(path), str(name)[:200].encode("utf-8", "replace"))
    _write_atomic(path, data)
    return path


def original_name(path: str | Path) -> str:
    """The file name an upload had on the user's computer."""
    path = Path(path)
    try:
        return _name_file(path).read_text(encoding="utf-8").strip() or path.name
    except OSError:
        return path.name


def _name_file(path: Path) -> Path:
    return path.with_name(f".{path.name}.name")


def _write_atomic(path: Path, data: bytes) -> None:
    # temporary file + rename: a reader never sees half a file, and two sessions storing the same
    # bytes at once both end with the complete file
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=".partial-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def is_upload(ref: str) -> bool:
    """Whether ``ref`` is a file stored by :func:`store_upload`."""
    try:
        path = Path(ref).expanduser().resolve()
        return path.parent.parent == uploads_dir().resolve()
    except (OSError, ValueError):
        return False


def remove_old_uploads(in_use: Iterable[str | Path], max_age_days: float = UPLOAD_MAX_AGE_DAYS) -> list[Path]:
    """Delete uploaded files older than ``max_age_days`` that are not ``in_use`` (the data refs of
    saved runs, :func:`uploads_in_use`), so a run can always reload its data."""
    folder = uploads_dir()
    if not folder.is_dir():
        return []
    cutoff = time.time() - max_age_days * 86400
    old = [f for f in folder.rglob("*") if f.is_file() and f.stat().st_mtime < cutoff]
    if not old:
        return []
    used = set()
    for ref in in_use:
        try:
            used.add(str(Path(ref).expanduser().resolve()))
        except (OSError, ValueError):
            continue
    removed = []
    for f in old:
        if str(f.resolve()) not in used:
            f.unlink(missing_ok=True)
            removed.append(f)
    return removed


def uploads_in_use() -> set[str]:
    """The data every saved run trains on: the runs folder's runs and the experiments' trials (ordinary
    run folders, anywhere below the experiments folder), read from their ``spec.json``."""
    spec_files = [*runs_dir().glob("*/spec.json"), *experiments_dir().rglob("spec.json")]
    used = set()
    for spec_file in spec_files:
        try:
            used.add(str(json.loads(spec_file.read_text()).get("data", "")))
        except (OSError, ValueError, AttributeError):
            continue
    return used


_tidied = False


def tidy_uploads() -> list[Path]:
    """Housekeeping, at most once per process (it reads every saved run's setup): the uploads that
    :func:`remove_old_uploads` deletes. Never raises: housekeeping must not fail an upload."""
    global _tidied
    if _tidied:
        return []
    _tidied = True
    try:
        return remove_old_uploads(uploads_in_use())
    except OSError:
        return []
