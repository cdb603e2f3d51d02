"""A fake market-data server on 127.0.0.1 that replays the sources' recorded real responses.

Every source answers under its own path prefix (``/binance``, ``/poloniex``, ``/bithumb``,
``/upbit``, ``/kraken``, ``/coinbaseexchange``, ``/yahoo``; ``PRICECAST_BASE_URL_<SOURCE>`` points
there), so exchanges that share paths (Bithumb and Upbit both serve ``/v1/candles/...``) stay apart.
Candle rows are the recorded ones at their recorded times and rows built in exactly their shape
elsewhere (see :mod:`tests.fakes.recorded`). Paging rules, limits and error bodies follow what
ccxt 4.5 sends and the exchanges document:

* Binance ``/api/v3/klines``: ascending, ``startTime``/``endTime`` inclusive, ``limit`` default
  500 max 1000; ``{"code":-1121,"msg":"Invalid symbol."}``.
* Poloniex ``/markets/{symbol}/candles``: ascending, ``limit`` default 100 max 500.
* Bithumb and Upbit ``/v1/candles/minutes/{unit}`` and ``/v1/candles/days``: newest first,
  candles strictly before ``to``, ``count`` max 200.
* Kraken ``/0/public/OHLC``: candles opening after ``since`` (seconds), oldest first, only the
  latest 720 of them exist whatever ``since`` says, the last one is the still-forming candle;
  ``last`` is the newest committed candle's time; errors are HTTP 200 with ``error: [...]``.
* Coinbase Exchange ``/products/{id}/candles``: newest first, ``start``..``end`` inclusive, a
  range of more than 300 candles is refused with HTTP 400.
* Yahoo ``/v8/finance/chart/{symbol}``: daily bars replayed from the recorded charts (TSLA
  2010-2023, AAPL 2020-08/11, BTC-USD 2020-01); intraday bars in the same chart shape, with
  Yahoo's 422 errors for a 1m request over 8 days, 1m older than 30 days, 2m-90m older than 60
  days and hourly older than 730 days; 404 ``chart.error`` for unknown symbols.

Faults are injected per path (without the source prefix): status + headers + body, a delay (for
timeouts), raw text, the real answer trickled a byte at a time, or a redirect to another host.
Every request is recorded as a :class:`Request` for assertions.
"""
from __future__ import annotations

import copy
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple
from urllib.parse import parse_qs, unquote, urlsplit
from zoneinfo import ZoneInfo

from .recorded import Book, Recordings, factor, like

MIN = 60_000
DAY_MS = 1440 * MIN
SOURCES = ("binance", "poloniex", "bithumb", "upbit", "kraken", "coinbaseexchange", "yahoo")
TF_MS = {"1m": MIN, "3m": 3 * MIN, "5m": 5 * MIN, "15m": 15 * MIN, "30m": 30 * MIN, "1h": 60 * MIN,
         "2h": 120 * MIN, "4h": 240 * MIN, "1d": DAY_MS}
BINANCE_INTERVALS = {"1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w", "1M"}
POLONIEX_INTERVALS = {"MINUTE_1": "1m", "MINUTE_5": "5m", "MINUTE_15": "15m", "MINUTE_30": "30m",
                      "HOUR_1": "1h", "HOUR_2": "2h", "HOUR_4": "4h", "DAY_1": "1d"}
KRAKEN_INTERVALS = {1, 5, 15, 30, 60, 240, 1440, 10080, 21600}  # minutes
KRAKEN_KEEPS = 720  # candles; older ones cannot be fetched
COINBASE_GRANULARITIES = {60, 300, 900, 3600, 21600, 86400}  # seconds
COINBASE_MAX = 300
YAHOO_INTRADAY = {"1m": 1, "2m": 2, "5m": 5, "15m": 15, "30m": 30, "60m": 60, "90m": 90, "1h": 60}
# interval -> (days one request may span, days back Yahoo keeps it), as its 422 errors state them
YAHOO_LIMITS = {"1m": (8, 30), "2m": (None, 60), "5m": (None, 60), "15m": (None, 60), "30m": (None, 60),
                "90m": (None, 60), "60m": (None, 730), "1h": (None, 730)}


@dataclass
class Fault:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    delay: float = 0.0
    trickle: float = 0.0  # seconds between the first bytes of the (real) answer: a source that trickles
    trickle_bytes: int = 20  # ... then the rest at once, so a client without a deadline still ends
    redirect_host: str | None = None  # answer 302 to the same path on this host ("localhost:PORT")


