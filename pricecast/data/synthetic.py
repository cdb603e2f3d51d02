"""A signal sandbox: candles made up in-process from a recipe, never a market.

``synthetic:pattern?noise=0.5&seed=3`` names a series built from a few knobs (the rest at their
defaults; ``,`` may separate them as well as ``&``, handy in a hand-typed link where ``&`` would end
the ``data=`` parameter). The log price is the sum of

- a trend (``trend``, % per year), reversed at each of ``regimes`` random switch times;
- a daily and a weekly cycle on the clock (``daily``, ``weekly``: amplitude in % of the price);
- random shocks (``noise``: their standard deviation per candle, % of the price), which are the
  returns' unpredictable part, made autocorrelated by ``ar`` (each shock's return carries ``ar``
  times the previous one: momentum above 0, mean reversion below) and scaled x0.4 .. x2.5 in each
  regime.

The default is a clear daily cycle under little noise: a small network beats "no change" easily.
Raising ``noise`` buries the cycle until the series behaves like real prices (a random walk), and
skill falls to zero. The same ref gives the same candles on every machine (a seeded NumPy
generator), so runs, links and YAML files made on synthetic data reproduce.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pricecast.data.candles import CandleError, validate_candles

PREFIX = "synthetic:"
GENERATORS: tuple[str, ...] = ("pattern",)
TIMEFRAMES: dict[str, float] = {"5m": 5 / 60, "15m": 0.25, "1h": 1.0, "4h": 4.0, "1d": 24.0}  # hours per candle
START = pd.Timestamp("2020-01-01", tz="UTC")
LABEL = "synthetic"  # how every place that shows such a series says what it is


class SyntheticError(CandleError):
    """A synthetic data reference that cannot be built, naming the knob to change."""


@dataclass(frozen=True)
class Knob:
    """One setting of the recipe: its default, limits and what it does (shown as help and in errors)."""

    name: str
    default: float | int | str
    help: str
    lo: float = 0.0
    hi: float = 0.0
    choices: tuple[str, ...] = ()
    step: float = 0.0  # the Data page slider's step

    @property
    def is_int(self) -> bool:
        return isinstance(self.default, int)

    def parse(self, text: str) -> float | int | str:
        text = text.strip()
        if self.choices:
            if text not in self.choices:
                raise SyntheticError(f"synthetic data: {self.name} must be one of {', '.join(self.choices)} "
                                     f"(got '{text[:40]}')")
            return text
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        whole = math.isfinite(value) and (not self.is_int or value == int(value))
        if not whole or not self.lo <= value <= self.hi:
            kind = "a whole number" if self.is_int else "a number"
            raise SyntheticError(f"synthetic data: {self.name} must be {kind} from {_num(self.lo)} to "
                                 f"{_num(self.hi)} (got '{text[:40]}'): {self.help}")
        return int(value) if self.is_int else value


KNOBS: dict[str, Knob] = {k.name: k for k in (
    Knob("noise", 0.05, "random shocks per candle, % of the price (their standard deviation)", 0.0, 3.0, step=0.05),
    Knob("daily", 1.0, "daily cycle, % of the price (its amplitude; intraday timeframes only)", 0.0, 10.0, step=0.1),
    Knob("weekly", 0.0, "weekly cycle, % of the price (its amplitude)", 0.0, 10.0, step=0.1),
    Knob("trend", 0.0, "drift, % per year", -200.0, 200.0, step=5.0),
    Knob("ar", 0.0, "autocorrelation of the shocks' returns: above 0 moves continue, below 0 they reverse",
         -0.9, 0.9, step=0.05),
    Knob("regimes", 0, "regime switches: times at which the trend reverses and the shocks change size", 0, 50,
         step=1),
    Knob("length", 3000, "candles", 200, 50_000, step=100),
    Knob("timeframe", "1h", "time between candles", choices=tuple(TIMEFRAMES)),
    Knob("seed", 1, "random seed: the same seed gives the same series", 0, 2**31 - 1, step=1),
)}


@dataclass(frozen=True)
class Recipe:
    """A parsed ``synthetic:`` reference: the generator and every knob's value."""

    generator: str
    values: dict

    @property
    def ref(self) -> str:
        return synthetic_ref(self.values, self.generator)

    def lines(self) -> list[str]:
        """The recipe in words, one line per ingredient (the Data page and ``data show``)."""
        v = self.values
        hours = TIMEFRAMES[v["timeframe"]]
        out = [f"{LABEL} data made up by pricecast (not a market): {v['length']:,} {v['timeframe']} candles "
               f"from {START:%Y-%m-%d}, seed {v['seed']}"]
        if v["trend"]:
            out.append(f"trend {v['trend']:+g}% per year" + (f", reversed at {v['regimes']} random time(s)"
                                                              if v["regimes"] else ""))
        else:
            out.append("no trend" + (f"; {v['regimes']} regime switch(es) at random times" if v["regimes"] else ""))
        for name, period in (("daily", 24.0), ("weekly", 168.0)):
            if v[name] and period / hours >= 2:
                out.append(f"{name} cycle of ±{v[name]:g}% ({_num(period / hours)} candles long)")
            elif v[name]:
                out.append(f"{name} cycle of ±{v[name]:g}% (invisible: a {v['timeframe']} candle is too long for it)")
        shocks = f"random shocks of {v['noise']:g}% per candle"
        if v["ar"]:
            shocks += f", autocorrelated ({v['ar']:+g}: moves {'continue' if v['ar'] > 0 else 'reverse'})"
        if v["regimes"]:
            shocks += ", their size changing x0.4..x2.5 with each regime"
        out.append(shocks)
        out.append("volume follows the daily cycle and the size of the moves")
        return out


