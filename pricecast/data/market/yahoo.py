"""Candles for stocks and indices from Yahoo Finance's chart endpoint.

``GET https://query1.finance.yahoo.com/v8/finance/chart/{symbol}?period1=&period2=&interval=``
answers ``{"chart": {"result": [{"meta": {...}, "timestamp": [unix seconds...],
"indicators": {"quote": [{"open": [...], "high": [...], "low": [...], "close": [...],
"volume": [...]}], "adjclose": [...]}}], "error": null}}``; values may be ``null``. Unknown
symbols answer HTTP 404 with ``{"chart": {"result": null, "error": {"code": "Not Found",
"description": "No data found, symbol may be delisted"}}}``; ranges beyond an interval's limit
answer 422 with a description. Prices are as traded (``close``, not ``adjclose``).
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from .errors import FetchInterrupted, MarketDataError, SourceUnavailableError
from .http import HttpClient, RetryPolicy

BASE_URL = "https://query1.finance.yahoo.com"
DAY_MS = 86_400_000


@dataclass(frozen=True)
class YahooInterval:
    """One Yahoo interval: its name in the API, candle length, how far back Yahoo keeps it,
    and the longest span one request may cover (None: no limit)."""

    api: str
    step: timedelta
    max_age: timedelta | None
    max_span: timedelta | None


# Limits as Yahoo states them in its 422 errors ("Only 8 days worth of 1m granularity data are
# allowed to be fetched per request", "The requested range must be within the last 60 days",
# 730 days for hourly). We stay a little inside them.
YAHOO_INTERVALS: dict[str, YahooInterval] = {
    "1m": YahooInterval("1m", timedelta(minutes=1), timedelta(days=29), timedelta(days=7)),
    "2m": YahooInterval("2m", timedelta(minutes=2), timedelta(days=59), timedelta(days=59)),
    "5m": YahooInterval("5m", timedelta(minutes=5), timedelta(days=59), timedelta(days=59)),
    "15m": YahooInterval("15m", timedelta(minutes=15), timedelta(days=59), timedelta(days=59)),
    "30m": YahooInterval("30m", timedelta(minutes=30), timedelta(days=59), timedelta(days=59)),
    "90m": YahooInterval("90m", timedelta(minutes=90), timedelta(days=59), timedelta(days=59)),
    "1h": YahooInterval("60m", timedelta(hours=1), timedelta(days=729), timedelta(days=729)),
    "1d": YahooInterval("1d", timedelta(days=1), None, None),
    "5d": YahooInterval("5d", timedelta(days=5), None, None),
    "1wk": YahooInterval("1wk", timedelta(weeks=1), None, None),
    "1mo": YahooInterval("1mo", timedelta(days=30), None, None),
    "3mo": YahooInterval("3mo", timedelta(days=91), None, None),
}
_ALIASES = {"60m": "1h", "1w": "1wk", "1M": "1mo", "3M": "3mo"}


def yahoo_intervals() -> dict[str, dict[str, Any]]:
    """Supported intervals with their limits, for listings: ``{name: {"max_age_days", "max_span_days"}}``."""
    return {
        name: {
            "max_age_days": iv.max_age.days if iv.max_age else None,
            "max_span_days": iv.max_span.days if iv.max_span else None,
        }
        for name, iv in YAHOO_INTERVALS.items()
    }


def yahoo_interval(timeframe: str) -> YahooInterval:
    key = _ALIASES.get(timeframe, timeframe)
    if key not in YAHOO_INTERVALS:
        raise MarketDataError(
            f"Yahoo does not serve '{timeframe}' candles; supported: {', '.join(YAHOO_INTERVALS)}"
        )
    return YAHOO_INTERVALS[key]


def fetch_candles(
    symbol: str,
    timeframe: str,
    since_ms: int,
    until_ms: int,
    *,
    progress: Callable[[str], None] | None = None,
    policy: RetryPolicy | None = None,
    now_ms: int | None = None,
    warnings: list[str] | None = None,
) -> list[list[float]]:
    """Closed candles ``[t_ms, o, h, l, c, v]`` between ``since_ms`` and ``until_ms``.

    Daily and longer candles are stamped at 00:00 UTC of the exchange-local trading date (Yahoo
    stamps them at the session open), so a stock's days line up with calendar days.
    """
    iv = yahoo_interval(timeframe)
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    step_ms = int(iv.step.total_seconds() * 1000)
    if iv.max_age is not None:
        oldest = now_ms - int(iv.max_age.total_seconds() * 1000)
        if since_ms < oldest:
            if warnings is not None:
                warnings.append(
                    f"Yahoo keeps {timeframe} candles only for the last {iv.max_age.days + 1} days; "
                    "older ones were not fetched"
                )
            since_ms = oldest
    client = HttpClient("yahoo", policy, progress)
    url = f"{BASE_URL}/v8/finance/chart/{quote(symbol, safe='^=.-')}"
    span_ms = int(iv.max_span.total_seconds() * 1000) if iv.max_span else None
    rows: dict[int, list[float]] = {}
    dropped = 0
    # Daily candles are re-stamped to midnight but Yahoo stamps them at the session open, so ask
    # from the day before to catch the first one and up to the day after to catch the last one.
    pad = DAY_MS if step_ms >= DAY_MS else 0
    fetch_from, fetch_to = since_ms - pad, until_ms + pad
    try:  # Ctrl-C between pages: hand over what was fetched so the loader can cache it
        while fetch_from <= fetch_to:
            end = fetch_to if span_ms is None else min(fetch_to, fetch_from + span_ms)
            params = {
                "period1": fetch_from // 1000,
                "period2": end // 1000 + 1,
                "interval": iv.api,
                "includePrePost": "false",
                "events": "div,splits",
            }
            if progress:
                progress(f"yahoo: {symbol} {timeframe} from {fetch_from // 1000} to {end // 1000}")
            result = client.get_json(url, params)
            page, bad = _parse_chart(result.status, result.data, symbol, timeframe, step_ms)
            dropped += bad
            for row in page:
                if since_ms <= row[0] <= until_ms and row[0] + step_ms <= now_ms:
                    rows[int(row[0])] = row
            if span_ms is None:
                break
            fetch_from = end + 1
    except KeyboardInterrupt:
        raise FetchInterrupted([rows[k] for k in sorted(rows)]) from None
    except SourceUnavailableError as exc:  # too slow or down after some pages: keep those pages
        exc.partial = [rows[k] for k in sorted(rows)]
        raise
    if dropped and warnings is not None:
        warnings.append(f"Yahoo sent {dropped} candle(s) without prices; they were left out")
    return [rows[k] for k in sorted(rows)]


def _parse_chart(status: int, data: Any, symbol: str, timeframe: str, step_ms: int) -> tuple[list[list[float]], int]:
    chart = data.get("chart") if isinstance(data, dict) else None
    if not isinstance(chart, dict):
        raise MarketDataError(f"Yahoo answered HTTP {status} without a chart for {symbol}")
    error = chart.get("error")
    if error or status != 200:
        desc = (error or {}).get("description") or (error or {}).get("code") or f"HTTP {status}"
        if status == 404 or (error or {}).get("code") == "Not Found":
            raise MarketDataError(f"Yahoo does not know the symbol '{symbol}' ({desc})")
        raise MarketDataError(f"Yahoo refused {symbol} {timeframe}: {desc}")
    results = chart.get("result") or []
    if not results:
        return [], 0
    res = results[0]
    stamps = res.get("timestamp") or []
    quotes = ((res.get("indicators") or {}).get("quote") or [{}])[0] or {}
    offset = int((res.get("meta") or {}).get("gmtoffset") or 0)
    out: list[list[float]] = []
    bad = 0
    cols = [quotes.get(k) or [] for k in ("open", "high", "low", "close", "volume")]
    for i, ts in enumerate(stamps):
        vals = [c[i] if i < len(c) else None for c in cols]
        if any(v is None or (isinstance(v, float) and math.isnan(v)) for v in vals[:4]):
            bad += 1
            continue
        t_ms = int(ts) * 1000
        if step_ms >= DAY_MS:  # to 00:00 UTC of the local trading date
            t_ms = ((int(ts) + offset) // 86_400) * DAY_MS
        out.append([t_ms, *(float(v) for v in vals[:4]), float(vals[4] or 0.0)])
    return out, bad
