"""Market data from exchanges (ccxt) and Yahoo Finance, with a local candle cache.

Public API::

    parse_market_ref("binance:BTC/USDT:1h") -> MarketRef
    load_market(ref, since=None, until=None, *, offline=False, cache_dir=None, progress=None) -> MarketData
    list_exchanges() -> list[str]            # no network
    list_timeframes(exchange) -> list[str]   # no network
    list_symbols(exchange, search="") -> list[str]   # network (load_markets)
    yahoo_intervals() -> {interval: {"max_age_days", "max_span_days"}}

Every failure is a :class:`MarketDataError` (a ``CandleError``/``ValueError``) with a plain message.
"""
from __future__ import annotations

from .ccxt_source import list_exchanges, list_symbols, list_timeframes
from .errors import MarketDataError, SourceUnavailableError
from .loader import MarketData, load_market
from .refs import MarketRef, parse_market_ref, timeframe_ms
from .yahoo import YAHOO_INTERVALS, yahoo_intervals

__all__ = [
    "MarketData",
    "MarketDataError",
    "MarketRef",
    "SourceUnavailableError",
    "YAHOO_INTERVALS",
    "list_exchanges",
    "list_symbols",
    "list_timeframes",
    "load_market",
    "parse_market_ref",
    "timeframe_ms",
    "yahoo_intervals",
]
