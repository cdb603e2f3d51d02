"""A fake market-data server on 127.0.0.1 that answers in each source's real wire format.

Formats follow the sources' documentation and the parsers in ccxt 4.5 (``ccxt/binance.py``
``parse_ohlcv``/``fetch_markets``, ``ccxt/poloniex.py``, ``ccxt/bithumb.py`` generation 2,
``ccxt/upbit.py``) and Yahoo's ``v8/finance/chart``:

* Binance ``/api/v3/exchangeInfo`` and ``/api/v3/klines`` (ms open time, prices as strings,
  12 fields, ascending, ``limit`` default 500 max 1000, ``{"code":-1121,"msg":"Invalid symbol."}``).
* Poloniex ``/markets`` and ``/markets/{symbol}/candles`` (14 fields: low, high, open, close,
  amount, quantity, ..., interval, startTime ms, closeTime ms; limit default 100 max 500),
  ``/v3/market/allInstruments`` (swap list, empty here).
* Bithumb ``/v1/market/all`` and ``/v1/candles/minutes/{unit}`` / ``/v1/candles/days``
  (objects with numbers, newest first, candles strictly before ``to``, ``count`` max 200).
* Upbit ``/v1/market/all``, ``/v1/candles/minutes/{unit}`` (same shape as Bithumb gen 2).
* Yahoo ``/v8/finance/chart/{symbol}`` (seconds, ``indicators.quote[0]`` with nulls, 404
  ``chart.error`` for unknown symbols).

Faults are injected per path prefix: status + headers + body, a delay (for timeouts) or raw text.
Every request is recorded as (path, query dict) for assertions.
"""
from __future__ import annotations

import json
import math
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

MIN = 60_000
TF_MS = {"1m": MIN, "3m": 3 * MIN, "5m": 5 * MIN, "15m": 15 * MIN, "30m": 30 * MIN, "1h": 60 * MIN,
         "2h": 120 * MIN, "4h": 240 * MIN, "1d": 1440 * MIN}
BINANCE_INTERVALS = {"1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w", "1M"}
POLONIEX_INTERVALS = {"MINUTE_1": "1m", "MINUTE_5": "5m", "MINUTE_15": "15m", "MINUTE_30": "30m",
                      "HOUR_1": "1h", "HOUR_2": "2h", "HOUR_4": "4h", "DAY_1": "1d"}


def price_at(t_ms: int) -> float:
    """A deterministic, always positive price path."""
    x = t_ms / 3_600_000
    return 100.0 + 10.0 * math.sin(x / 24.0) + 0.01 * (x % 1000)


