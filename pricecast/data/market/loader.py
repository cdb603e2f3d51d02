"""``load_market``: candles for a market reference, from the cache and the network as needed."""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from pricecast import paths
from pricecast.data.candles import CANDLE_COLUMNS, Gap, find_gaps, normalize_candles, summarize, to_utc
from pricecast.durations import ago

from . import ccxt_source, yahoo
from .cache import CacheRead, cache_file, read_cache, touch, write_cache
from .errors import FetchInterrupted, MarketDataError, SourceUnavailableError
from .http import RetryPolicy
from .refs import MarketRef, parse_market_ref, timeframe_ms

# Without --since and without a cache, fetch this many candles back from now.
DEFAULT_HISTORY_CANDLES = 1000

TimeLike = datetime | pd.Timestamp | str | None


@dataclass
class MarketData:
    """What :func:`load_market` found. ``from_cache`` is true when no new candles came from the network."""

    candles: pd.DataFrame
    ref: MarketRef
    cache_file: Path
    fetched_rows: int
    from_cache: bool
    cache_age: timedelta | None
    warnings: list[str] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)

    def summary(self) -> dict:
        """JSON-ready: rows, first, last, gaps, cache file, source, warnings."""
        info = summarize(self.candles)
        return {
            "ref": str(self.ref),
            "source": self.ref.source,
            "symbol": self.ref.symbol,
            "timeframe": self.ref.timeframe,
            **info,
            "cache_file": str(self.cache_file),
            "fetched_rows": self.fetched_rows,
            "from_cache": self.from_cache,
            "cache_age_seconds": None if self.cache_age is None else round(self.cache_age.total_seconds(), 1),
            "warnings": list(self.warnings),
        }


def rows_to_frame(rows: list[list[float]], name: str, warnings: list[str]) -> pd.DataFrame | None:
    """``[t_ms, o, h, l, c, v]`` rows as a canonical candle frame (None when empty)."""
    if not rows:
        return None
    arr = np.asarray(rows, dtype="float64")
    frame = pd.DataFrame(arr[:, 1:6], columns=list(CANDLE_COLUMNS))
    frame.index = pd.to_datetime(arr[:, 0].astype("int64"), unit="ms", utc=True).rename("time")
    frame["volume"] = frame["volume"].fillna(0.0)
    bad = frame[["open", "high", "low", "close"]].isna().any(axis=1) | (frame[["open", "high", "low", "close"]] <= 0).any(axis=1)
    if bad.any():
        warnings.append(f"{name}: {int(bad.sum())} candle(s) without valid prices were left out")
        frame = frame[~bad]
    if frame.empty:
        return None
    return normalize_candles(frame, name)


