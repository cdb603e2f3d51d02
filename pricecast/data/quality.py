"""What real feeds get wrong, found in a candle frame: gaps, duplicates, no-trade candles, frozen
prices, impossible candles and jumps — and the longest stretch free of them.

A *stale* stretch is a run of candles whose close does not change (a frozen feed, or a market
nobody trades): a model trained or judged there learns or is scored on nothing. A *jump* is a
close-to-close move many times larger than the series' own large moves (its 99th percentile): often
a real crash or rally (AAPL's -52% day in 2000 in the bundled sample), sometimes an unadjusted split
or a bad tick, so it is reported for a person to check, not called an error. A move of
``SPIKE_FACTOR`` (100x) or more is a jump whatever the series, and is warned about when data is
loaded (:func:`spike_warning`): no market does that from one candle to the next. Zero-volume
candles are counted but do not break a clean stretch on their own: files without volume have
volume 0 everywhere.

A *level shift* is a lasting change of a column's typical level by orders of magnitude
(``LEVEL_FACTOR``): the median of the ``level_window`` candles after a point against the median of
those before. Volume does that when a feed changes its unit (quote currency to base currency: a
monthly median of ~2,000,000 becoming ~290), and a scaler fitted on the years before then means
nothing after; training on such a column warns (:func:`level_shift_warnings`).

``cut_to_clean`` keeps the longest stretch without gaps, duplicates, stale candles, impossible
candles or jumps. A data reference ending in ``#clean`` (``sample:BTC-USD-5M#clean``,
``my.csv#clean``) asks :func:`pricecast.data.datasets.load_data` for exactly that, so a run names it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pricecast.data.candles import CandleError, Gap, candle_step, find_gaps

STALE_MIN_CANDLES = 24  # unchanged closes in a row: 2 hours of 5-minute candles, a day of hourly, a month of daily
JUMP_FACTOR = 8.0  # a move this many times the series' 99th-percentile move is a jump
SPIKE_FACTOR = 100.0  # a price this many times higher or lower than the one before: a data error
MOSTLY_STALE = 0.5  # a part (train/val/test) with more than this share of stale candles gets a warning
LEVEL_FACTOR = 30.0  # medians before/after a point this many times apart: a unit change, not a market
LEVEL_COLUMNS: tuple[str, ...] = ("volume",)  # price units changing show as jumps already
LIST_LIMIT = 50  # places listed per kind (counts are always complete)
CLEAN_SUFFIX = "#clean"


@dataclass(frozen=True)
class Stretch:
    """Candles ``start`` .. ``end`` (both included), ``candles`` of them."""

    start: pd.Timestamp
    end: pd.Timestamp
    candles: int

    def to_dict(self) -> dict:
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "candles": self.candles}


@dataclass
class QualityReport:
    """Counts and places of each defect kind; ``clean`` is the longest stretch without them."""

    rows: int
    gaps: list[Gap] = field(default_factory=list)
    duplicates: list[dict] = field(default_factory=list)  # {"time", "same_as"}: a repeated time or candle
    zero_volume: int = 0
    zero_volume_times: list[pd.Timestamp] = field(default_factory=list)
    stale: list[Stretch] = field(default_factory=list)
    bad_ohlc: list[pd.Timestamp] = field(default_factory=list)
    jumps: list[dict] = field(default_factory=list)  # {"time", "change"}: change is the close's relative move
    clean: Stretch | None = None
    stale_min_candles: int = STALE_MIN_CANDLES
    daily: bool = False  # candles a day or more apart: times are said as dates
    jump_threshold: float | None = None  # the relative move above which a change is a jump
    level_shifts: list[dict] = field(default_factory=list)  # {"column", "time", "before", "after", "factor"}

    @property
    def stale_candles(self) -> int:
        return int(sum(s.candles for s in self.stale))

    @property
    def is_clean(self) -> bool:
        return not (self.gaps or self.duplicates or self.stale or self.bad_ohlc or self.jumps)

    def counts(self) -> dict[str, int]:
        return {"gaps": len(self.gaps), "missing_candles": int(sum(g.missing for g in self.gaps)),
                "duplicates": len(self.duplicates), "zero_volume": self.zero_volume, "stale": len(self.stale),
                "stale_candles": self.stale_candles, "bad_ohlc": len(self.bad_ohlc), "jumps": len(self.jumps),
                "level_shifts": len(self.level_shifts)}

    def to_dict(self) -> dict:
        """JSON-ready; lists hold at most ``LIST_LIMIT`` places each, counts are complete."""
        return {
            "rows": self.rows,
            "clean": self.is_clean,
            "counts": self.counts(),
            "gaps": [g.to_dict() for g in self.gaps[:LIST_LIMIT]],
            "duplicates": self.duplicates[:LIST_LIMIT],
            "zero_volume": self.zero_volume,
            "stale": [s.to_dict() for s in self.stale[:LIST_LIMIT]],
            "bad_ohlc": [t.isoformat() for t in self.bad_ohlc[:LIST_LIMIT]],
            "jumps": self.jumps[:LIST_LIMIT],
            "level_shifts": self.level_shifts,
            "longest_clean": self.clean.to_dict() if self.clean else None,
            "settings": {"stale_min_candles": self.stale_min_candles, "jump_threshold": self.jump_threshold},
        }

    def lines(self) -> list[str]:
        """One plain sentence per defect kind found (empty when clean)."""
        out = []
        c = self.counts()
        if c["gaps"]:
            out.append(f"{c['gaps']} gap(s), {c['missing_candles']:,} candles missing")
        if c["duplicates"]:
            out.append(f"{c['duplicates']} duplicated candle(s) (repeated time or repeated OHLCV), "
                       f"first at {when(self.duplicates[0]['time'], self.daily)}")
        if self.stale:
            longest = max(self.stale, key=lambda s: s.candles)
            out.append(f"{c['stale']} stale stretch(es), {c['stale_candles']:,} candles with the price frozen "
                       f"(longest {longest.candles:,}: {when(longest.start, self.daily)} .. {when(longest.end, self.daily)})")
        if c["bad_ohlc"]:
            out.append(f"{c['bad_ohlc']} impossible candle(s) (open/close outside low..high, or high < low), "
                       f"first at {when(self.bad_ohlc[0], self.daily)}")
        if c["jumps"]:
            out.append(f"{c['jumps']} large move(s) far beyond the series' usual ones, first at "
                       f"{when(self.jumps[0]['time'], self.daily)} ({self.jumps[0]['change']:+.1%}): check they are real")
        out += [level_shift_line(shift, self.daily) for shift in self.level_shifts]
        if self.zero_volume and self.rows:
            out.append(f"{self.zero_volume:,} candle(s) with zero volume ({self.zero_volume / self.rows:.0%})")
        return out


def level_shift_line(shift: dict, daily: bool) -> str:
    """One plain sentence for a level shift."""
    way = "higher" if shift["after"] > shift["before"] else "lower"
    return (f"{shift['column']} changes level at {when(shift['time'], daily)}: median {shift['before']:,.6g} before, "
            f"{shift['after']:,.6g} after ({shift['factor']:,.0f}x {way}), probably a unit change in the feed; "
            f"a model trained on {shift['column']} before that date learns the wrong scale: cut the data there")


def find_level_shifts(frame: pd.DataFrame, columns: tuple[str, ...] = LEVEL_COLUMNS,
                      factor: float = LEVEL_FACTOR, window: int | None = None) -> list[dict]:
    """For each column, the largest lasting change of level by ``factor`` or more: the point where the
    median of the ``window`` candles from it on is furthest (in ratio) from the median of the ``window``
    before it. Zeros are left out of the medians (a quiet candle is not a level). At most one per column."""
    out: list[dict] = []
    w = window or int(min(max(len(frame) // 10, 20), 720))
    if len(frame) < 2 * w:
        return out
    for name in columns:
        if name not in frame.columns:
            continue
        values = pd.Series(frame[name].to_numpy(dtype=np.float64)).where(lambda v: v > 0)
        before = values.rolling(w, min_periods=w // 2).median().shift(1)
        after = values[::-1].rolling(w, min_periods=w // 2).median()[::-1]
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.abs(np.log((after / before).to_numpy()))
        ratio[~np.isfinite(ratio)] = 0.0
        i = int(np.argmax(ratio))
        if ratio[i] >= np.log(factor):
            out.append({"column": name, "time": frame.index[i].isoformat(), "before": float(before.iloc[i]),
                        "after": float(after.iloc[i]), "factor": float(np.exp(ratio[i]))})
    return out


def level_shift_warnings(report: QualityReport, columns: tuple[str, ...]) -> list[str]:
    """A warning for each level shift in a column a run uses (its inputs and target)."""
    return [level_shift_line(s, report.daily) for s in report.level_shifts if s["column"] in columns]


def when(time: pd.Timestamp | str, daily: bool) -> str:
    """A candle's time as people read it: the date alone for daily (or longer) candles, else date, hour and
    minute; UTC, as the candles are."""
    stamp = pd.Timestamp(time)
    return f"{stamp:%Y-%m-%d}" if daily else f"{stamp:%Y-%m-%d %H:%M}"


def is_daily(frame: pd.DataFrame) -> bool:
    """Candles a day or more apart (their times are dates)."""
    return len(frame) > 1 and candle_step(frame.index) >= pd.Timedelta(days=1)


def _runs(equal_to_previous: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) row of every run of equal values, from a mask 'row i equals row i-1'."""
    padded = np.concatenate(([False], equal_to_previous[1:], [False])).astype(np.int8)
    edges = np.diff(padded)
    starts = np.flatnonzero(edges == 1)  # row starts+1 is the first repeat: the run begins one earlier
    ends = np.flatnonzero(edges == -1)
    return [(int(s), int(e)) for s, e in zip(starts, ends)]