def ohlcv(t_ms: int, step: int) -> tuple[float, float, float, float, float]:
    o = price_at(t_ms)
    c = price_at(t_ms + step)
    return o, max(o, c) * 1.001, min(o, c) * 0.999, c, 1.0 + (t_ms // step) % 7


@dataclass
class Fault:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    delay: float = 0.0


@dataclass
class Market:
    """Which candles exist: from ``listed`` (ms) on, except times in ``missing``."""

    listed: int = 0
    missing: set[int] = field(default_factory=set)


class FakeState:
    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.faults: list[tuple[str, Fault]] = []
        self.lock = threading.Lock()
        # symbols per source; times before `listed` have no candles
        self.binance = {"BTCUSDT": Market(), "ETHUSDT": Market(), "ETHBTC": Market()}
        self.poloniex = {"BTC_USDT": Market(), "ETH_USDT": Market()}
        self.bithumb = {"KRW-BTC": Market(), "KRW-ETH": Market()}
        self.upbit = {"KRW-BTC": Market()}
        self.yahoo = {"TSLA": Market(), "AAPL": Market()}
        self.overlap = 0  # binance: also return this many candles before startTime (page edge duplicates)

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

    def paths(self, prefix: str) -> list[dict[str, str]]:
        return [q for p, q in self.requests if p.startswith(prefix)]


def _times(market: Market, step: int, start: int, end: int, now: int) -> list[int]:
    """Candle open times in [start, end], existing, not after the still-forming candle."""
    first = max(start, market.listed)
    first = ((first + step - 1) // step) * step
    last = min(end, (now // step) * step)
    return [t for t in range(first, last + 1, step) if t not in market.missing]


def binance_exchange_info(state: FakeState) -> dict:
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
        "timezone": "UTC", "serverTime": int(time.time() * 1000),
        "rateLimits": [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000}],
        "exchangeFilters": [],
        "symbols": [sym(s, *names[s]) for s in state.binance],
    }


class Handler(BaseHTTPRequestHandler):
    state: FakeState  # set on the subclass made per server

    def log_message(self, *args: Any) -> None:  # keep pytest output clean
        pass

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
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
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout tests)

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self.state.requests.append((path, query))
        fault = self.state.take_fault(path)
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
            if fault.body is not None or fault.status != 200:
                self._send(fault.status, fault.body if fault.body is not None else {}, fault.headers)
                return
        try:
            status, body = route(self.state, path, query)
        except Exception as exc:  # noqa: BLE001 - a bug in the fake should be visible
            status, body = 500, {"fake_error": repr(exc)}
        self._send(status, body)


def route(state: FakeState, path: str, q: dict[str, str]) -> tuple[int, Any]:
    now = int(time.time() * 1000)
    # ---- Binance spot
    if path == "/api/v3/exchangeInfo":
        return 200, binance_exchange_info(state)
    if path == "/api/v3/klines":
        if q.get("symbol") not in state.binance:
            return 400, {"code": -1121, "msg": "Invalid symbol."}
        if q.get("interval") not in BINANCE_INTERVALS or q.get("interval") not in TF_MS:
            return 400, {"code": -1120, "msg": "Invalid interval."}
        limit = int(q.get("limit", 500))
        if not 1 <= limit <= 1000:
            return 400, {"code": -1130, "msg": "Data sent for parameter 'limit' is not valid."}
        step = TF_MS[q["interval"]]
        market = state.binance[q["symbol"]]
        start = int(q["startTime"]) - state.overlap * step if "startTime" in q else None
        end = int(q.get("endTime", now))
        if start is None:  # most recent candles
            times = _times(market, step, 0 if market.listed else now - step * limit, end, now)[-limit:]
        else:
            times = _times(market, step, start, end, now)[:limit]
        out = []
        for t in times:
            o, h, l, c, v = ohlcv(t, step)
            out.append([t, f"{o:.8f}", f"{h:.8f}", f"{l:.8f}", f"{c:.8f}", f"{v:.8f}", t + step - 1,
                        f"{v * c:.8f}", 42, f"{v / 2:.8f}", f"{v * c / 2:.8f}", "0"])
        return 200, out
    # ---- Poloniex spot
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
    if path.startswith("/markets/") and path.endswith("/candles"):
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
        start = int(q.get("startTime", now - step * limit))
        end = int(q.get("endTime", now))
        times = _times(state.poloniex[symbol], step, start, end, now)[:limit]
        out = []
        for t in times:
            o, h, l, c, v = ohlcv(t, step)
            out.append([f"{l:.2f}", f"{h:.2f}", f"{o:.2f}", f"{c:.2f}", f"{v * c:.8f}", f"{v:.6f}",
                        f"{v * c / 2:.8f}", f"{v / 2:.6f}", 17, now, f"{(o + c) / 2:.4f}", interval, t, t + step - 1])
        return 200, out
    # ---- Bithumb (generation 2) and Upbit share one shape
    if path == "/v1/market/all":
        markets = state.bithumb if q.get("isDetails") is not None else state.upbit
        return 200, [{"market": m, "korean_name": m, "english_name": m.split("-")[1], "market_warning": "NONE"} for m in markets]
    if path.startswith("/v1/candles/"):
        markets = state.bithumb if state.bithumb_mode else state.upbit
        market_id = q.get("market", "")
        if market_id not in markets:
            return 404, {"error": {"name": "404", "message": "Code not found"}}
        kind = path.split("/")[3]
        if kind == "minutes":
            unit = int(path.split("/")[4])
            step = unit * MIN
        elif kind == "days":
            unit, step = None, 1440 * MIN
        else:
            return 404, {"error": {"name": "404", "message": "Not found"}}
        count = int(q.get("count", 1))
        if not 1 <= count <= 200:
            return 400, {"error": {"name": 400, "message": "count must be between 1 and 200"}}
        to = _parse_to(q["to"]) if "to" in q else now + step
        times = _times(markets[market_id], step, 0, to - 1, now)[-count:]
        out = []
        for t in reversed(times):  # newest first
            o, h, l, c, v = ohlcv(t, step)
            utc = datetime.fromtimestamp(t / 1000, timezone.utc)
            kst = datetime.fromtimestamp(t / 1000 + 9 * 3600, timezone.utc)
            item = {"market": market_id, "candle_date_time_utc": utc.strftime("%Y-%m-%dT%H:%M:%S"),
                    "candle_date_time_kst": kst.strftime("%Y-%m-%dT%H:%M:%S"),
                    "opening_price": round(o, 2), "high_price": round(h, 2), "low_price": round(l, 2),
                    "trade_price": round(c, 2), "timestamp": t + step - 1234,
                    "candle_acc_trade_price": round(v * c, 4), "candle_acc_trade_volume": v}
            if unit is not None:
                item["unit"] = unit
            else:
                item.update({"prev_closing_price": round(o, 2), "change_price": round(c - o, 2),
                             "change_rate": round((c - o) / o, 6)})
            out.append(item)
        return 200, out
    # ---- Yahoo chart
    if path.startswith("/v8/finance/chart/"):
        return yahoo_chart(state, path.rsplit("/", 1)[1], q, now)
    return 404, {"fake": f"no route for {path}"}


def _parse_to(text: str) -> int:
    text = text.replace(" ", "T")
    if text.endswith("Z"):
        dt = datetime.fromisoformat(text[:-1]).replace(tzinfo=timezone.utc)
    elif "+" in text[10:]:
        dt = datetime.fromisoformat(text)
    else:  # Bithumb reads a bare time as KST
        dt = datetime.fromisoformat(text).replace(tzinfo=timezone.utc)
        return int(dt.timestamp() * 1000) - 9 * 3_600_000
    return int(dt.timestamp() * 1000)


def yahoo_chart(state: FakeState, symbol: str, q: dict[str, str], now: int) -> tuple[int, Any]:
    if symbol not in state.yahoo:
        return 404, {"chart": {"result": None, "error": {"code": "Not Found", "description": "No data found, symbol may be delisted"}}}
    interval = q.get("interval", "1d")
    if interval != "1d":
        return 422, {"chart": {"result": None, "error": {"code": "Unprocessable Entity", "description": f"fake serves 1d only, not {interval}"}}}
    p1, p2 = int(q["period1"]) * 1000, int(q["period2"]) * 1000
    day = 1440 * MIN
    stamps, opens, highs, lows, closes, vols = [], [], [], [], [], []
    t = (p1 // day) * day
    while t < min(p2, now):
        d = datetime.fromtimestamp(t / 1000, timezone.utc)
        if d.weekday() < 5 and t not in state.yahoo[symbol].missing and t >= state.yahoo[symbol].listed:
            session_open = t + (13 * 60 + 30) * MIN  # 09:30 New York (EDT) in UTC
            if p1 <= session_open < p2:
                o, h, l, c, v = ohlcv(t, day)
                stamps.append(session_open // 1000)
                opens.append(round(o, 4)); highs.append(round(h, 4)); lows.append(round(l, 4)); closes.append(round(c, 4))
                vols.append(int(v * 1_000_000))
        t += day
    if len(stamps) > 3:  # Yahoo sometimes has a row with nulls
        opens[2] = highs[2] = lows[2] = closes[2] = vols[2] = None
    meta = {"currency": "USD", "symbol": symbol, "exchangeName": "NMS", "fullExchangeName": "NasdaqGS",
            "instrumentType": "EQUITY", "firstTradeDate": 1277818200, "regularMarketTime": now // 1000,
            "hasPrePostMarketData": True, "gmtoffset": -14400, "timezone": "EDT",
            "exchangeTimezoneName": "America/New_York", "regularMarketPrice": closes[-1] if closes else None,
            "chartPreviousClose": opens[0] if opens else None, "priceHint": 2,
            "dataGranularity": "1d", "range": "",
            "validRanges": ["1d", "5d", "1mo", "3mo", "6mo", "1y", "2y", "5y", "10y", "ytd", "max"]}
    result: dict[str, Any] = {"meta": meta}
    if stamps:
        result["timestamp"] = stamps
        result["indicators"] = {"quote": [{"open": opens, "high": highs, "low": lows, "close": closes, "volume": vols}],
                                "adjclose": [{"adjclose": closes}]}
    else:
        result["indicators"] = {"quote": [{}], "adjclose": [{}]}
    return 200, {"chart": {"result": [result], "error": None}}


class FakeServer:
    """Start with ``FakeServer().start()``; ``url`` is ``http://127.0.0.1:<port>``."""

    def __init__(self) -> None:
        self.state = FakeState()
        self.state.bithumb_mode = True  # /v1/candles answers for bithumb unless a test says upbit
        handler = type("BoundHandler", (Handler,), {"state": self.state})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def start(self) -> "FakeServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
