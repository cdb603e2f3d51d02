"""Candles cached on disk: one Parquet file per (source, symbol, timeframe).

Writes go to a temporary file in the same folder and are moved into place with ``os.replace``
(atomic on POSIX and Windows), so a crash or failure mid-write leaves the previous file whole.
A file that cannot be read is reported and rebuilt, never fatal.
"""
from __future__ import annotations

import errno
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from pricecast.data.candles import CandleError, normalize_candles

from .errors import CacheWriteError, MarketDataError
from .refs import MarketRef


def _safe(part: str) -> str:
    return re.sub(r"[^A-Za-z0-9._=^-]", "_", part.replace("/", "-")) or "_"


def _tf_name(timeframe: str) -> str:
    # '1m' (minute) and '1M' (month) would collide on case-insensitive file systems
    return timeframe[:-1] + "mo" if timeframe.endswith("M") else timeframe


def cache_file(ref: MarketRef, root: Path) -> Path:
    """``<root>/<source>/<symbol>_<timeframe>.parquet`` with unsafe characters replaced, so no
    part of a reference can lead out of ``root``."""
    name = f"{_safe(ref.symbol)}_{_safe(_tf_name(ref.timeframe))}.parquet"
    path = Path(root) / _safe(ref.source) / name
    if path.resolve().parent.parent != Path(root).resolve():
        raise CandleError(f"'{ref}' does not name a file inside the cache folder {root}")
    return path


@dataclass
class CacheRead:
    frame: pd.DataFrame | None
    age: timedelta | None
    problem: str | None  # set when a file existed but could not be used


def read_cache(path: Path) -> CacheRead:
    """The cached candles (or None), their age (from the file's time), and any problem found."""
    path = Path(path)
    if path.is_dir():
        raise MarketDataError(f"{path} is a folder, but pricecast keeps a candle cache file there: "
                              "move or delete that folder, or set PRICECAST_CACHE_DIR to another place")
    if not path.exists():
        return CacheRead(None, None, None)
    age = datetime.now(UTC) - datetime.fromtimestamp(path.stat().st_mtime, UTC)
    try:
        frame = pd.read_parquet(path)
        frame = normalize_candles(frame, f"cache {path.name}")
    except (CandleError, OSError, ValueError, Exception) as exc:  # noqa: BLE001 - any failure means rebuild
        why = f"{type(exc).__name__}: {str(exc)[:120]}"
        backup = path.with_name(path.name + ".unreadable")
        try:  # keep the bytes: the file may be repairable, and rebuilding overwrites it
            os.replace(path, backup)
            kept = f"it was set aside as {backup.name}"
        except OSError:
            kept = "it could not be set aside"
        return CacheRead(None, None, f"the cache file {path} is damaged ({why}); {kept}")
    return CacheRead(frame, age, None)


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """The actual Parquet write; a separate function so tests can make it fail midway."""
    frame.to_parquet(path, engine="pyarrow", index=True)


def write_cache(path: Path, frame: pd.DataFrame) -> None:
    """Atomically replace ``path`` with ``frame`` (temporary file in the same folder, then rename)."""
    path = Path(path)
    tmp: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        _write_parquet(frame, tmp)
        with open(tmp, "rb") as fh:  # make the bytes durable before the rename publishes them
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        _remove(tmp)
        reason = exc.strerror or str(exc) or type(exc).__name__
        hint = ("free some disk space or set PRICECAST_CACHE_DIR to a folder with room" if exc.errno == errno.ENOSPC
                else "check that folder, or set PRICECAST_CACHE_DIR to another one")
        raise CacheWriteError(f"could not write the candle cache {path} ({reason}); the previous copy is "
                              f"unchanged: {hint}") from exc
    except BaseException:
        _remove(tmp)
        raise


def _remove(tmp: Path | None) -> None:
    if tmp is not None:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass


def touch(path: Path) -> None:
    """Mark the cache as checked now (its age is the time since the source was last asked)."""
    try:
        os.utime(path, None)
    except OSError:
        pass
