"""Past/future windows over a candle series — the tutorials' PastSampler, without copies or leaks.

Each part (train, validation, test) is cut from the series by time first and windowed on its own,
so no window ever holds values from two parts. Windows are strided views of the candle array
(``sliding_window_view``); only the batches handed to a model are copied.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from pricecast.data.candles import CandleError, candle_step
from pricecast.field_meta import setting
from pricecast.prep.features import FEATURE_CHOICES, INPUT_COLUMNS, column, expand
from pricecast.prep.targets import TARGET_CHOICES, TARGETS

PART_NAMES: tuple[str, ...] = ("train", "val", "test")


@dataclass(frozen=True)
class WindowSpec:
    """N past steps in, K future steps out.

    ``stride`` 1 slides one candle at a time; ``stride = n + k`` gives the tutorial's
    non-overlapping windows. ``split`` holds the train / validation / test shares by time.
    """

    n: int = setting(30, help="past steps the model sees", limits=(1, 5000), at_least=1,
                     label="N — past candles in",
                     explain="N: how many past candles the model looks at to make one forecast (its window into the "
                             "past). Bigger N gives more context but fewer training examples and a slower model.")
    k: int = setting(5, help="future steps it predicts", limits=(1, 500), at_least=1,
                     label="K — future candles out",
                     explain="K: how many future candles the model forecasts at once. The further ahead, the harder: "
                             "errors usually grow with each step.")
    stride: int = setting(1, help="steps between window starts: 1 = sliding windows; N+K = non-overlapping",
                          limits=(1, 10000), at_least=1,
                          label="Stride",
                          explain="How many candles to move between one example and the next (1 = every candle).")
    features: tuple[str, ...] = setting(("close",), choices=FEATURE_CHOICES, min_items=1,
                                        help="comma-separated input columns: candle columns or derived ones "
                                             "(pricecast.prep.features; hour and weekday add a sine/cosine pair)",
                                        label="Input features",
                                        explain="What the model sees for each past candle. 'close' alone is a good "
                                                "start; adding open/high/low/volume gives more information but also "
                                                "more noise. The derived inputs (returns, range, volatility, time) "
                                                "use only past candles.")
    target: str = setting("close", choices=TARGET_CHOICES,
                          help="what to forecast: a price column (close, open, high, low), volume, range "
                               "(volatility: each candle's high-low range) or log_return",
                          label="Forecast",
                          explain="What the model forecasts: a price (close, open, high, low), the volume traded per "
                                  "candle, volatility (each candle's high-low range relative to its close) or the log"
                                  " return. Prices move almost at random; volume and volatility follow the trading "
                                  "day, so they can be forecast. Each is scored against its own naive forecasts (no "
                                  "change, a moving average, the same hour yesterday).")
    split: tuple[float, float, float] = setting((0.7, 0.15, 0.15), help="train,val,test shares, e.g. 0.7,0.15,0.15",
                                                label="Training, validation and test shares",
                                                explain="The history is cut by time: the model learns on the oldest "
                                                        "part (training), is watched on the next (validation: decides"
                                                        " when to stop) and judged on the newest (test), which it "
                                                        "never saw.")

    def __post_init__(self) -> None:
        object.__setattr__(self, "features", expand(self.features))
        object.__setattr__(self, "split", tuple(float(s) for s in self.split))

    def check(self) -> None:
        """Raise :class:`WindowError` for settings that can never work, whatever the data."""
        if self.n < 1 or self.k < 1:
            raise WindowError(f"N and K must be at least 1 (got N={self.n}, K={self.k})")
        if self.stride < 1:
            raise WindowError(f"stride must be at least 1 (got {self.stride})")
        unknown = [f for f in self.features if f not in INPUT_COLUMNS]
        if unknown or not self.features:
            raise WindowError(
                f"unknown input feature(s) {', '.join(unknown) or '(none chosen)'}; choose from {', '.join(FEATURE_CHOICES)}"
            )
        if len(set(self.features)) != len(self.features):
            raise WindowError("each input feature may be chosen once")
        if self.target not in TARGETS:
            raise WindowError(f"unknown target '{self.target}'; choose from {', '.join(TARGET_CHOICES)}")
        if len(self.split) != 3 or min(self.split) < 0 or self.split[0] <= 0:
            raise WindowError(f"split needs three shares, train above 0, none negative (got {self.split})")
        if abs(sum(self.split) - 1.0) > 1e-6:
            raise WindowError(f"split shares must add up to 1 (got {self.split}, sum {sum(self.split):.3f})")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> WindowSpec:
        return cls(**{**data, "features": tuple(data.get("features", ("close",))), "split": tuple(data.get("split", (0.7, 0.15, 0.15)))})


class WindowError(CandleError):
    """Window settings that don't fit the data, with what to change."""