class Request(NamedTuple):
    source: str
    path: str  # without the source prefix
    query: dict[str, str]


class FakeState:
    def __init__(self, rec: Recordings) -> None:
        self.rec = rec
        self.requests: list[Request] = []
        self.faults: list[tuple[str, Fault]] = []
        self.lock = threading.Lock()
        self.now_ms: int | None = None  # the server's clock; None: the real time
        # markets per source, keyed by the exchange's own id; the recorded market replays its rows
        binance = rec.binance_book()
        self.binance = {"BTCUSDT": binance, "ETHUSDT": binance.like_this(), "ETHBTC": binance.like_this()}
        poloniex = rec.poloniex_book()
        self.poloniex = {"BTC_USDT": poloniex, "ETH_USDT": poloniex.like_this()}
        bithumb = rec.bithumb_book()
        self.bithumb = {"KRW-BTC": bithumb, "KRW-ETH": bithumb.like_this()}
        upbit = rec.upbit_book()
        self.upbit = {"USDT-BTC": upbit, "KRW-BTC": upbit.like_this()}
        kraken = rec.kraken_book()
        # pair id -> (book, base, quote as Kraken names them)
        self.kraken = {rec.kraken_pair(): (kraken, "XXBT", "USDT"), "XXBTZUSD": (kraken.like_this(), "XXBT", "ZUSD"),
                       "XETHZUSD": (kraken.like_this(), "XETH", "ZUSD")}
        coinbase = rec.coinbase_book()
        self.coinbase = {"BTC-USDT": coinbase, "BTC-USD": coinbase.like_this(), "ETH-USD": coinbase.like_this()}
        self.yahoo_missing: set[str] = set()  # recorded symbols the server pretends not to know
        self.yahoo_nulls: set[int] = set()  # bar times (s) Yahoo sends with null prices, as it sometimes does
        self.overlap = 0  # binance: also return this many candles before startTime (page edge duplicates)
        self.stopped = threading.Event()  # ends trickling answers when the server stops

    def now(self) -> int:
        return self.now_ms if self.now_ms is not None else int(time.time() * 1000)

    def inject(self, path_prefix: str, fault: Fault, times: int = 1) -> None:
        with self.lock:
            self.faults += [(path_prefix, fault)] * times

    def take_fault(self, path: str) -> Fault | None:
        with self.lock:
            for i, (prefix, fault) in enumerate(self.faults):
                if path.startswith(prefix):
                    del self.faults[i]
                    return fault
        return None

    def paths(self, prefix: str, source: str | None = None) -> list[dict[str, str]]:
        """Queries of the requests whose path starts with ``prefix`` (from ``source`` if given)."""
        return [r.query for r in self.requests if r.path.startswith(prefix) and source in (None, r.source)]


class Handler(BaseHTTPRequestHandler):
    state: FakeState  # set on the subclass made per server

    def log_message(self, *args: Any) -> None:  # keep pytest output clean
        pass

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None, trickle: float = 0.0,
              trickle_bytes: int = 0) -> None:
        raw = body if isinstance(body, str) else json.dumps(body, separators=(",", ":"))
        data = raw.encode()
        try:
            self.send_response(status)
            headers = dict(headers or {})
            # a fault may answer as something else (an HTML captive portal): its Content-Type wins
            content_type = next((headers.pop(k) for k in list(headers) if k.lower() == "content-type"),
                                "application/json;charset=UTF-8")
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            slow = min(len(data), trickle_bytes) if trickle else 0
            for i in range(slow):
                if self.state.stopped.wait(trickle):
                    return
                self.wfile.write(data[i:i + 1])
                self.wfile.flush()
            self.wfile.write(data[slow:])
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout tests)

    def do_GET(self) -> None:  # the name http.server calls
        parts = urlsplit(self.path)
        full = unquote(parts.path)
        source, _, rest = full.lstrip("/").partition("/")
        path = "/" + rest
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self.state.requests.append(Request(source, path, query))
        fault = self.state.take_fault(path)
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
            if fault.redirect_host:
                self._send(302, {}, {"Location": f"http://{fault.redirect_host}{self.path}"})
                return
            if fault.body is not None or fault.status != 200:
                self._send(fault.status, fault.body if fault.body is not None else {}, fault.headers)
                return
        try:
            status, body = ROUTES[source](self.state, path, query) if source in ROUTES else (404, {"fake": f"no source {source}"})
        except Exception as exc:  # noqa: BLE001 - a bug in the fake should be visible
            status, body = 500, {"fake_error": repr(exc)}
        if fault is not None and fault.trickle:
            self._send(status, body, trickle=fault.trickle, trickle_bytes=fault.trickle_bytes)
        else:
            self._send(status, body)


