"""Market references like ``binance:BTC/USDT:1h`` and timeframe arithmetic."""
from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import MarketDataError

YAHOO_SOURCES = ("yahoo",)
# Sources with no network behind them: candles stored by `pricecast data import FILE --store NAME`.
LOCAL_SOURCES = ("csv",)
DEFAULT_TIMEFRAME_YAHOO = "1d"
DEFAULT_TIMEFRAME_EXCHANGE = "1h"

_TF_RE = re.compile(r"^(\d+)(s|m|h|d|w|wk|M|mo|y)$")
_UNIT_MS = {
    "s": 1_000,
    "m": 60_000,
    "h": 3_600_000,
    "d": 86_400_000,
    "w": 7 * 86_400_000,
    "wk": 7 * 86_400_000,
    # months and years are not fixed; 30/365 days is what ccxt's parse_timeframe uses too
    "M": 30 * 86_400_000,
    "mo": 30 * 86_400_000,
    "y": 365 * 86_400_000,
}


def timeframe_ms(timeframe: str) -> int:
    """Length of one candle in milliseconds (``1m`` minute, ``1M``/``1mo`` month)."""
    match = _TF_RE.match(timeframe.strip())
    if not match:
        raise MarketDataError(f"'{timeframe}' is not a timeframe (examples: 1m, 5m, 1h, 4h, 1d, 1w, 1M)")
    return int(match.group(1)) * _UNIT_MS[match.group(2)]


@dataclass(frozen=True)
class MarketRef:
    """Where candles come from: ``source`` (ccxt exchange id or ``yahoo``), ``symbol``, ``timeframe``."""

    source: str
    symbol: str
    timeframe: str

    def __str__(self) -> str:
        return f"{self.source}:{self.symbol}:{self.timeframe}"

    @property
    def is_yahoo(self) -> bool:
        return self.source in YAHOO_SOURCES

    @property
    def is_local(self) -> bool:
        return self.source in LOCAL_SOURCES


def parse_market_ref(ref: str) -> MarketRef:
    """Parse ``SOURCE:SYMBOL[:TIMEFRAME]``.

    The source is lower-cased (ccxt ids are lower case); the symbol is upper-cased (exchange and
    Yahoo symbols are upper case, and one spelling keeps one cache file). The timeframe keeps its
    case because ``1m`` (minute) and ``1M`` (month) differ. Default timeframe: 1d for Yahoo, 1h
    for exchanges.
    """
    if not isinstance(ref, str) or not ref.strip():
        raise MarketDataError("empty market reference; expected EXCHANGE:SYMBOL:TIMEFRAME, e.g. binance:BTC/USDT:1h")
    parts = [p.strip() for p in ref.strip().split(":")]
    if len(parts) not in (2, 3) or not all(parts):
        raise MarketDataError(
            f"'{ref}' is not a market reference; expected EXCHANGE:SYMBOL:TIMEFRAME, "
            "e.g. binance:BTC/USDT:1h or yahoo:TSLA:1d"
        )
    source, symbol = parts[0].lower(), parts[1].upper()
    if len(parts) == 3:
        timeframe = parts[2]
    else:
        timeframe = DEFAULT_TIMEFRAME_YAHOO if source in YAHOO_SOURCES else DEFAULT_TIMEFRAME_EXCHANGE
    timeframe_ms(timeframe)  # reject nonsense early with a clear message
    return MarketRef(source, symbol, timeframe)