def split_bounds(rows: int, split: tuple[float, float, float]) -> dict[str, tuple[int, int]]:
    """Row ranges ``[start, stop)`` of each part, in time order."""
    train_end = int(round(rows * split[0]))
    val_end = int(round(rows * (split[0] + split[1])))
    return {"train": (0, train_end), "val": (train_end, val_end), "test": (val_end, rows)}


@dataclass
class WindowPart:
    """The windows of one part: raw (price-unit) views plus where each window sits in the series."""

    name: str
    x: np.ndarray  # (m, n, features) view
    y: np.ndarray  # (m, k) view of the target
    history: np.ndarray  # (m, n) view of the target over the input steps
    origin: np.ndarray  # (m,) position in the series of each window's last input row
    rows: tuple[int, int]

    def __len__(self) -> int:
        return int(self.x.shape[0])


@dataclass
class WindowSet:
    """All three parts of one series cut by one :class:`WindowSpec`."""

    spec: WindowSpec
    times: pd.DatetimeIndex
    values: np.ndarray  # (rows, features) float64, the inputs
    target: np.ndarray  # (rows,) float64
    parts: dict[str, WindowPart] = field(default_factory=dict)

    @property
    def train(self) -> WindowPart:
        return self.parts["train"]

    @property
    def val(self) -> WindowPart:
        return self.parts["val"]

    @property
    def test(self) -> WindowPart:
        return self.parts["test"]

    def sizes(self) -> dict[str, dict[str, int | str]]:
        """Rows and windows per part, with the time span, for reports."""
        out: dict[str, dict[str, int | str]] = {}
        for name, part in self.parts.items():
            a, b = part.rows
            out[name] = {
                "rows": b - a,
                "windows": len(part),
                "first": self.times[a].isoformat() if b > a else "",
                "last": self.times[b - 1].isoformat() if b > a else "",
            }
        return out

    def output_times(self, part: str) -> np.ndarray:
        """(m, k) times of each window's targets."""
        origin = self.parts[part].origin
        return self.times.tz_convert(None).to_numpy()[origin[:, None] + np.arange(1, self.spec.k + 1)[None, :]]

    def origin_times(self, part: str) -> pd.DatetimeIndex:
        return self.times[self.parts[part].origin]


def window_segment(name: str, values: np.ndarray, target: np.ndarray, a: int, b: int, spec: WindowSpec) -> WindowPart:
    """Windows over rows ``[a, b)`` only (inputs and targets both inside); empty if too short."""
    n, k = spec.n, spec.k
    rows = b - a
    if rows < n + k:
        # Empty part: keep the shapes so callers can still concatenate or skip it.
        empty = np.empty((0, n, values.shape[1]))
        return WindowPart(name, empty, np.empty((0, k)), np.empty((0, n)), np.empty(0, dtype=np.int64), (a, b))
    # sliding_window_view puts the window axis last: (m, features, n+k) -> transpose to (m, n+k, features).
    vx = sliding_window_view(values[a:b], n + k, axis=0)[:: spec.stride].transpose(0, 2, 1)
    vt = sliding_window_view(target[a:b], n + k)[:: spec.stride]
    origin = a + n - 1 + np.arange(0, rows - n - k + 1, spec.stride, dtype=np.int64)
    return WindowPart(name, vx[:, :n, :], vt[:, n:], vt[:, :n], origin, (a, b))


def series_arrays(candles: pd.DataFrame, features: tuple[str, ...], target: str) -> tuple[np.ndarray, np.ndarray]:
    """The inputs as one (rows, features) float64 array and the target as a (rows,) array.

    Filled one column at a time: ``frame[cols].to_numpy()`` would build a temporary copy first,
    doubling the peak memory on large series. The target is a view into the inputs when it is one.
    Derived inputs and targets (log_return, range, vol_20 ...) are computed from the candles without
    look-ahead (:mod:`pricecast.prep.features`, :mod:`pricecast.prep.targets`).
    """
    values = np.empty((len(candles), len(features)), dtype=np.float64)
    for j, name in enumerate(features):
        values[:, j] = column(candles, name)
    if target in features:
        return values, values[:, features.index(target)]
    return values, TARGETS[target].compute(candles) if target in TARGETS else column(candles, target)


