"""Is there anything to forecast? A check before training, on the training part only.

Three looks at one 1-D series (a candle column, or any target a run forecasts) for a given N and K:

- the autocorrelation of its changes (log returns for a positive series) with the 95% band a
  random walk's stays inside;
- a variance-ratio test (Lo & MacKinlay, the heteroskedasticity-robust z): a random walk's K-step
  changes have K times the variance of one step; trends and momentum make the ratio larger, mean
  reversion and cycles smaller;
- :func:`linear_skill`: a plain linear autoregression (least squares on the last N values, NumPy
  only) walked forward inside the training part, scored against persistence ("no change") with the
  same paired test the runs use.

The verdict is the last one's, in one plain sentence: what a person should expect of any model.
Only the training part (``split``'s first share) is looked at, so nothing here can leak the
validation or test candles into a choice made from it.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from pricecast.errors import PricecastError
from pricecast.evaluation.leakage import paired_test
from pricecast.prep.targets import TARGETS
from pricecast.prep.windows import split_bounds

FOLDS = 4
P_LIMIT = 0.05
WEAK_SKILL = 0.02  # a significant gain below this is "barely": real, but nothing a person would notice
MAX_LAG = 60
# The check looks at the newest this-many values of the training part at most: enough to judge, and a
# 500,000-candle series still answers within a page load (BLAS on a busy 2-core machine is slow).
MAX_ROWS = 20_000
VERDICTS = ("predictable", "weak", "random_walk")


class PredictabilityError(PricecastError):
    """Too little (or unusable) data to judge, with what to change."""


@dataclass(frozen=True)
class LinearSkill:
    """Walk-forward score of the linear autoregression against persistence, pooled over the folds."""

    rmse: float
    persistence_rmse: float
    skill: float  # 1 - rmse / persistence_rmse
    p_value: float  # paired test of the per-window squared errors (two-sided)
    folds: int
    forecasts: int  # test windows pooled over the folds


@dataclass(frozen=True)
class VarianceRatio:
    q: int
    ratio: float
    z: float
    p_value: float


@dataclass
class Predictability:
    """The three looks and the verdict, for one series, N and K."""

    name: str
    n: int
    k: int
    training_rows: int
    transform: str  # how changes were taken: "log" (positive series), "log1p" (zeros too) or "none"
    acf: list[float]  # lags 1 .. len(acf)
    band: float  # the 95% band of a random walk's autocorrelation (1.96 / sqrt(changes))
    variance_ratios: list[VarianceRatio]
    linear: LinearSkill
    verdict: str = ""  # one of VERDICTS
    sentence: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def significant_lags(self) -> list[int]:
        return [lag for lag, value in enumerate(self.acf, 1) if abs(value) > self.band]

    def to_dict(self) -> dict:
        return {"name": self.name, "n": self.n, "k": self.k, "training_rows": self.training_rows,
                "transform": self.transform,
                "acf": {"lags": list(range(1, len(self.acf) + 1)), "values": self.acf, "band": self.band,
                        "significant_lags": self.significant_lags},
                "variance_ratio": [asdict(v) for v in self.variance_ratios],
                "linear": asdict(self.linear), "verdict": self.verdict, "sentence": self.sentence,
                "notes": list(self.notes)}


# ---- the pieces --------------------------------------------------------------------------------------
def transform_of(values: np.ndarray) -> str:
    """Changes of a positive series are taken in logs (scale-free returns); a series with zeros but
    none below (volume) through log1p; anything else as plain differences."""
    if values.size and (values > 0).all():
        return "log"
    if values.size and (values >= 0).all():
        return "log1p"
    return "none"


_FORWARD = {"log": np.log, "log1p": np.log1p, "none": lambda v: v}
_BACK = {"log": np.exp, "log1p": np.expm1, "none": lambda v: v}


def autocorrelation(changes: np.ndarray, max_lag: int) -> np.ndarray:
    """Sample autocorrelation of ``changes`` at lags 1 .. ``max_lag`` (the usual biased estimator)."""
    c = np.asarray(changes, dtype=np.float64) - np.mean(changes)
    denom = float(c @ c)
    if denom == 0.0:
        return np.zeros(max_lag)
    return np.array([float(c[lag:] @ c[:-lag]) / denom for lag in range(1, max_lag + 1)])


def variance_ratio(changes: np.ndarray, q: int) -> VarianceRatio:
    """Lo-MacKinlay variance ratio of ``q``-step to one-step changes, with the heteroskedasticity-robust
    z statistic (volatility clustering, as in every real price series, would make the plain one cry
    wolf) and its two-sided p-value."""
    r = np.asarray(changes, dtype=np.float64)
    t = r.size
    mu = r.mean()
    d = r - mu
    var1 = float(d @ d) / t
    sums = np.convolve(r, np.ones(q), mode="valid") - q * mu  # overlapping q-step changes
    varq = float(sums @ sums) / (sums.size * q)
    if var1 == 0.0:
        return VarianceRatio(q, math.nan, math.nan, math.nan)
    ratio = varq / var1
    sq = d**2
    theta = 0.0
    for j in range(1, q):
        delta = t * float(sq[j:] @ sq[:-j]) / float(sq.sum()) ** 2
        theta += (2.0 * (q - j) / q) ** 2 * delta
    z = math.sqrt(t) * (ratio - 1.0) / math.sqrt(theta) if theta > 0 else math.nan
    p = math.erfc(abs(z) / math.sqrt(2.0)) if math.isfinite(z) else math.nan
    return VarianceRatio(q, ratio, z, p)


def _fit(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least squares with an intercept and a whisker of ridge (so collinear inputs, such as a flat
    stretch, still solve): coefficients and intercept."""
    if x.shape[1] == 0:
        return np.zeros((0, y.shape[1])), y.mean(axis=0)
    xm, ym = x.mean(axis=0), y.mean(axis=0)
    xc = x - xm
    gram = xc.T @ xc
    ridge = 1e-6 * (np.trace(gram) / gram.shape[0] + 1e-12)
    beta = np.linalg.solve(gram + ridge * np.eye(gram.shape[0]), xc.T @ (y - ym))
    return beta, ym - xm @ beta


