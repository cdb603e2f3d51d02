"""Errors raised by market-data sources, with messages a person can act on."""
from __future__ import annotations

from ..candles import CandleError


class MarketDataError(CandleError):
    """Market data could not be had: unknown exchange/symbol/timeframe, bad response, no network.

    A subclass of :class:`CandleError` (itself a ``ValueError``) so callers that already catch
    candle problems also catch these.
    """


class SourceUnavailableError(MarketDataError):
    """The source could not be reached or did not answer usefully (no network, timeouts,
    5xx, rate limited past our retries, maintenance). The cache may stand in for it."""

    def __init__(self, message: str, partial: list[list[float]] | None = None) -> None:
        super().__init__(message)
        # candles fetched before the failure, so a long download is not thrown away
        self.partial: list[list[float]] = partial or []