def _num(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:g}"


def is_synthetic(ref: str) -> bool:
    return ref.strip().lower().startswith(PREFIX)


def parse_ref(ref: str) -> Recipe:
    """``synthetic:pattern?noise=0.5&seed=3`` -> its :class:`Recipe`. Raises :class:`SyntheticError`
    naming the knob (or the generator) that is wrong."""
    text = ref.strip()
    if not is_synthetic(text):
        raise SyntheticError(f"not a synthetic data reference: '{text[:60]}' (e.g. synthetic:pattern?noise=0.5)")
    body = text[len(PREFIX):]
    name, _, query = body.partition("?")
    name = name.strip().lower()
    if name not in GENERATORS:
        raise SyntheticError(f"no synthetic generator '{name[:40]}'; choose {', '.join(GENERATORS)} "
                             f"(e.g. synthetic:pattern?noise=0.5&seed=3)")
    values = {k.name: k.default for k in KNOBS.values()}
    seen: set[str] = set()
    for item in re.split(r"[&,;]", query):
        if not item.strip():
            continue
        key, eq, value = item.partition("=")
        key = key.strip().lower()
        if key not in KNOBS:
            raise SyntheticError(f"synthetic data: unknown knob '{key[:40]}'; the knobs are {', '.join(KNOBS)}")
        if not eq:
            raise SyntheticError(f"synthetic data: {key} needs a value, e.g. {key}={KNOBS[key].default}")
        if key in seen:
            raise SyntheticError(f"synthetic data: {key} is given twice")
        seen.add(key)
        values[key] = KNOBS[key].parse(value)
    return Recipe(name, values)


def synthetic_ref(values: dict, generator: str = "pattern") -> str:
    """The one spelling of a recipe: knobs that differ from their defaults, in :data:`KNOBS` order."""
    parts = []
    for knob in KNOBS.values():
        value = values.get(knob.name, knob.default)
        if value != knob.default:
            parts.append(f"{knob.name}={value if isinstance(value, str) else _num(value).replace(',', '')}")
    return PREFIX + generator + ("?" + "&".join(parts) if parts else "")


def load_synthetic(ref: str) -> pd.DataFrame:
    """The candles ``ref`` names, made up from its recipe (deterministic for its seed)."""
    recipe = parse_ref(ref)
    v = recipe.values
    rng = np.random.default_rng(v["seed"])
    length, hours = v["length"], TIMEFRAMES[v["timeframe"]]
    times = pd.date_range(START, periods=length, freq=pd.Timedelta(hours=hours))
    clock = (times - START) / pd.Timedelta(hours=1)  # hours since the start: the cycles follow the clock
    clock = np.asarray(clock, dtype=np.float64)

    # Regimes: the switch times, then each stretch's trend sign and shock size.
    switches = np.sort(rng.choice(np.arange(1, length), size=min(v["regimes"], length - 1), replace=False))
    regime = np.searchsorted(switches, np.arange(length), side="right")
    sign = np.where(regime % 2 == 0, 1.0, -1.0)
    scale = np.exp(rng.uniform(math.log(0.4), math.log(2.5), size=len(switches) + 1))
    scale[0] = 1.0  # the first stretch keeps the noise knob's own size

    drift = v["trend"] / 100.0 * hours / (365.0 * 24.0) * sign
    cycle = np.zeros(length)
    for name, period in (("daily", 24.0), ("weekly", 168.0)):
        if v[name] and period / hours >= 2:
            cycle += v[name] / 100.0 * np.sin(2.0 * math.pi * clock / period)
    shocks = rng.standard_normal(length) * (v["noise"] / 100.0) * scale[regime]
    if v["ar"]:
        from scipy.signal import lfilter  # kept here: only ar != 0 needs SciPy's filter

        shocks = lfilter([1.0], [1.0, -v["ar"]], shocks)
    log_close = math.log(100.0) + np.cumsum(drift) + cycle + np.cumsum(shocks)
    close = np.exp(log_close)

    # Candles around the closes: open at the previous close, wicks a fraction of the candle's move.
    open_ = np.concatenate([[close[0]], close[:-1]])
    wick = np.abs(rng.standard_normal((2, length))) * (0.3 * np.abs(np.diff(log_close, prepend=log_close[0]))
                                                          + 0.0005)
    high = np.maximum(open_, close) * np.exp(wick[0])
    low = np.minimum(open_, close) * np.exp(-wick[1])
    move = np.abs(np.diff(log_close, prepend=log_close[0]))
    busy = 0.5 * np.sin(2.0 * math.pi * (clock - 6.0) / 24.0) if 24.0 / hours >= 2 else 0.0
    volume = 1000.0 * hours * np.exp(busy + 0.3 * rng.standard_normal(length)) * (1.0 + 50.0 * move)
    frame = pd.DataFrame({"open": open_, "high": high, "low": low, "close": close, "volume": volume},
                         index=pd.DatetimeIndex(times, name="time"))
    out = validate_candles(frame, recipe.ref)
    out.attrs["synthetic"] = recipe.lines()
    return out


def link_problem(ref: str) -> str | None:
    """Why a synthetic ``ref`` from a link cannot be used (None if it can): it is made up in-process,
    so only its knobs are checked."""
    try:
        parse_ref(ref)
    except SyntheticError as exc:
        return str(exc)
    return None