def find_stale(frame: pd.DataFrame, min_candles: int = STALE_MIN_CANDLES) -> list[Stretch]:
    """Runs of at least ``min_candles`` candles with the same close."""
    close = frame["close"].to_numpy()
    if len(close) < 2:
        return []
    same = np.concatenate(([False], close[1:] == close[:-1]))
    out = []
    for first, last in _runs(same):
        count = last - first + 1
        if count >= min_candles:
            out.append(Stretch(frame.index[first], frame.index[last], count))
    return out


def bad_ohlc_mask(frame: pd.DataFrame) -> np.ndarray:
    """Candles that cannot be: open or close outside [low, high], or high below low."""
    o, h, lo, c = (frame[k].to_numpy() for k in ("open", "high", "low", "close"))
    return (h < lo) | (o > h) | (o < lo) | (c > h) | (c < lo)


def _moves(frame: pd.DataFrame) -> np.ndarray:
    """Size of each close-to-close move in log terms (row i: from row i-1; row 0: 0)."""
    close = frame["close"].to_numpy(dtype=np.float64)
    out = np.zeros(len(close))
    if len(close) > 1:
        out[1:] = np.abs(np.diff(np.log(close)))
    return out


def jump_mask(frame: pd.DataFrame, factor: float = JUMP_FACTOR) -> tuple[np.ndarray, float | None]:
    """Row i is True when the close moved from row i-1 by more than ``factor`` times the series'
    99th-percentile move (in log terms), or by ``SPIKE_FACTOR`` or more whatever the series (so that
    many bad ticks cannot raise the bar above themselves); also returns the threshold as a relative
    change (None for series too short or too flat to have one of their own)."""
    moves = _moves(frame)
    spike = np.log(SPIKE_FACTOR)
    typical = float(np.quantile(moves[1:], 0.99)) if len(moves) >= 20 else 0.0
    limit = min(factor * typical, spike) if typical > 0 else spike
    mask = moves >= spike if limit == spike else moves > limit
    return mask, float(np.expm1(limit)) if typical > 0 else None


