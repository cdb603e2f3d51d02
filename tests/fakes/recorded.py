"""The exchanges' recorded real responses, and more rows built in exactly their shape.

The recordings live in ``../shared/data/api-samples/`` (see its SOURCES.md): ccxt's own test
fixtures (``httpResponse``: the body the exchange sent; ``parsedResponse``: what ccxt's
``fetch_ohlcv`` returned; ``input``/``_request``: what was asked) and Yahoo chart responses.
They are read at test time, never copied into the repository.

A :class:`Book` holds one recorded market: its rows by candle open time, verbatim. Times the
recording does not cover get a generated row: a recorded row (cycling through them) with its
time fields moved and its prices scaled by a smooth factor, each value written with the type and
number of decimals of the recorded value in the same field (``"43519.34000000"`` stays a string
with 8 decimals, Kraken's seconds stay seconds, Coinbase's numbers stay numbers). So paging is
tested on the wire formats the exchanges really send, field order included:

* Binance ``/api/v3/klines``: ``[open ms, o, h, l, c, v, close ms, quote vol, trades, ...]``
* Poloniex ``/markets/{symbol}/candles``: ``[low, high, open, close, amount, quantity, ...,
  ts, weightedAverage, interval, startTime, closeTime]``
* Upbit ``/v1/candles/minutes/{unit}``: objects, newest first, candle start in
  ``candle_date_time_utc``; Bithumb's current API (``/v1/candles/...``) answers the same
  objects. Bithumb's recorded row is the legacy ``[ms, open, CLOSE, HIGH, LOW, volume]``.
* Kraken ``/0/public/OHLC``: ``[seconds, o, h, l, c, vwap, volume, count]`` under the pair id.
* Coinbase Exchange ``/products/{id}/candles``: ``[seconds, LOW, HIGH, OPEN, CLOSE, volume]``.
"""
from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "api-samples"
HOUR_MS = 3_600_000


def load(name: str) -> dict:
    """One recorded sample (``ccxt_kraken_fetchOHLCV.json``...); the caller checks the folder exists."""
    return json.loads((SAMPLES / name).read_text(encoding="utf-8"))


def factor(t_ms: int) -> float:
    """A smooth, always positive price multiplier for generated rows (1 nowhere in particular)."""
    hours = t_ms / HOUR_MS
    return 1.0 + 0.03 * math.sin(hours / 37.0) + 0.01 * math.sin(hours / 5.3)


def like(template: Any, value: float) -> Any:
    """``value`` written the way ``template`` is: a string with as many decimals, an int, a float."""
    if isinstance(template, str):
        decimals = len(template.split(".", 1)[1]) if "." in template else 0
        return f"{value:.{decimals}f}"
    if isinstance(template, int):
        return round(value)
    text = repr(template)
    decimals = len(text.split(".", 1)[1]) if "." in text and "e" not in text else 8
    return round(value, decimals)