def linear_skill(series: np.ndarray, n: int, k: int, folds: int = FOLDS) -> LinearSkill:
    """Walk-forward skill of a linear autoregression against persistence on ``series`` (the training
    part: the caller cuts it). Each window's last N values, taken relative to its last one (in logs
    for a positive series), predict the next K relative to it; the second half of the windows is cut
    into ``folds`` test folds by time, each forecast by a fit on the windows whose future ends before
    the fold starts. Errors are in the series' own units, like the runs' RMSE."""
    values = np.asarray(series, dtype=np.float64)
    values = values[np.isfinite(values)]
    transform = transform_of(values)
    z = _FORWARD[transform](values)
    windows = sliding_window_view(z, n + k) if z.size >= n + k else np.empty((0, n + k))
    m = windows.shape[0]
    if m < 20 * folds:
        raise PredictabilityError(f"the training part is too short to judge: {values.size} values give {m} "
                                  f"windows of N={n} + K={k}; need at least {20 * folds} (choose a smaller N or K, "
                                  "or more data)")
    last = windows[:, n - 1 : n]
    x = windows[:, : n - 1] - last
    y = windows[:, n:] - last
    actual = _BACK[transform](windows[:, n:])
    persist = _BACK[transform](last)
    first_test = m // 2
    edges = np.linspace(first_test, m, folds + 1).astype(int)
    model_err, persist_err = [], []
    for start, stop in zip(edges[:-1], edges[1:]):
        fit_rows = slice(0, max(start - k + 1, 0))  # window i's future ends at row i + n + k - 1 < fold start's
        beta, intercept = _fit(x[fit_rows], y[fit_rows])
        forecast = _BACK[transform](last[start:stop] + x[start:stop] @ beta + intercept)
        model_err.append(((forecast - actual[start:stop]) ** 2).mean(axis=1))
        persist_err.append(((persist[start:stop] - actual[start:stop]) ** 2).mean(axis=1))
    model_sq, persist_sq = np.concatenate(model_err), np.concatenate(persist_err)
    rmse, prmse = float(np.sqrt(model_sq.mean())), float(np.sqrt(persist_sq.mean()))
    skill = 1.0 - rmse / prmse if prmse > 0 else math.nan
    _, p = paired_test(model_sq - persist_sq, lag=max(k - 1, 1))
    return LinearSkill(rmse, prmse, skill, p, folds, int(model_sq.size))


