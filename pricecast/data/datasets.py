"""One way to name data everywhere (CLI, library, dashboard) and to load it.

- ``sample:AAPL``: a bundled series (see :mod:`pricecast.data.samples`)
- a path to a CSV file (``*.csv`` / ``*.csv.gz``)
- ``EXCHANGE:SYMBOL:TIMEFRAME`` such as ``binance:BTC/USDT:1h`` or ``yahoo:TSLA:1d`` (cached locally)
- ``synthetic:pattern?noise=0.5&seed=3``: made up in-process from a recipe, never a market
  (see :mod:`pricecast.data.synthetic`)

A CSV's column mapping rides in its ref, ``my.csv#columns=time=Datum,close=Schluss``
(:mod:`pricecast.data.columns`). Any of them followed by ``#clean`` (``sample:BTC-USD-5M#clean``) is cut to its longest clean stretch
(see :mod:`pricecast.data.quality`), after the date range is applied.
"""
from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from pricecast.data.candles import CandleError, date_remark, to_utc
from pricecast.data.columns import ColumnMappingError, columns_text, parse_columns, split_columns, with_columns
from pricecast.data.csv_import import read_candles_csv
from pricecast.data.quality import CLEAN_SUFFIX, cut_to_clean, spike_warning, split_ref
from pricecast.data.samples import CATALOGUE, load_sample
from pricecast.data.synthetic import is_synthetic, link_problem, load_synthetic, synthetic_ref
from pricecast.data.uploads import is_upload, original_name

if TYPE_CHECKING:
    from pricecast.data.market import MarketRef


@dataclass
class LoadedData:
    """Candles plus what a person should know about where they came from."""

    ref: str
    candles: pd.DataFrame
    warnings: list[str] = field(default_factory=list)
    cache_file: str | None = None


def kind_of(ref: str) -> str:
    """'sample', 'synthetic', 'csv' or 'market' for a data reference."""
    return DataRef.parse(ref).kind


def _kind(body: str) -> str:
    if body.lower().startswith("sample:"):
        return "sample"
    if is_synthetic(body):
        return "synthetic"
    lowered = body.lower()
    if lowered.endswith((".csv", ".csv.gz", ".txt")) or Path(body).exists():
        return "csv"
    if body.count(":") >= 1 and not Path(body).drive:
        return "market"
    raise CandleError(
        f"don't know how to load '{body}': use sample:NAME ({', '.join(CATALOGUE)}), a CSV path, "
        "EXCHANGE:SYMBOL:TIMEFRAME such as binance:BTC/USDT:1h, or synthetic:pattern"
    )


@dataclass(frozen=True)
class DataRef:
    """A data reference taken apart: what it names (``body``) and the marks that ride on it, a CSV's
    column mapping and ``#clean``. ``str(ref)`` is its one spelling; pages and the CLI build and read
    references through this rather than by cutting strings."""

    body: str  # "sample:AAPL", "binance:BTC/USDT:1h", "csv:MINE:1d", "synthetic:pattern?noise=0.5", a CSV path
    columns: tuple[tuple[str, str], ...] = ()  # a CSV's (role, column) mapping, "#columns=time=Datum,..."
    clean: bool = False  # "#clean": cut to the longest clean stretch

    @classmethod
    def parse(cls, ref: str) -> DataRef:
        """Raises :class:`ColumnMappingError` (a ``CandleError``) for a column mapping that cannot be."""
        base, clean = split_ref(ref)
        body, columns = split_columns(base)
        return cls(body.strip(), tuple(columns.items()), clean)

    @classmethod
    def sample(cls, name: str) -> DataRef:
        return cls(f"sample:{name.upper()}")

    @classmethod
    def market(cls, source: str, symbol: str, timeframe: str) -> DataRef:
        """An exchange's (ccxt id), Yahoo's (``yahoo``) or a stored CSV's (``csv``) candles."""
        return cls(f"{source}:{symbol}:{timeframe}")

    @classmethod
    def synthetic(cls, values: dict) -> DataRef:
        return cls(synthetic_ref(values))

    @classmethod
    def file(cls, path: str | Path, columns: dict[str, str] | None = None) -> DataRef:
        return cls(str(path), tuple((columns or {}).items()))

    def __str__(self) -> str:
        return with_columns(self.body, dict(self.columns)) + (CLEAN_SUFFIX if self.clean else "")

    def with_clean(self, clean: bool) -> DataRef:
        return replace(self, clean=clean)

    def with_columns(self, mapping: Mapping[str, str] | str | None) -> DataRef:
        """This reference with a CSV's column ``mapping`` (``--columns``' text or a dict) in place of
        any it had; none given: unchanged. Raises :class:`ColumnMappingError` for a bad mapping."""
        columns = parse_columns(mapping)
        return replace(self, columns=tuple(columns.items())) if columns else self

    @property
    def kind(self) -> str:
        """'sample', 'synthetic', 'csv' (a file) or 'market' (an exchange, Yahoo, or a stored CSV);
        raises :class:`CandleError` for a reference that names nothing pricecast can load."""
        return _kind(self.body)

    @property
    def source(self) -> str:
        """Where the candles come from, as the Data page offers it: 'sample', 'synthetic', 'exchange',
        'yahoo' or 'csv' (a file, or a CSV stored with ``pricecast data import --store NAME``)."""
        kind = self.kind
        if kind != "market":
            return kind
        prefix = self.body.split(":", 1)[0].strip().lower()
        return "csv" if prefix == "csv" else "yahoo" if prefix == "yahoo" else "exchange"

    @property
    def sample_name(self) -> str | None:
        """``AAPL`` for ``sample:aapl``; None for any other kind."""
        return self.body.split(":", 1)[1].strip().upper() if self.body.lower().startswith("sample:") else None

    def market_parts(self) -> MarketRef:
        """The parsed :class:`~pricecast.data.market.MarketRef`; raises ``MarketDataError`` (a
        ``ValueError``) when the body is not ``SOURCE:SYMBOL[:TIMEFRAME]``."""
        from pricecast.data.market import parse_market_ref  # lazy: see _load

        return parse_market_ref(self.body)