def iso_utc(t_ms: int) -> str:
    return datetime.fromtimestamp(t_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S")


@dataclass
class Book:
    """One market as an exchange would serve it: recorded rows at their times, generated elsewhere.

    ``recorded`` maps candle open time (ms) to the recorded wire row for candles of ``step`` ms;
    ``make(template, t_ms, step_ms, scale, **extra)`` builds a wire row for another time from a recorded
    row. ``listed``: no candles before this time; ``missing``: open times without a candle.
    """

    recorded: dict[int, Any]
    step: int
    make: Callable[[Any, int, int, float], Any]
    listed: int = 0
    missing: set[int] = field(default_factory=set)
    verbatim: bool = True  # False: another market, built from these rows but never equal to them

    def like_this(self) -> Book:
        """A book for another market of the same exchange: same row shapes, generated rows only."""
        return Book(self.recorded, self.step, self.make, verbatim=False)

    def row(self, t_ms: int, step_ms: int, **extra: Any) -> Any:
        """The wire row of the candle opening at ``t_ms`` (``extra``: market, unit, interval)."""
        if self.verbatim and step_ms == self.step and t_ms in self.recorded:
            return self.recorded[t_ms]
        templates = list(self.recorded.values())
        template = templates[(t_ms // step_ms) % len(templates)]
        scale = factor(t_ms) * (1.0 if self.verbatim else 0.5)
        return self.make(template, t_ms, step_ms, scale, **extra)

    def times(self, step_ms: int, start: int, end: int, now: int) -> list[int]:
        """Open times in [start, end] that have a candle, up to the still-forming one (inclusive)."""
        first = max(start, self.listed)
        first = -(-first // step_ms) * step_ms
        last = min(end, (now // step_ms) * step_ms)
        return [t for t in range(first, last + 1, step_ms) if t not in self.missing]


# ---- Binance: [open ms, "o", "h", "l", "c", "v", close ms, "quote vol", trades, "taker base", "taker quote", "0"]
def binance_row(r: list, t: int, step: int, f: float, **_: Any) -> list:
    return [t, *(like(v, float(v) * f) for v in r[1:5]), r[5], t + step - 1, *r[7:]]


# ---- Poloniex: ["low", "high", "open", "close", "amount", "quantity", "buyTakerAmount",
#      "buyTakerQuantity", tradeCount, ts ms, "weightedAverage", "HOUR_1", startTime ms, closeTime ms]
def poloniex_row(r: list, t: int, step: int, f: float, interval: str = "") -> list:
    ts = t + (r[9] - r[12])  # the recorded ts lies this far after the candle start
    return [*(like(v, float(v) * f) for v in r[0:4]), *r[4:9], ts, like(r[10], float(r[10]) * f),
            interval or r[11], t, t + step - 1]


# ---- Upbit (and Bithumb's /v1/candles): objects keyed as recorded, prices as strings
PRICE_KEYS = ("opening_price", "high_price", "low_price", "trade_price")


def upbit_row(r: dict, t: int, step: int, f: float, market: str = "", unit: int | None = None) -> dict:
    out = dict(r)
    out["market"] = market or r["market"]
    out["candle_date_time_utc"] = iso_utc(t)
    out["candle_date_time_kst"] = iso_utc(t + 9 * HOUR_MS)
    for k in PRICE_KEYS:
        out[k] = like(r[k], float(r[k]) * f)
    start = int(datetime.fromisoformat(r["candle_date_time_utc"] + "+00:00").timestamp() * 1000)
    out["timestamp"] = like(r["timestamp"], t + (int(r["timestamp"]) - start))  # last trade, not start
    if unit is None:
        out.pop("unit", None)
    else:
        out["unit"] = like(r["unit"], unit)
    return out


def bithumb_legacy_as_object(r: list) -> dict:
    """Bithumb's recorded legacy row ``[ms, open, CLOSE, HIGH, LOW, volume]`` as the prices of an
    object in the current ``/v1/candles`` layout (keys from the recorded Upbit row)."""
    return {"opening_price": r[1], "high_price": r[3], "low_price": r[4], "trade_price": r[2],
            "candle_acc_trade_volume": r[5]}


# ---- Kraken: [seconds, "o", "h", "l", "c", "vwap", "volume", count]
def kraken_row(r: list, t: int, step: int, f: float, **_: Any) -> list:
    return [t // 1000, *(like(v, float(v) * f) for v in r[1:6]), r[6], r[7]]


# ---- Coinbase Exchange: [seconds, low, high, open, close, volume] as JSON numbers
def coinbase_row(r: list, t: int, step: int, f: float, **_: Any) -> list:
    return [t // 1000, *(like(v, v * f) for v in r[1:5]), r[5]]


@dataclass
class Recordings:
    """Every sample the fake replays, parsed once per server."""

    binance: dict
    poloniex: dict
    bithumb: dict
    upbit: dict
    kraken: dict
    coinbase: dict
    yahoo: dict[str, dict]  # symbol -> chart.result[0] (daily)

    @classmethod
    def read(cls) -> Recordings:
        yahoo = {}
        for name, symbol in (("yahoo_chart_TSLA_1d_2010_2023.json", "TSLA"), ("yahoo_chart_AAPL_1d_2020.json", "AAPL"),
                             ("yahoo_chart_BTC-USD_1d_2020.json", "BTC-USD")):
            yahoo[symbol] = load(name)["response"]["bodyJson"]["chart"]["result"][0]
        return cls(
            binance=load("ccxt_binance_fetchOHLCV.json"),
            poloniex=load("ccxt_poloniex_fetchOHLCV.json"),
            bithumb=load("ccxt_bithumb_fetchOHLCV.json"),
            upbit=load("ccxt_upbit_fetchOHLCV.json"),
            kraken=load("ccxt_kraken_fetchOHLCV.json"),
            coinbase=load("ccxt_coinbaseexchange_fetchOHLCV.json"),
            yahoo=yahoo,
        )

    # Each book below is the recorded market at its recorded timeframe (all are hourly).
    def binance_book(self) -> Book:
        rows = self.binance["httpResponse"]
        return Book({r[0]: r for r in rows}, HOUR_MS, binance_row)

    def poloniex_book(self) -> Book:
        rows = self.poloniex["httpResponse"]
        return Book({r[12]: r for r in rows}, HOUR_MS, poloniex_row)

    def upbit_book(self) -> Book:
        rows = self.upbit["httpResponse"]
        return Book({_utc_ms(r["candle_date_time_utc"]): r for r in rows}, HOUR_MS, upbit_row)

    def bithumb_book(self) -> Book:
        """Bithumb's recorded prices (KRW, legacy order read correctly) in the /v1/candles objects."""
        template = self.upbit["httpResponse"][0]
        rows = {}
        for r in self.bithumb["httpResponse"]["data"]:
            obj = {**template, **bithumb_legacy_as_object(r), "market": "KRW-BTC"}
            obj["candle_date_time_utc"] = iso_utc(r[0])
            obj["candle_date_time_kst"] = iso_utc(r[0] + 9 * HOUR_MS)
            obj["timestamp"] = str(r[0] + 59_000)
            obj["unit"] = "1"
            rows[r[0]] = obj
        return Book(rows, 60_000, upbit_row)

    def kraken_book(self) -> Book:
        pair = self.kraken_pair()
        rows = self.kraken["httpResponse"]["result"][pair]
        return Book({r[0] * 1000: r for r in rows}, HOUR_MS, kraken_row)

    def kraken_pair(self) -> str:
        return next(k for k in self.kraken["httpResponse"]["result"] if k != "last")

    def coinbase_book(self) -> Book:
        rows = self.coinbase["httpResponse"]
        return Book({r[0] * 1000: r for r in rows}, HOUR_MS, coinbase_row)


def _utc_ms(text: str) -> int:
    return int(datetime.fromisoformat(text + "+00:00").timestamp() * 1000)
