"""Candles from crypto exchanges through ccxt's unified ``load_markets`` and ``fetch_ohlcv``.

ccxt does the HTTP and the parsing of each exchange's format; this module adds what ccxt leaves
to callers: the base-URL override, timeouts, retries honouring Retry-After, paging a long range,
symbol resolution with suggestions, and plain error messages.
"""
from __future__ import annotations

import difflib
import functools
import importlib.util
import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from pricecast import paths

from .errors import FetchInterrupted, MarketDataError, SourceUnavailableError
from .http import (
    NO_NETWORK,
    RETRY_STATUSES,
    Deadline,
    RetryPolicy,
    base_url_override,
    body_problem,
    call_with_retries,
    refuse_cross_host_redirects,
    retry_after_seconds,
    rewrite_urls,
    status_problem,
)
from .refs import timeframe_ms


class _LazyCcxt:
    """Stands for the ccxt module until an attribute is first used, then imports it (and replaces
    itself in this module). Importing ccxt takes 1-3 s; a dashboard page that only reads cached
    candles, or the cache's age, should not pay that when it opens."""

    def __getattr__(self, name: str) -> Any:
        global ccxt
        import ccxt as lib

        ccxt = lib
        return getattr(lib, name)


# ccxt is a dependency, but keep importing pricecast possible without it (None: not installed).
ccxt: Any = _LazyCcxt() if importlib.util.find_spec("ccxt") is not None else None

# Exchanges that page by an exclusive end time (``to``) and answer newest-first, 200 a page.
# ccxt turns ``since`` into ``to`` for upbit; its bithumb (API generation 2, /v1/candles/...)
# ignores ``since`` entirely, so for bithumb we send ``to`` ourselves (UTC, with 'Z', because
# Bithumb reads a bare time as KST). These, and every exchange we send ``until`` to, answer one
# time window per request: a window without trades comes back empty (Coinbase Exchange publishes
# no candle for an interval without ticks) although later windows hold candles.
_WINDOWED = {"upbit", "bithumb"}
# Exchanges that, asked without an end time, answer the first candles from ``since`` on however
# far later they start (Binance /api/v3/klines with startTime alone).
_OPEN_ENDED = {"binance"}
# Exchanges that keep only their latest N candles per timeframe, whatever ``since`` asks for
# (Kraken's OHLC: "Returns up to 720 of the most recent entries").
_LATEST_ONLY = {"kraken": 720}
# Timeframes a ccxt exchange serves outside its ``timeframes`` table: ccxt's bithumb.fetch_ohlcv
# routes 1d/1w/1M to /v1/candles/days|weeks|months although ``timeframes`` lists minutes only.
_EXTRA_TIMEFRAMES = {"bithumb": ("1d", "1w", "1M")}
# Exchanges whose default market loading also asks derivatives endpoints; candles here are spot.
_SPOT_OPTIONS: dict[str, dict[str, Any]] = {
    # ccxt 4.5 binance.fetch_markets reads options['fetchMarkets']['types'] (list of market types)
    "binance": {"defaultType": "spot", "fetchMarkets": {"types": ["spot"], "loadAllOptions": False}},
}
DEFAULT_PAGE_LIMIT = 500
MAX_EMPTY_WINDOWS = 3
RATE_LIMIT_ENV = "PRICECAST_CCXT_RATE_LIMIT_MS"


def _require_ccxt() -> Any:
    if ccxt is None:
        raise MarketDataError("the 'ccxt' package is not installed; run: pip install 'ccxt>=4.5,<5'")
    return ccxt