def spike_warning(frame: pd.DataFrame, name: str = "data") -> str | None:
    """A warning when a close is ``SPIKE_FACTOR`` times above or below the one before (a misplaced
    decimal point, a feed glitch: the jumps no market makes), or None. Warns rather than refuses: the
    series may still be usable once the rows are fixed, or cut to its clean stretch."""
    moves = _moves(frame)
    spikes = np.flatnonzero(moves >= np.log(SPIKE_FACTOR))
    if not len(spikes):
        return None
    i, close = int(spikes[0]), frame["close"]
    return (f"{name}: {len(spikes)} price move(s) of {SPIKE_FACTOR:g}x or more from one candle to the next "
            f"(first at {frame.index[i]}: close {close.iloc[i - 1]:.6g} then {close.iloc[i]:.6g}); no market "
            "moves like that: probably a data error. Check the source, remove those rows, or use the "
            "longest clean stretch before training")


def duplicate_rows(frame: pd.DataFrame) -> list[dict]:
    """Repeated times (counted by the CSV reader before it kept one, in ``attrs['duplicates']``, or
    still in the index) and replayed traded candles: a block of at least :data:`REPLAY_MIN_CANDLES`
    identical open/high/low/close/volume at shifted times, which real feeds produce when they send a
    block twice. Single identical candles are left alone: on minute data they happen by chance."""
    out = [{"time": t, "same_as": t} for t in frame.attrs.get("duplicates", [])]
    if frame.index.has_duplicates:
        out += [{"time": t.isoformat(), "same_as": t.isoformat()} for t in frame.index[frame.index.duplicated()]]
    traded = frame[frame["volume"].to_numpy() > 0]
    cols = ["open", "high", "low", "close", "volume"]
    repeated = traded.duplicated(subset=cols, keep="first").to_numpy()
    if repeated.any():
        first_row = traded.reset_index(drop=True).groupby(cols, sort=False).ngroup().to_numpy()
        first_row = pd.Series(np.arange(len(traded))).groupby(first_row).transform("first").to_numpy()
        for i in _replayed(repeated, np.arange(len(traded)) - first_row):
            out.append({"time": traded.index[i].isoformat(), "same_as": traded.index[first_row[i]].isoformat()})
    return out