_SOURCE = re.compile(r"[a-z][a-z0-9_]{1,31}")
_SYMBOL = re.compile(r"[A-Z0-9^=][A-Z0-9^=/._-]{0,39}")


def link_data_problem(ref: str, files: Collection[str] = ()) -> str | None:
    """Why ``ref``, received from a link or any other untrusted place, may not be opened (None if it
    may). Allowed: bundled series, synthetic recipes, exchange and Yahoo references, and the given ``files`` (e.g.
    this browser session's uploads). A file path only ever comes from the command line. Decided
    from the text alone: nothing on disk is looked at, so a link cannot even probe for a file."""
    try:  # "#clean" only cuts what the rest names, "#columns=..." only reads it
        ref = DataRef.parse(ref).body
    except ColumnMappingError as exc:
        return str(exc)
    if ref in files:
        return None
    if ref.lower().startswith("sample:"):
        name = ref.split(":", 1)[1].upper()
        return None if name in CATALOGUE else f"no bundled series of that name; choose one of {', '.join(CATALOGUE)}"
    if is_synthetic(ref):  # made up in-process: only its knobs can be wrong
        return link_problem(ref)
    parts = ref.split(":")
    if len(parts) in (2, 3):
        from pricecast.data.market import MarketDataError, parse_market_ref  # lazy: see _load

        try:
            parsed = parse_market_ref(ref)
        except MarketDataError:
            parsed = None
        if parsed is not None and _SOURCE.fullmatch(parsed.source) and _SYMBOL.fullmatch(parsed.symbol) \
                and ".." not in parsed.symbol:
            return None
    return ("not a bundled series (sample:AAPL), a synthetic recipe (synthetic:pattern), an exchange reference "
            "(binance:BTC/USDT:1h) or a file uploaded in this browser session")


def display_name(ref: str) -> str:
    """How a person sees ``ref``: an upload by its original file name, any other CSV by its file
    name (never the server's full path), everything else as written."""
    base, clean = split_ref(ref)
    try:
        path, columns = split_columns(base)
        if is_upload(path):
            return original_name(path) + (f" ({columns_text(columns)})" if columns else "") + ("#clean" if clean else "")
        return Path(path).name + ref[len(path):] if kind_of(base) == "csv" else ref
    except CandleError:
        return ref


def load_data(ref: str, since: str | None = None, until: str | None = None, offline: bool = False) -> LoadedData:
    """Load the candles ``ref`` names. Raises :class:`CandleError` with a plain message."""
    ref = ref.strip()
    base, clean = split_ref(ref)
    loaded = _load(base, since, until, offline)
    if clean:
        full = len(loaded.candles)
        loaded.candles = cut_to_clean(loaded.candles)
        cut = loaded.candles.attrs["cut_to_clean"]
        if cut["candles"] < full:
            loaded.warnings.append(f"cut to its longest clean stretch: {cut['start']} .. {cut['end']} "
                                   f"({cut['candles']:,} of {full:,} candles)")
        loaded.ref = ref
    spike = spike_warning(loaded.candles, loaded.ref)
    if spike:
        loaded.warnings.append(spike)
    if len(loaded.candles) and (remark := date_remark(loaded.candles.index)):
        loaded.warnings.append(remark)
    return loaded


def _load(ref: str, since: str | None, until: str | None, offline: bool) -> LoadedData:
    kind = kind_of(ref)
    if kind == "sample":
        frame = load_sample(ref.split(":", 1)[1])
        return LoadedData(ref, _clip(frame, since, until))
    if kind == "synthetic":
        return LoadedData(ref, _clip(load_synthetic(ref), since, until))
    if kind == "csv":
        path_text, columns = split_columns(ref)  # a column mapping travels in the ref: see data.columns
        path = Path(path_text).expanduser()
        if not path.exists():
            raise CandleError(f"CSV file not found: {path}")
        return LoadedData(ref, _clip(read_candles_csv(path, columns=columns), since, until))
    # Imported here, not at the top: pricecast.data.market brings requests/urllib3/ssl (about 70 ms of CPU)
    # that bundled series and CSV files never need, and everything that names data imports this module
    # (the CLI, the dashboard's pages). ccxt loads later still, only for an exchange (docs/BENCHMARKS.md §4).
    from pricecast.data.market import load_market

    result = load_market(ref, since=since, until=until, offline=offline)
    return LoadedData(ref, result.candles, list(result.warnings), str(result.cache_file))


def _clip(frame: pd.DataFrame, since: str | None, until: str | None) -> pd.DataFrame:
    since_ts, until_ts = to_utc(since, "since"), to_utc(until, "until")
    if since_ts is not None:
        frame = frame[frame.index >= since_ts]
    if until_ts is not None:
        frame = frame[frame.index <= until_ts]
    if frame.empty:
        raise CandleError(f"no candles between {since or 'the start'} and {until or 'the end'}")
    return frame