# ---- the check -------------------------------------------------------------------------------------
def check(series: np.ndarray, n: int, k: int, split: tuple[float, float, float] = (0.7, 0.15, 0.15),
          name: str = "This series", folds: int = FOLDS) -> Predictability:
    """The predictability of ``series`` for forecasting K steps from N, judged on its training part
    (``split``'s first share) only. ``name`` starts the verdict's sentence ("BTC hourly close")."""
    if n < 1 or k < 1:
        raise PredictabilityError(f"N and K must be at least 1 (got N={n}, K={k})")
    values = np.asarray(series, dtype=np.float64).ravel()
    start, stop = split_bounds(values.size, split)["train"]
    train = values[start:stop]
    notes = []
    if train.size > MAX_ROWS:
        notes.append(f"judged on the newest {MAX_ROWS:,} of the training part's {train.size:,} values")
        train = train[-MAX_ROWS:]
    if not np.isfinite(train).all():
        notes.append(f"{int((~np.isfinite(train)).sum())} missing value(s) left out")
        train = train[np.isfinite(train)]
    linear = linear_skill(train, n, k, folds)
    transform = transform_of(train)
    changes = np.diff(_FORWARD[transform](train))
    max_lag = int(min(max(n, 2 * k, 10), MAX_LAG, changes.size // 4))
    acf = autocorrelation(changes, max_lag)
    band = 1.96 / math.sqrt(changes.size)
    qs = sorted({q for q in (2, 4, 8, 16, k) if 2 <= q <= changes.size // 8})
    result = Predictability(name, n, k, int(train.size), transform, [float(a) for a in acf], band,
                            [variance_ratio(changes, q) for q in qs], linear, notes=notes)
    result.verdict, result.sentence = _verdict(result)
    return result


def p_text(p: float) -> str:
    if not math.isfinite(p):
        return "p = n/a"
    return "p < 0.001" if p < 0.001 else f"p = {p:.2g}"


def check_candles(candles: pd.DataFrame, target: str, n: int, k: int,
                  split: tuple[float, float, float] = (0.7, 0.15, 0.15), name: str = "This series") -> Predictability:
    """:func:`check` of the run target ``target`` (a candle column, or one computed from the candles such as
    ``range``, volatility); ``name`` (the data's) and the target start the sentence."""
    entry = TARGETS.get(target)
    if entry is None and target not in candles.columns:
        raise PredictabilityError(f"cannot judge '{target}': not a target or a column of these candles "
                                  f"({', '.join(map(str, candles.columns))})")
    values = entry.compute(candles) if entry is not None else candles[target].to_numpy()
    if entry is not None and entry.baselines[:1] == ("zero",):
        # a return's naive forecast is zero, not the last return: judge the level it adds up to, whose
        # "no change" is exactly that zero forecast
        values = np.nancumsum(values)
    label = target if entry is None or entry.is_price or entry.label == target else f"{entry.label} ({target})"
    return check(values, n, k, split, name=f"{name} {label}")


def _verdict(result: Predictability) -> tuple[str, str]:
    lin, name = result.linear, result.name
    p = p_text(lin.p_value)
    if not math.isfinite(lin.skill):
        return "random_walk", f"{name} never changes on its training part: there is nothing to forecast."
    beats = lin.skill > 0 and lin.p_value < P_LIMIT
    if beats and lin.skill >= WEAK_SKILL:
        return "predictable", (f"{name} is forecastable: on its training part a plain linear model beats 'no change' "
                               f"by {lin.skill:.0%} ({p}). A model can beat 'no change' here.")
    if beats:
        return "weak", (f"{name} is barely forecastable: a plain linear model beats 'no change' by only "
                        f"{lin.skill:.1%} on its training part ({p}). Expect any model to end close to 'no change'.")
    return "random_walk", (f"{name} behaves like a random walk: on its training part a plain linear model does not "
                           f"beat 'no change' ({lin.skill:+.1%}, {p}). Expect no model to beat 'no change'.")


def evidence_lines(result: Predictability) -> list[str]:
    """The supporting numbers in words (the CLI's text and the Data page's caption)."""
    lags = result.significant_lags
    expected = 0.05 * len(result.acf)
    if lags:
        shown = ", ".join(map(str, lags[:12])) + (" …" if len(lags) > 12 else "")
        acf = (f"autocorrelation of its changes outside the 95% band at lag(s) {shown} "
               f"({len(lags)} of {len(result.acf)}; a random walk has about {expected:.0f} by chance)")
    else:
        acf = f"autocorrelation of its changes inside the 95% band at all {len(result.acf)} lags"
    out = [acf]
    for vr in result.variance_ratios:
        out.append(f"variance ratio over {vr.q} steps {vr.ratio:.2f} ({p_text(vr.p_value)}; a random walk: 1)")
    lin = result.linear
    out.append(f"linear autoregression, walked forward over {lin.folds} folds ({lin.forecasts:,} forecasts): "
               f"RMSE {lin.rmse:.4g} vs persistence {lin.persistence_rmse:.4g} (skill {lin.skill:+.1%})")
    return out + result.notes