# A replay is this many traded candles in a row, each equal to the candle the same distance back.
# Lone identical candles are coincidences on minute data (24,545 of 2.65 M synthetic candles);
# on a million tick-sized random-walk minutes with four volume values, runs of 3 still happen by
# chance (2,926 candles) and runs of 4 too (88), of 5 never. The replay in the Coinbase hourly
# raw file (PROVENANCE.md) is a block of five.
REPLAY_MIN_CANDLES = 5


def _replayed(repeated: np.ndarray, shift: np.ndarray) -> list[int]:
    """Rows of ``repeated`` that lie in runs of at least :data:`REPLAY_MIN_CANDLES` consecutive rows
    repeating the rows ``shift`` before them (the same shift through the run)."""
    rows = np.flatnonzero(repeated)
    # a run breaks where the next repeated row is not the next row, or repeats from another shift
    breaks = np.flatnonzero((np.diff(rows) != 1) | (np.diff(shift[rows]) != 0)) + 1
    return [int(i) for run in np.split(rows, breaks) if len(run) >= REPLAY_MIN_CANDLES for i in run]


def _segments(frame: pd.DataFrame, report: QualityReport, jumps: np.ndarray) -> list[tuple[int, int]]:
    """Maximal row ranges [first, last] free of every defect that breaks a clean stretch."""
    drop = bad_ohlc_mask(frame)
    index = frame.index
    for s in report.stale:
        drop[index.get_loc(s.start): index.get_loc(s.end) + 1] = True
    for d in report.duplicates:
        t = pd.Timestamp(d["time"])
        if d["time"] != d["same_as"] and t in index:
            drop[index.get_loc(t)] = True
    # a break between row i-1 and row i: a gap, a jump, or the original row of a duplicated time
    cut = jumps.copy()
    for g in report.gaps:
        cut[index.get_loc(g.end)] = True
    for d in report.duplicates:
        if d["time"] == d["same_as"]:
            t = pd.Timestamp(d["time"])
            if t in index:
                cut[index.get_loc(t)] = True
    keep = ~drop
    before = np.concatenate(([True], drop[:-1]))  # row i-1 dropped (or i is the first row)
    after = np.concatenate((drop[1:] | cut[1:], [True]))  # row i+1 dropped or cut off (or i is the last)
    starts = np.flatnonzero(keep & (before | cut))
    ends = np.flatnonzero(keep & after)
    return [(int(a), int(b)) for a, b in zip(starts, ends)]