def _fetch(ref: MarketRef, start: pd.Timestamp, end: pd.Timestamp, progress, policy, warnings) -> list[list[float]]:
    s, e = int(start.value // 1_000_000), int(end.value // 1_000_000)
    if ref.is_yahoo:
        return yahoo.fetch_candles(ref.symbol, ref.timeframe, s, e, progress=progress, policy=policy, warnings=warnings)
    _, rows = ccxt_source.fetch_candles(ref.source, ref.symbol, ref.timeframe, s, e, progress=progress, policy=policy,
                                        warnings=warnings)
    return rows


def _merge_into_cache(frame: pd.DataFrame | None, new_rows: list[list[float]], ref: MarketRef, path: Path,
                      warnings: list[str]) -> tuple[pd.DataFrame | None, int]:
    """Cached candles plus the new rows, written back when anything was added: (frame, rows added)."""
    fresh = rows_to_frame(new_rows, str(ref), warnings)
    if fresh is None:
        return frame, 0
    before = 0 if frame is None else len(frame)
    merged = fresh if frame is None else normalize_candles(pd.concat([frame, fresh]), str(ref))
    added = len(merged) - before
    if added:
        write_cache(path, merged)
    return merged, added


def _validate_ref(ref: MarketRef) -> None:
    """Reject unknown exchanges and timeframes before touching the network or the cache."""
    if ref.is_local:
        return
    if ref.is_yahoo:
        yahoo.yahoo_interval(ref.timeframe)
    else:
        supported = ccxt_source.list_timeframes(ref.source)
        if ref.timeframe not in supported:
            raise MarketDataError(f"{ref.source} does not serve '{ref.timeframe}' candles; supported: {', '.join(supported)}")


def load_market(
    ref: str | MarketRef,
    since: TimeLike = None,
    until: TimeLike = None,
    *,
    offline: bool = False,
    cache_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> MarketData:
    """Candles for ``ref`` (``binance:BTC/USDT:1h``, ``yahoo:TSLA:1d``) between ``since`` and ``until``.

    Uses the cache under ``cache_dir`` (default :func:`pricecast.paths.cache_dir`) and asks the
    source only for candles the cache lacks (older than its first or newer than its last). New
    candles are merged into the cache atomically. When the source cannot be reached, cached
    candles are returned with a warning naming their age; with nothing cached,
    :class:`MarketDataError` says so. ``until`` is inclusive (candles opening at or before it);
    without ``since`` the whole cache is returned, or the last 1000 candles when nothing is cached.
    """
    ref = parse_market_ref(ref) if isinstance(ref, str) else ref
    _validate_ref(ref)
    since_ts, until_ts = to_utc(since, "since"), to_utc(until, "until")
    if since_ts is not None and until_ts is not None and since_ts > until_ts:
        raise MarketDataError(f"since ({since_ts.isoformat()}) is after until ({until_ts.isoformat()})")
    ask = _Ask(ref, cache_file(ref, Path(cache_dir) if cache_dir is not None else paths.cache_dir()), since_ts, until_ts)
    cached = read_cache(ask.path)
    if cached.problem:
        note = cached.problem if (offline or ref.is_local) else f"{cached.problem}; rebuilding it from {ref.source}"
        ask.warnings.append(note)
        if progress:
            progress(note)
    step = pd.Timedelta(milliseconds=timeframe_ms(ref.timeframe))
    if ref.is_local or offline:
        return _from_cache_only(ask, cached, step)
    now = pd.Timestamp(time.time(), unit="s", tz="UTC")
    end = min(until_ts, now) if until_ts is not None else now
    ranges = _missing_ranges(cached.frame, since_ts, end, step, now)
    new_rows, failure = _fetch_ranges(ask, cached.frame, ranges, progress)
    frame, fetched = _merge_into_cache(cached.frame, new_rows, ref, ask.path, ask.warnings)
    if failure is not None:
        if frame is None:
            raise SourceUnavailableError(f"{failure.reason} and {_nothing(ask, cached)}",
                                         reason=failure.reason) from failure
        age = cached.age if not fetched else timedelta(0)
        ask.warnings.append(f"{failure.reason}: using {len(frame)} cached candles, last updated {ago(age)}")
        return ask.result(frame, fetched, age)
    if frame is None:
        raise MarketDataError(f"{ref.source} has no candles for {ref.symbol} {ref.timeframe} "
                              f"between {ranges[0][0] if ranges else since_ts} and {end}")
    if ranges and fetched == 0 and ask.path.exists():
        touch(ask.path)  # we asked and there was nothing new: the cache is current as of now
    age = None if not ask.path.exists() else (timedelta(0) if ranges else cached.age)
    return ask.result(frame, fetched, age)


@dataclass
class _Ask:
    """One call of :func:`load_market`: what was asked for, where it is cached, what to tell."""

    ref: MarketRef
    path: Path
    since: pd.Timestamp | None
    until: pd.Timestamp | None
    warnings: list[str] = field(default_factory=list)

    def result(self, candles: pd.DataFrame | None, fetched: int, age: timedelta | None) -> MarketData:
        if candles is not None:
            if self.since is not None:
                candles = candles[candles.index >= self.since]
            if self.until is not None:
                candles = candles[candles.index <= self.until]
        if candles is None or candles.empty:
            span = f" between {self.since or 'the start'} and {self.until or 'now'}"
            raise MarketDataError(f"no candles for {self.ref}{span}")
        return MarketData(candles, self.ref, self.path, fetched, fetched == 0, age, self.warnings, find_gaps(candles))


def _nothing(ask: _Ask, cached: CacheRead) -> str:
    # a damaged file was set aside: say so rather than "nothing cached", which reads as never fetched
    if cached.problem:
        return f"nothing usable cached for {ask.ref}: {cached.problem}"
    return f"nothing cached for {ask.ref}"


def _from_cache_only(ask: _Ask, cached: CacheRead, step: pd.Timedelta) -> MarketData:
    """A stored CSV (``data import --store``: the cache is the only copy) or an offline load."""
    ref, frame = ask.ref, cached.frame
    if ref.is_local:
        if frame is None:
            damaged = f" ({cached.problem})" if cached.problem else ""
            raise MarketDataError(f"nothing stored as {ref}{damaged}: store a CSV under that name with "
                                  f"`pricecast data import FILE --store {ref.symbol} --timeframe {ref.timeframe}`")
        return ask.result(frame, 0, cached.age)
    if frame is None:
        raise MarketDataError(f"offline and {_nothing(ask, cached)}")
    if cached.age is None or cached.age > step.to_pytimedelta():
        # a cache checked less than one candle ago (just downloaded) is as new as it can be
        ask.warnings.append(f"offline: using {len(frame)} cached candles, last updated {ago(cached.age)}")
    return ask.result(frame, 0, cached.age)


def _missing_ranges(frame: pd.DataFrame | None, since: pd.Timestamp | None, end: pd.Timestamp, step: pd.Timedelta,
                    now: pd.Timestamp) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """The spans the cache lacks up to ``end``: before its first candle (back to ``since``) and after its last."""
    ranges: list[tuple[pd.Timestamp, pd.Timestamp]] = []
    if frame is None:
        start = since if since is not None else now - step * DEFAULT_HISTORY_CANDLES
        ranges.append((start, end))
    else:
        first, last = frame.index[0], frame.index[-1]
        start = since if since is not None else first
        if start < first:
            ranges.append((start, min(first - step, end)))
        ranges.append((max(last + step, start), end))
    # a range whose first candle would still be forming needs no request
    return [(a, b) for a, b in ranges if a <= b and a + step <= now]


def _fetch_ranges(ask: _Ask, frame: pd.DataFrame | None, ranges: list[tuple[pd.Timestamp, pd.Timestamp]],
                  progress: Callable[[str], None] | None) -> tuple[list[list[float]], SourceUnavailableError | None]:
    """The rows of every range, and the source's failure that ended the fetching early (with the rows
    fetched before it). Ctrl-C keeps the pages already fetched in the cache, then stops as asked."""
    policy = RetryPolicy.from_env()
    new_rows: list[list[float]] = []
    for a, b in ranges:
        try:
            new_rows += _fetch(ask.ref, a, b, progress, policy, ask.warnings)
        except SourceUnavailableError as exc:
            return new_rows + exc.partial, exc
        except FetchInterrupted as stop:
            _merge_into_cache(frame, new_rows + stop.partial, ask.ref, ask.path, ask.warnings)
            raise
    return new_rows, None
