"""Errors raised by market-data sources, with messages a person can act on."""
from __future__ import annotations

from pricecast.data.candles import CandleError


class MarketDataError(CandleError):
    """Market data could not be had: unknown exchange/symbol/timeframe, bad response, no network.

    A subclass of :class:`CandleError` (itself a ``ValueError``) so callers that already catch
    candle problems also catch these.
    """


class SourceUnavailableError(MarketDataError):
    """The source could not be reached or did not answer usefully (no network, timeouts,
    5xx, rate limited past our retries, maintenance). The cache may stand in for it."""

    def __init__(self, message: str, partial: list[list[float]] | None = None, reason: str | None = None) -> None:
        super().__init__(message)
        # candles fetched before the failure, so a long download is not thrown away
        self.partial: list[list[float]] = partial or []
        # what went wrong in a few words ("no network", "binance is limiting requests (HTTP 429)"),
        # for messages such as "<reason>: using 999 cached candles"
        self.reason: str = reason or message


class CacheWriteError(MarketDataError, OSError):
    """The candle cache could not be written (disk full, a folder in the way). An OSError too, for
    callers that handle disk problems; the message says what to do."""


class FetchInterrupted(KeyboardInterrupt):
    """Ctrl-C during a paged download, carrying the candles fetched so far so they can be cached.
    A KeyboardInterrupt, so code that knows nothing of it still stops as the user asked."""

    def __init__(self, partial: list[list[float]]) -> None:
        super().__init__()
        self.partial = partial