# ---------------------------------------------------------------- Binance
def binance(state: FakeState, path: str, q: dict[str, str]) -> tuple[int, Any]:
    now = state.now()
    if path == "/api/v3/exchangeInfo":
        return 200, binance_exchange_info(state)
    if path != "/api/v3/klines":
        return 404, {"fake": f"no route for {path}"}
    if q.get("symbol") not in state.binance:
        return 400, {"code": -1121, "msg": "Invalid symbol."}
    if q.get("interval") not in BINANCE_INTERVALS or q.get("interval") not in TF_MS:
        return 400, {"code": -1120, "msg": "Invalid interval."}
    limit = int(q.get("limit", 500))
    if not 1 <= limit <= 1000:
        return 400, {"code": -1130, "msg": "Data sent for parameter 'limit' is not valid."}
    step = TF_MS[q["interval"]]
    book = state.binance[q["symbol"]]
    end = int(q.get("endTime", now))
    if "startTime" in q:
        times = book.times(step, int(q["startTime"]) - state.overlap * step, end, now)[:limit]
    else:  # the most recent candles
        times = book.times(step, max(book.listed, now - step * limit), end, now)[-limit:]
    return 200, [book.row(t, step) for t in times]


def binance_exchange_info(state: FakeState) -> dict:
    # the fields ccxt 4.5's binance.parse_market reads; no recording of this endpoint is stored
    def sym(s: str, base: str, quote: str) -> dict:
        return {
            "symbol": s, "status": "TRADING", "baseAsset": base, "baseAssetPrecision": 8,
            "quoteAsset": quote, "quotePrecision": 8, "quoteAssetPrecision": 8,
            "baseCommissionPrecision": 8, "quoteCommissionPrecision": 8,
            "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
            "icebergAllowed": True, "ocoAllowed": True, "otoAllowed": True,
            "quoteOrderQtyMarketAllowed": True, "allowTrailingStop": True, "cancelReplaceAllowed": True,
            "isSpotTradingAllowed": True, "isMarginTradingAllowed": False,
            "filters": [
                {"filterType": "PRICE_FILTER", "minPrice": "0.01000000", "maxPrice": "1000000.00000000", "tickSize": "0.01000000"},
                {"filterType": "LOT_SIZE", "minQty": "0.00001000", "maxQty": "9000.00000000", "stepSize": "0.00001000"},
            ],
            "permissions": [], "permissionSets": [["SPOT"]],
            "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
            "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
        }

    names = {"BTCUSDT": ("BTC", "USDT"), "ETHUSDT": ("ETH", "USDT"), "ETHBTC": ("ETH", "BTC")}
    return {
        "timezone": "UTC", "serverTime": state.now(),
        "rateLimits": [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000}],
        "exchangeFilters": [],
        "symbols": [sym(s, *names[s]) for s in state.binance],
    }


# ---------------------------------------------------------------- Poloniex
def poloniex(state: FakeState, path: str, q: dict[str, str]) -> tuple[int, Any]:
    now = state.now()
    if path == "/markets":
        return 200, [{
            "symbol": s, "baseCurrencyName": s.split("_")[0], "quoteCurrencyName": s.split("_")[1],
            "displayName": s.replace("_", "/"), "state": "NORMAL",
            "visibleStartTime": 1659018816626, "tradableStartTime": 1659018816626,
            "symbolTradeLimit": {"symbol": s, "priceScale": 2, "quantityScale": 6, "amountScale": 2,
                                 "minQuantity": "0.000001", "minAmount": "1", "maxQuantity": "0", "maxAmount": "0",
                                 "highestBid": "0", "lowestAsk": "0"},
            "crossMargin": {"supportCrossMargin": False, "maxLeverage": 1},
        } for s in state.poloniex]
    if path == "/v3/market/allInstruments":
        return 200, {"code": "200", "msg": "Success", "data": []}
    if not (path.startswith("/markets/") and path.endswith("/candles")):
        return 404, {"fake": f"no route for {path}"}
    symbol = path.split("/")[2]
    if symbol not in state.poloniex:
        return 400, {"code": 24101, "message": "Invalid symbol!"}
    interval = q.get("interval", "")
    if interval not in POLONIEX_INTERVALS:
        return 400, {"code": 24102, "message": "Invalid interval!"}
    step = TF_MS[POLONIEX_INTERVALS[interval]]
    limit = int(q.get("limit", 100))
    if not 1 <= limit <= 500:
        return 400, {"code": 24103, "message": "Invalid limit!"}
    book = state.poloniex[symbol]
    start = int(q.get("startTime", now - step * limit))
    times = book.times(step, start, int(q.get("endTime", now)), now)[:limit]
    return 200, [book.row(t, step, interval=interval) for t in times]