@functools.lru_cache(maxsize=1)
def _catalogue() -> dict[str, list[str] | None]:
    """{exchange id: its candle timeframes} for every ccxt exchange with candles (no network).

    Building it imports ccxt and instantiates every exchange class (2-4 s), so it is kept as JSON in
    the cache folder, one file per ccxt version: the Data page lists exchanges without importing ccxt.
    """
    try:
        stored = paths.cache_dir() / f"ccxt-exchanges-{version('ccxt')}.json"
    except PackageNotFoundError:
        _require_ccxt()  # raises the "not installed" message
        raise
    try:
        return json.loads(stored.read_text())
    except (OSError, ValueError):
        pass
    lib = _require_ccxt()
    out = {}
    for ex_id in lib.exchanges:
        try:
            ex = getattr(lib, ex_id)()
        except Exception:  # noqa: BLE001 - an exchange class that cannot even be built is skipped
            continue
        if ex.has.get("fetchOHLCV"):
            try:
                out[ex_id] = _timeframes_of(ex_id, ex)
            except MarketDataError:  # listed; asking for its timeframes gives the reason
                out[ex_id] = None
    tmp = stored.with_name(f".{stored.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(out))
        tmp.replace(stored)  # atomic: a reader sees the old file or the whole new one
    except OSError:
        tmp.unlink(missing_ok=True)  # a read-only cache folder only costs the rebuild next time
    return out


def list_exchanges() -> list[str]:
    """ccxt exchange ids that can fetch candles (``has['fetchOHLCV']``); no network needed."""
    return sorted(_catalogue())


def _check_exchange(exchange_id: str) -> str:
    lib = _require_ccxt()
    ex_id = exchange_id.strip().lower()
    if ex_id not in lib.exchanges:
        close = difflib.get_close_matches(ex_id, lib.exchanges, n=3, cutoff=0.6)
        hint = f" Did you mean {', '.join(close)}?" if close else " See list_exchanges() for the supported ones."
        raise MarketDataError(f"unknown exchange '{exchange_id}'.{hint}")
    return ex_id


def list_timeframes(exchange_id: str) -> list[str]:
    """Timeframes the exchange serves candles for (from ccxt's ``timeframes``); no network."""
    known = _catalogue().get(exchange_id.strip().lower())
    if known is not None:
        return list(known)
    ex_id = _check_exchange(exchange_id)  # unknown: says so, with suggestions
    ex = getattr(ccxt, ex_id)()
    if not ex.has.get("fetchOHLCV"):
        raise MarketDataError(f"{ex_id} has no candle (OHLCV) endpoint in ccxt")
    return _timeframes_of(ex_id, ex)


def _timeframes_of(ex_id: str, ex: Any) -> list[str]:
    tfs = list(ex.timeframes or {}) + [t for t in _EXTRA_TIMEFRAMES.get(ex_id, ()) if t not in (ex.timeframes or {})]
    return sorted(tfs, key=lambda t: (timeframe_ms(t), t))


def make_exchange(exchange_id: str, policy: RetryPolicy | None = None) -> Any:
    """A configured ccxt exchange: spot only, timeout, rate limiting, base-URL override, strict JSON."""
    ex_id = _check_exchange(exchange_id)
    policy = policy or RetryPolicy.from_env()
    config: dict[str, Any] = {"enableRateLimit": True, "timeout": int(policy.timeout * 1000)}
    if ex_id in _SPOT_OPTIONS:
        config["options"] = dict(_SPOT_OPTIONS[ex_id])
    rate = os.environ.get(RATE_LIMIT_ENV, "").strip()
    if rate:  # ccxt's sync throttle sleeps rateLimit ms per request; mirrors and tests may lower it
        config["rateLimit"] = float(rate)
    ex = getattr(ccxt, ex_id)(config)
    base = base_url_override(ex_id)
    if base:
        ex.urls["api"] = rewrite_urls(ex.urls["api"], base)
    # Currencies are not needed for candles and cost exchanges like poloniex an extra request.
    ex.has = {**ex.has, "fetchCurrencies": False}
    ex.enableLastResponseHeaders = True
    ex.session.hooks["response"].append(refuse_cross_host_redirects(ex_id))
    ex.parse_json = _strict_json_parser(ex)
    _record_status(ex)
    return ex


def _record_status(ex: Any) -> None:
    """Remember each response's HTTP status: exchanges word 5xx bodies in ways ccxt maps to a
    plain ExchangeError, and the status is what says "try again"."""
    original = ex.on_rest_response
    ex.pricecast_last_status = None

    def on_rest_response(code, reason, url, method, response_headers, response_body, request_headers, request_body):
        ex.pricecast_last_status = code
        return original(code, reason, url, method, response_headers, response_body, request_headers, request_body)

    ex.on_rest_response = on_rest_response


class NotData(Exception):
    """A body that is not the JSON asked for; the message says what it looked like."""


def _strict_json_parser(ex: Any) -> Callable[[str], Any]:
    """ccxt silently treats a broken JSON body as text; we want to say so."""

    def parse_json(http_response: str) -> Any:
        text = (http_response or "").strip()
        status = getattr(ex, "pricecast_last_status", None) or 200
        if text[:1] == "<" and status < 400:  # error statuses are judged by their status instead
            raise NotData(body_problem(ex.id, status, text))
        if not text or text[0] not in "[{":
            return None
        try:
            return json.loads(text)
        except ValueError:
            raise NotData(body_problem(ex.id, status, text)) from None

    return parse_json


def _classify(ex: Any) -> Callable[[BaseException], tuple[bool, float | None, str]]:
    def classify(exc: BaseException) -> tuple[bool, float | None, str]:
        status = getattr(ex, "pricecast_last_status", None)
        if ccxt is not None and isinstance(exc, ccxt.BaseError) and status in RETRY_STATUSES:
            return True, retry_after_seconds(ex.last_response_headers), f"HTTP {status}"
        if ccxt is None or not isinstance(exc, ccxt.NetworkError) or isinstance(exc, ccxt.OnMaintenance):
            return False, None, str(exc)
        status = _status_of(exc) or status
        if status is not None and 400 <= status < 500 and status not in (408, 418, 429):
            return False, None, f"HTTP {status}"
        retry_after = None
        if isinstance(exc, (ccxt.DDoSProtection, ccxt.ExchangeNotAvailable)):
            retry_after = retry_after_seconds(ex.last_response_headers)
        reason = type(exc).__name__ + (f" (HTTP {status})" if status else "")
        return True, retry_after, reason

    return classify


def _status_of(exc: BaseException) -> int | None:
    match = re.search(r"\s([1-5]\d\d)\s", f" {exc} ")
    return int(match.group(1)) if match else None


# ccxt errors that mean "not now": the plain reason ({ex}: the exchange), first match wins.
_UNAVAILABLE: tuple[tuple[tuple[str, ...], str], ...] = (
    (("OnMaintenance",), "{ex} is under maintenance; try again later"),
    (("DDoSProtection", "RateLimitExceeded"), "{ex} is limiting requests (rate limited)"),
    (("RequestTimeout",), "{ex} did not answer in time"),
    (("ExchangeNotAvailable",), "{ex} is not available (down or under maintenance)"),
)


def _translate(exc: BaseException, ex_id: str, what: str, status: int | None = None) -> MarketDataError:
    """A ccxt exception as a MarketDataError with a plain message (``status``: last HTTP status)."""
    if isinstance(exc, MarketDataError):
        return exc

    def unavailable(reason: str) -> SourceUnavailableError:
        # short on purpose: ccxt's own text holds the full URL and the response body (HTML pages)
        return SourceUnavailableError(f"{reason} (while {what})", reason=reason)

    if isinstance(exc, NotData):
        return unavailable(str(exc))
    if ccxt is None or not isinstance(exc, ccxt.BaseError):
        return MarketDataError(f"{ex_id}: unexpected {type(exc).__name__} while {what}: {exc}")
    if status in RETRY_STATUSES:
        return unavailable(status_problem(ex_id, status))
    for names, reason in _UNAVAILABLE:
        if isinstance(exc, tuple(getattr(ccxt, name) for name in names)):
            return unavailable(reason.format(ex=ex_id))
    if isinstance(exc, ccxt.NetworkError):
        return SourceUnavailableError(f"{NO_NETWORK}: could not reach {ex_id} while {what}", reason=NO_NETWORK)
    if isinstance(exc, ccxt.BadResponse):
        return MarketDataError(f"{_brief(exc)} (while {what})")
    if isinstance(exc, ccxt.BadSymbol):
        return MarketDataError(f"{ex_id} does not know that symbol: {_brief(exc)}")
    return MarketDataError(f"{ex_id} refused the request while {what}: {_brief(exc)}")


def _brief(exc: BaseException) -> str:
    text = str(exc)
    return text if len(text) <= 200 else text[:197] + "..."


def _load_markets(ex: Any, policy: RetryPolicy, progress: Callable[[str], None] | None,
                  deadline: Deadline | None = None) -> dict:
    try:
        return call_with_retries(
            lambda: ex.load_markets(), classify=_classify(ex), policy=policy, label=ex.id, progress=progress,
            deadline=deadline or Deadline(ex.id, policy),
        )
    except Exception as exc:  # translated
        raise _translate(exc, ex.id, "loading its markets", getattr(ex, "pricecast_last_status", None)) from exc


def list_symbols(exchange_id: str, search: str = "") -> list[str]:
    """Symbols the exchange trades (network: ``load_markets``), filtered by a case-insensitive substring."""
    policy = RetryPolicy.from_env()
    ex = make_exchange(exchange_id, policy)
    markets = _load_markets(ex, policy, None)
    needle = search.strip().upper()
    symbols = sorted(s for s, m in markets.items() if not needle or needle in s.upper() or needle in str(m.get("id", "")).upper())
    return symbols


def resolve_symbol(ex: Any, symbol: str) -> str:
    """The unified ccxt symbol for what the user typed.

    Accepts the unified form (``BTC/USDT``), the exchange's own id (``BTCUSDT``, ``BTC_USDT``,
    ``KRW-ETH``) and old Poloniex-style ``QUOTE_BASE`` pairs (``USDT_BTC`` is BTC priced in USDT).
    """
    markets = ex.markets or {}
    wanted = symbol.strip()
    upper = {s.upper(): s for s in markets}
    if wanted.upper() in upper:
        return upper[wanted.upper()]
    for sym, market in markets.items():
        if str(market.get("id", "")).upper() == wanted.upper():
            return sym
    for sep in ("_", "-"):
        if sep in wanted and "/" not in wanted:
            a, b = wanted.upper().split(sep, 1)
            for candidate in (f"{b}/{a}", f"{a}/{b}"):  # legacy QUOTE_BASE first
                if candidate in upper:
                    return upper[candidate]
    pool = list(markets)
    close = difflib.get_close_matches(wanted.upper(), [s.upper() for s in pool], n=5, cutoff=0.5)
    close = [upper[c] for c in close]
    if not close:
        base = re.split(r"[/_\-]", wanted.upper())[0]
        close = [s for s in pool if s.upper().startswith(base + "/")][:5]
    hint = f" Close matches: {', '.join(close)}." if close else ""
    raise MarketDataError(f"{ex.id} has no market '{symbol}'.{hint}")


def _check_timeframe(ex_id: str, timeframe: str) -> None:
    supported = list_timeframes(ex_id)
    if timeframe not in supported:
        raise MarketDataError(f"{ex_id} does not serve '{timeframe}' candles; supported: {', '.join(supported)}")


def _page_limit(ex: Any) -> int:
    features = (getattr(ex, "features", None) or {}).get("spot") or {}
    limit = (features.get("fetchOHLCV") or {}).get("limit")
    return int(limit) if limit else DEFAULT_PAGE_LIMIT


def fetch_candles(
    exchange_id: str,
    symbol: str,
    timeframe: str,
    since_ms: int,
    until_ms: int,
    *,
    progress: Callable[[str], None] | None = None,
    policy: RetryPolicy | None = None,
    now_ms: int | None = None,
    warnings: list[str] | None = None,
) -> tuple[str, list[list[float]]]:
    """Closed candles ``[t_ms, o, h, l, c, v]`` with ``since_ms <= t <= until_ms``, paged forward.

    Returns (resolved unified symbol, rows sorted and de-duplicated). The still-forming candle
    (open time + timeframe > now) is dropped. Raises :class:`SourceUnavailableError` (carrying
    what was fetched so far) when the exchange cannot be reached, :class:`MarketDataError`
    otherwise. What the exchange cannot serve (history it no longer keeps) is said in ``warnings``.
    """
    policy = policy or RetryPolicy.from_env()
    ex_id = _check_exchange(exchange_id)
    _check_timeframe(ex_id, timeframe)
    ex = make_exchange(ex_id, policy)
    if progress:
        progress(f"{ex_id}: loading markets")
    deadline = Deadline(ex_id, policy)
    _load_markets(ex, policy, progress, deadline)
    unified = resolve_symbol(ex, symbol)
    step = timeframe_ms(timeframe)
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    until_ms = min(until_ms, now_ms - step)  # candles opening later are still forming
    kept = _LATEST_ONLY.get(ex_id)
    if kept and warnings is not None and since_ms < (now_ms // step - kept + 1) * step:
        warnings.append(f"{ex_id} keeps only its latest {kept} {timeframe} candles; older ones cannot be fetched")
    pager = _Pager(ex, ex_id, unified, timeframe, step, _page_limit(ex), policy, progress, deadline)
    try:  # Ctrl-C between pages: hand over what was fetched so the loader can cache it
        pager.run(since_ms, until_ms)
    except KeyboardInterrupt:
        raise FetchInterrupted(pager.sorted_rows()) from None
    return unified, pager.sorted_rows()


@dataclass
class _Pager:
    """One download's pages, asked forward from a cursor, with the rows so far (by open time)."""

    ex: Any
    ex_id: str
    unified: str
    timeframe: str
    step: int
    limit: int
    policy: RetryPolicy
    progress: Callable[[str], None] | None
    deadline: Deadline
    rows: dict[int, list[float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.until_param = "params.until" in (type(self.ex).fetch_ohlcv.__doc__ or "")
        self.windowed = self.ex_id in _WINDOWED or self.until_param
        self.classify = _classify(self.ex)

    def sorted_rows(self) -> list[list[float]]:
        return [self.rows[k] for k in sorted(self.rows)]

    def run(self, cursor: int, until_ms: int) -> None:
        empty_windows, page_no = 0, 0
        while cursor <= until_ms:
            params = self._params(cursor, until_ms)
            page_no += 1
            fresh = [r for r in self._page(cursor, params) if cursor <= r[0] <= until_ms]
            for r in fresh:
                self.rows[int(r[0])] = [float(x) if x is not None else float("nan") for x in r[:6]]
            if self.progress:
                self.progress(f"{self.ex_id}: page {page_no}, {len(self.rows)} candles so far")
            if fresh:
                empty_windows = 0
                cursor = max(int(r[0]) for r in fresh) + self.step
                continue
            cursor, empty_windows = self._after_empty(cursor, params, until_ms, empty_windows)
            if cursor is None:
                break

    def _params(self, cursor: int, until_ms: int) -> dict[str, Any]:
        params: dict[str, Any] = {}
        if self.ex_id == "bithumb":
            params["to"] = self.ex.iso8601(cursor + self.step * self.limit).replace(".000Z", "Z")
        if self.until_param:
            params["until"] = min(until_ms, cursor + self.step * self.limit - 1)
        return params

    def _after_empty(self, cursor: int, params: dict, until_ms: int, empty_windows: int) -> tuple[int | None, int]:
        """Where to ask next after a page with nothing new (None: the download is over)."""
        if self.ex_id in _OPEN_ENDED and "until" in params:
            # Nothing in this window (a market listed after `cursor`): asked without an end, the
            # exchange answers its first candles from `cursor` on, wherever they are.
            later = [int(r[0]) for r in self._page(cursor, {}) if r[0] >= cursor]
            if not later or min(later) > until_ms:
                return None, empty_windows
            return min(later), empty_windows
        if self.windowed and empty_windows < MAX_EMPTY_WINDOWS:
            # a window with no trades: the next window may still hold candles
            return cursor + self.step * self.limit, empty_windows + 1
        return None, empty_windows

    def _page(self, cursor: int, params: dict) -> list:
        ex = self.ex

        def call() -> list:
            ex.last_response_headers = None
            ex.pricecast_last_status = None
            return ex.fetch_ohlcv(self.unified, self.timeframe, cursor, self.limit, params)

        try:
            page = call_with_retries(call, classify=self.classify, policy=self.policy, label=self.ex_id,
                                     progress=self.progress, deadline=self.deadline)
        except Exception as exc:  # translated
            err = _translate(exc, self.ex_id, f"fetching {self.unified} {self.timeframe} candles",
                             ex.pricecast_last_status)
            if isinstance(err, SourceUnavailableError):
                err.partial = sorted(self.rows.values())
            raise err from exc
        if not isinstance(page, list):
            raise MarketDataError(f"{self.ex_id} answered something that is not a list of candles for {self.unified}")
        return [r for r in page if r and r[0] is not None]