def make_windows(candles: pd.DataFrame, spec: WindowSpec, require: tuple[str, ...] = PART_NAMES) -> WindowSet:
    """Cut ``candles`` into train / validation / test by time and window each part.

    Raises :class:`WindowError` saying which part is too short for N+K and what to change.
    """
    spec.check()
    values, target = series_arrays(candles, spec.features, spec.target)
    bounds = split_bounds(len(candles), spec.split)
    wset = WindowSet(spec, candles.index, values, target)
    for name, (a, b) in bounds.items():
        wset.parts[name] = window_segment(name, values, target, a, b, spec)
    for name in require:
        a, b = bounds[name]
        if len(wset.parts[name]) == 0:
            share = spec.split[PART_NAMES.index(name)]
            raise WindowError(
                f"N+K = {spec.n}+{spec.k} = {spec.n + spec.k} steps is longer than the {_label(name)} part "
                f"({b - a} of {len(candles)} candles, {share:.0%}): lower N or K, give the {_label(name)} part "
                f"a larger share, or load more data"
            )
    return wset


MIN_TRAIN_WINDOWS = 50  # below this a network cannot learn anything worth a chart
FEW_TRAIN_WINDOWS = 500
MIN_EVAL_WINDOWS = 5  # validation / test: fewer make early stopping and the test score luck (p = nan at 1)
FEW_EVAL_WINDOWS = 30


@dataclass(frozen=True)
class ExampleCounts:
    """How many examples (windows) each part gets, and whether that is enough to train on."""

    train: int
    val: int
    test: int
    errors: tuple[str, ...] = ()  # refuse to train: each says why and what to change
    warnings: tuple[str, ...] = ()  # trains, but the result will be shaky

    @property
    def ok(self) -> bool:
        return not self.errors

    def line(self) -> str:
        return f"Examples: training {self.train:,}, validation {self.val:,}, test {self.test:,}"


def example_counts(wset: WindowSet, batch_size: int = 1) -> ExampleCounts:
    """Count each part's windows and judge them against plain minimums, with the fix in words
    (e.g. "9 training examples (at least 50 needed) ... turn on sliding windows, use 5-minute data
    or a smaller N+K")."""
    spec = wset.spec
    train, val, test = (len(wset.parts[p]) if p in wset.parts else 0 for p in PART_NAMES)
    fixes = [_more_data(wset.times), f"a smaller N+K (now {spec.n}+{spec.k})"]
    if spec.stride > 1:
        fixes.insert(0, f"turn on sliding windows (stride 1; now each example starts {spec.stride} candles after "
                        f"the previous one)")
    how = ", ".join(fixes[:-1]) + " or " + fixes[-1]
    short, few = [], []
    if train < MIN_TRAIN_WINDOWS:
        short.append(f"{train} training example(s), at least {MIN_TRAIN_WINDOWS} are needed to learn anything")
    elif train < FEW_TRAIN_WINDOWS:
        few.append(f"{train} training examples, the network will hardly learn")
    for name, count in (("val", val), ("test", test)):
        share = f"{spec.split[PART_NAMES.index(name)]:.0%}"
        if count < MIN_EVAL_WINDOWS:
            short.append(f"{count} {_label(name)} example(s) (a {share} share), at least {MIN_EVAL_WINDOWS} are "
                         f"needed for a meaningful score")
        elif count < FEW_EVAL_WINDOWS:
            few.append(f"{count} {_label(name)} examples (a {share} share), its score is mostly luck")
    errors = [f"Only {'; '.join(short)}. To fix: {how}"] if short else []
    if not short and train < batch_size:
        errors.append(f"The {train} training examples are fewer than one batch ({batch_size}): lower the batch size")
    warnings = [f"Only {'; '.join(few)}. Better: {how}"] if few else []
    return ExampleCounts(train, val, test, tuple(errors), tuple(warnings))


def _more_data(times: pd.DatetimeIndex) -> str:
    """More examples from more data, said for the data at hand: finer candles only where they are not
    fine already (the advice once told 5-minute data to use 5-minute candles)."""
    try:
        step = candle_step(pd.DatetimeIndex(times))
    except CandleError:
        return f"use more data (now {len(times):,} candles)"
    span = pd.Timedelta(times[-1] - times[0])
    spans = f"{span.days:,} days" if span >= pd.Timedelta(days=2) else f"{span.total_seconds() / 3600:.0f} hours"
    if step >= pd.Timedelta(hours=20):
        return (f"use longer or finer data (e.g. hourly or 5-minute candles instead of daily; now {len(times):,} "
                f"candles over {spans})")
    return f"use a longer stretch of these candles (now {len(times):,} over {spans})"


def latest_window(candles: pd.DataFrame, spec: WindowSpec) -> np.ndarray:
    """The last N rows of the inputs, shaped (1, n, features), for a forecast of the next K steps."""
    if len(candles) < spec.n:
        raise WindowError(f"need at least N={spec.n} candles for a forecast, have {len(candles)}")
    values, _ = series_arrays(candles, spec.features, spec.target)
    return values[-spec.n :][None, :, :]


def _label(name: str) -> str:
    return {"train": "training", "val": "validation", "test": "test"}[name]