# ---------------------------------------------------------------- Bithumb and Upbit (/v1)
def bithumb(state: FakeState, path: str, q: dict[str, str]) -> tuple[int, Any]:
    return _v1(state, state.bithumb, path, q)


def upbit(state: FakeState, path: str, q: dict[str, str]) -> tuple[int, Any]:
    return _v1(state, state.upbit, path, q)


def _v1(state: FakeState, markets: dict[str, Book], path: str, q: dict[str, str]) -> tuple[int, Any]:
    now = state.now()
    if path == "/v1/market/all":
        return 200, [{"market": m, "korean_name": m, "english_name": m.split("-")[1], "market_warning": "NONE"} for m in markets]
    if not path.startswith("/v1/candles/"):
        return 404, {"error": {"name": "404", "message": "Not found"}}
    market_id = q.get("market", "")
    if market_id not in markets:
        return 404, {"error": {"name": "404", "message": "Code not found"}}
    kind = path.split("/")[3]
    if kind == "minutes":
        unit = int(path.split("/")[4])
        step = unit * MIN
    elif kind == "days":
        unit, step = None, DAY_MS
    else:
        return 404, {"error": {"name": "404", "message": "Not found"}}
    count = int(q.get("count", 1))
    if not 1 <= count <= 200:
        return 400, {"error": {"name": 400, "message": "count must be between 1 and 200"}}
    to = _parse_to(q["to"]) if "to" in q else now + step
    book = markets[market_id]
    times = book.times(step, to - step * (count + len(book.missing)), to - 1, now)[-count:]
    return 200, [book.row(t, step, market=market_id, unit=unit) for t in reversed(times)]  # newest first


def _parse_to(text: str) -> int:
    text = text.replace(" ", "T")
    if text.endswith("Z"):
        dt = datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)
    elif "+" in text[10:]:
        dt = datetime.fromisoformat(text)
    else:  # Bithumb reads a bare time as KST
        dt = datetime.fromisoformat(text).replace(tzinfo=UTC)
        return int(dt.timestamp() * 1000) - 9 * 3_600_000
    return int(dt.timestamp() * 1000)