def quality_report(frame: pd.DataFrame, stale_min_candles: int = STALE_MIN_CANDLES,
                   jump_factor: float = JUMP_FACTOR) -> QualityReport:
    """Every defect kind in the candle frame ``frame``, with where it is, and its longest clean stretch."""
    report = QualityReport(rows=int(len(frame)), stale_min_candles=stale_min_candles)
    if len(frame) == 0:
        return report
    report.daily = is_daily(frame)
    index = frame.index
    ordered = index.is_monotonic_increasing and not index.has_duplicates
    report.gaps = find_gaps(frame) if ordered else []
    report.duplicates = duplicate_rows(frame)
    zero = frame["volume"].to_numpy() == 0
    report.zero_volume = int(zero.sum())
    report.zero_volume_times = list(index[zero][:LIST_LIMIT * 20])
    report.stale = find_stale(frame, stale_min_candles)
    report.bad_ohlc = list(index[bad_ohlc_mask(frame)])
    jumps, report.jump_threshold = jump_mask(frame, jump_factor)
    report.level_shifts = find_level_shifts(frame)
    closes = frame["close"].to_numpy()
    report.jumps = [{"time": index[i].isoformat(), "change": float(closes[i] / closes[i - 1] - 1.0)}
                    for i in np.flatnonzero(jumps)]
    if ordered:
        segments = _segments(frame, report, jumps)
        if segments:
            first, last = max(segments, key=lambda s: s[1] - s[0])
            report.clean = Stretch(index[first], index[last], last - first + 1)
    return report


def cut_to_clean(frame: pd.DataFrame, report: QualityReport | None = None) -> pd.DataFrame:
    """The longest stretch of ``frame`` free of gaps, duplicates, stale candles, impossible candles and jumps."""
    report = report or quality_report(frame)
    if report.clean is None:
        raise CandleError("no clean stretch: every candle is stale, impossible or duplicated")
    out = frame.loc[report.clean.start: report.clean.end]
    out.attrs = {**frame.attrs, "duplicates": [], "cut_to_clean": report.clean.to_dict()}
    return out


def split_ref(ref: str) -> tuple[str, bool]:
    """``'x#clean'`` -> ``('x', True)``; any other reference -> ``(ref, False)``."""
    ref = ref.strip()
    if ref.lower().endswith(CLEAN_SUFFIX):
        return ref[: -len(CLEAN_SUFFIX)].rstrip(), True
    return ref, False


def clean_ref(ref: str) -> str:
    """``ref`` asking for its longest clean stretch."""
    base, _ = split_ref(ref)
    return base + CLEAN_SUFFIX


def stale_share(frame: pd.DataFrame, stale: list[Stretch], first: int, last: int) -> float:
    """Share of rows ``first`` .. ``last`` (inclusive) of ``frame`` that lie in a stale stretch."""
    if last < first:
        return 0.0
    index = frame.index
    covered = 0
    for s in stale:
        a, b = max(index.get_loc(s.start), first), min(index.get_loc(s.end), last)
        covered += max(0, b - a + 1)
    return covered / (last - first + 1)


def to_plain(report: QualityReport) -> dict:
    """A compact summary for run metrics: counts, the longest clean stretch and the stale stretches."""
    out = report.to_dict()
    return {k: out[k] for k in ("rows", "clean", "counts", "stale", "longest_clean", "settings")}


__all__ = ["Stretch", "QualityReport", "quality_report", "cut_to_clean", "find_stale", "bad_ohlc_mask",
           "jump_mask", "spike_warning", "find_level_shifts", "level_shift_warnings", "duplicate_rows", "split_ref",
           "clean_ref", "stale_share", "to_plain"]