# ---------------------------------------------------------------- Kraken
def kraken(state: FakeState, path: str, q: dict[str, str]) -> tuple[int, Any]:
    now = state.now()
    if path == "/0/public/AssetPairs":
        return 200, {"error": [], "result": {pair: _kraken_pair(pair, base, quote) for pair, (_, base, quote) in state.kraken.items()}}
    if path != "/0/public/OHLC":
        return 404, {"error": ["EGeneral:Unknown method"]}
    if q.get("pair") not in state.kraken:
        return 200, {"error": ["EQuery:Unknown asset pair"]}
    try:
        minutes = int(q.get("interval", "1"))
    except ValueError:
        minutes = -1
    if minutes not in KRAKEN_INTERVALS:
        return 200, {"error": ["EGeneral:Invalid arguments"]}
    step = minutes * MIN
    book = state.kraken[q["pair"]][0]
    kept_from = (now // step) * step - (KRAKEN_KEEPS - 1) * step
    after = int(q["since"]) * 1000 + 1 if "since" in q else 0
    times = book.times(step, max(after, kept_from), now, now)
    rows = [book.row(t, step) for t in times]
    committed = [t for t in times if t + step <= now]
    # the recorded body sends "last" as a string of seconds: the newest committed candle
    last = str((committed[-1] if committed else kept_from - step) // 1000)
    return 200, {"error": [], "result": {q["pair"]: rows, "last": last}}


def _kraken_pair(pair: str, base: str, quote: str) -> dict:
    # the fields ccxt 4.5's kraken.fetch_markets reads; no recording of this endpoint is stored
    alt = {"XXBT": "XBT", "XETH": "ETH"}.get(base, base) + {"ZUSD": "USD"}.get(quote, quote)
    return {"altname": alt, "wsname": alt[:3] + "/" + alt[3:], "aclass_base": "currency", "base": base,
            "aclass_quote": "currency", "quote": quote, "lot": "unit", "cost_decimals": 5, "pair_decimals": 1,
            "lot_decimals": 8, "lot_multiplier": 1, "leverage_buy": [], "leverage_sell": [],
            "fees": [[0, 0.26]], "fees_maker": [[0, 0.16]], "fee_volume_currency": "ZUSD",
            "margin_call": 80, "margin_stop": 40, "ordermin": "0.00005", "costmin": "0.5",
            "tick_size": "0.1", "status": "online"}


# ---------------------------------------------------------------- Coinbase Exchange
def coinbaseexchange(state: FakeState, path: str, q: dict[str, str]) -> tuple[int, Any]:
    now = state.now()
    if path == "/products":
        return 200, [_coinbase_product(p) for p in state.coinbase]
    parts = path.strip("/").split("/")
    if len(parts) != 3 or parts[0] != "products" or parts[2] != "candles":
        return 404, {"message": "NotFound"}
    if parts[1] not in state.coinbase:
        return 404, {"message": "NotFound"}
    granularity = int(q.get("granularity", "0") or 0)
    if granularity not in COINBASE_GRANULARITIES:
        return 400, {"message": "Unsupported granularity"}
    step = granularity * 1000
    if "start" in q and "end" in q:
        start, end = _iso_ms(q["start"]), _iso_ms(q["end"])
        if (end - start) / step > COINBASE_MAX:
            return 400, {"message": "granularity too small for the requested time range. Count of aggregations requested exceeds 300"}
    else:  # no range: one ending now
        end = now
        start = (now // step) * step - (COINBASE_MAX - 1) * step
    book = state.coinbase[parts[1]]
    times = book.times(step, start, end, now)
    return 200, [book.row(t, step) for t in reversed(times)]  # newest first


def _coinbase_product(pid: str) -> dict:
    # the fields ccxt 4.5's coinbaseexchange.fetch_markets reads; no recording of this endpoint is stored
    base, quote = pid.split("-")
    return {"id": pid, "base_currency": base, "quote_currency": quote, "base_min_size": "0.000016",
            "base_max_size": "1500", "quote_increment": "0.01", "base_increment": "0.00000001",
            "display_name": f"{base}/{quote}", "min_market_funds": "1", "max_market_funds": "20000000",
            "margin_enabled": False, "fx_stablecoin": False, "max_slippage_percentage": "0.02000000",
            "post_only": False, "limit_only": False, "cancel_only": False, "trading_disabled": False,
            "status": "online", "status_message": "", "auction_mode": False}


def _iso_ms(text: str) -> int:
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


# ---------------------------------------------------------------- Yahoo chart
def yahoo(state: FakeState, path: str, q: dict[str, str]) -> tuple[int, Any]:
    if not path.startswith("/v8/finance/chart/"):
        return 404, {"fake": f"no route for {path}"}
    symbol = path.rsplit("/", 1)[1]
    recorded = state.rec.yahoo.get(symbol)
    if recorded is None or symbol in state.yahoo_missing:
        return 404, {"chart": {"result": None, "error": {"code": "Not Found", "description": "No data found, symbol may be delisted"}}}
    interval = q.get("interval", "1d")
    p1, p2 = int(q["period1"]), int(q["period2"])
    if interval == "1d":
        return 200, _chart(recorded, interval, _daily_bars(recorded, p1, p2), state.yahoo_nulls)
    if interval not in YAHOO_INTRADAY:
        return 422, {"chart": {"result": None, "error": {"code": "Unprocessable Entity",
                                                           "description": f"fake serves 1d and intraday, not {interval}"}}}
    span_days, keep_days = YAHOO_LIMITS[interval]
    now_s = state.now() // 1000
    prefix = f"{interval} data not available for startTime={p1} and endTime={p2}."
    if span_days is not None and p2 - p1 > span_days * 86400:
        desc = f"{prefix} Only {span_days} days worth of {interval} granularity data are allowed to be fetched per request."
        return 422, {"chart": {"result": None, "error": {"code": "Unprocessable Entity", "description": desc}}}
    if p1 < now_s - keep_days * 86400:
        desc = f"{prefix} The requested range must be within the last {keep_days} days."
        return 422, {"chart": {"result": None, "error": {"code": "Unprocessable Entity", "description": desc}}}
    bars = _intraday_bars(recorded, YAHOO_INTRADAY[interval] * 60, p1, min(p2, now_s))
    return 200, _chart(recorded, interval, bars, state.yahoo_nulls)


def _daily_bars(recorded: dict, p1: int, p2: int) -> list[tuple[int, dict[str, Any]]]:
    quote = recorded["indicators"]["quote"][0]
    adj = recorded["indicators"].get("adjclose", [{}])[0].get("adjclose")
    out = []
    for i, ts in enumerate(recorded["timestamp"]):
        if p1 <= ts < p2:
            values = {k: quote[k][i] for k in quote}
            if adj is not None:
                values["adjclose"] = adj[i]
            out.append((ts, values))
    return out


def _intraday_bars(recorded: dict, step_s: int, p1: int, p2: int) -> list[tuple[int, dict[str, Any]]]:
    """Bars in the session (09:30-16:00 exchange time on weekdays; all day for crypto), each a
    recorded daily bar (cycling) scaled like the exchanges' generated rows, values as recorded."""
    meta = recorded["meta"]
    tz = ZoneInfo(meta["exchangeTimezoneName"])
    always_open = meta.get("instrumentType") == "CRYPTOCURRENCY"
    quote = recorded["indicators"]["quote"][0]
    n = len(recorded["timestamp"])
    out = []
    day = datetime.fromtimestamp(p1, tz).date()
    while datetime.combine(day, datetime.min.time(), tz).timestamp() < p2:
        if always_open:
            open_s = int(datetime.combine(day, datetime.min.time(), tz).timestamp())
            close_s = open_s + 86400
        elif day.weekday() < 5:
            open_s = int(datetime.combine(day, datetime.min.time(), tz).replace(hour=9, minute=30).timestamp())
            close_s = int(datetime.combine(day, datetime.min.time(), tz).replace(hour=16).timestamp())
        else:
            open_s = close_s = 0
        for ts in range(open_s, close_s, step_s):
            if p1 <= ts < p2:
                k = (ts // step_s) % n
                f = factor(ts * 1000)
                values = {key: (None if quote[key][k] is None else
                                like(quote[key][k], quote[key][k] * (1 if key == "volume" else f))) for key in quote}
                out.append((ts, values))
        day += timedelta(days=1)
    return out


def _chart(recorded: dict, interval: str, bars: list[tuple[int, dict[str, Any]]], nulls: set[int]) -> dict:
    meta = copy.deepcopy(recorded["meta"])
    meta["dataGranularity"] = interval
    result: dict[str, Any] = {"meta": meta}
    keys = list(recorded["indicators"]["quote"][0])  # the recorded key order
    if bars:
        result["timestamp"] = [ts for ts, _ in bars]
        events = recorded.get("events")
        if events:  # only the events inside the range, as Yahoo does
            kept = {kind: {k: v for k, v in items.items() if result["timestamp"][0] <= int(k) <= result["timestamp"][-1]}
                    for kind, items in events.items()}
            kept = {kind: items for kind, items in kept.items() if items}
            if kept:
                result["events"] = kept
        quote = {k: [None if ts in nulls else v[k] for ts, v in bars] for k in keys}
        result["indicators"] = {"quote": [quote]}
        if "adjclose" in recorded["indicators"] and interval == "1d":  # not known for intraday: left out
            result["indicators"]["adjclose"] = [{"adjclose": [None if ts in nulls else v.get("adjclose") for ts, v in bars]}]
    else:
        result["indicators"] = {"quote": [{}], "adjclose": [{}]}
    return {"chart": {"result": [result], "error": None}}


ROUTES = {"binance": binance, "poloniex": poloniex, "bithumb": bithumb, "upbit": upbit, "kraken": kraken,
          "coinbaseexchange": coinbaseexchange, "yahoo": yahoo}


class FakeServer:
    """``FakeServer(Recordings.read()).start()``; ``url(source)`` is that source's base URL."""

    def __init__(self, rec: Recordings) -> None:
        self.state = FakeState(rec)
        handler = type("BoundHandler", (Handler,), {"state": self.state})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.root = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def url(self, source: str) -> str:
        return f"{self.root}/{source}"

    def start(self) -> FakeServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.state.stopped.set()
        self.httpd.shutdown()
        self.httpd.server_close()
