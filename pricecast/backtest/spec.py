"""What a walk-forward backtest is asked to do (:class:`BacktestSpec`) and where its folds fall
(:func:`plan_folds`): the last ``folds × fold_size`` candles are cut into test folds, each trained
on an expanding or rolling window of everything before it, whose last share is held out for early
stopping and for calibrating the conformal intervals.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from pricecast.catalogue import Field, fields_of
from pricecast.errors import PricecastError
from pricecast.field_meta import setting

WINDOW_KINDS: tuple[str, ...] = ("expanding", "rolling")
FORECAST_METHODS: tuple[str, ...] = ("direct", "recursive")
MIN_VAL_WINDOWS = 10  # fewer than this and neither early stopping nor a conformal quantile means much
MIN_TRAIN_WINDOWS = 20


class BacktestError(PricecastError):
    """A backtest setting that cannot work on this data, with what to change."""


@dataclass(frozen=True)
class BacktestSpec:
    """How to walk forward.

    ``train_size`` (rolling only): candles in each training window including its validation share;
    0 means as many as the first fold has. ``retrain_every``: 1 retrains before every fold, 2 every
    other fold, 0 never (one model trained before the first fold is slid forward). ``epochs``: 0
    keeps the run spec's. ``mc_samples``: forward passes for MC-dropout intervals (0 = off)."""

    folds: int = setting(4, limits=(1, 50), at_least=1, help="number of test folds at the end of the series",
                         label="Test folds",
                         explain="How many consecutive test periods at the end of the data. The model is judged on "
                                 "each one, always trained only on what came before it.")
    fold_size: int = setting(120, limits=(1, 100_000), at_least=1, help="candles per test fold",
                             label="Candles per fold",
                             explain="Length of each test period, in candles (120 daily candles ≈ half a year).")
    window: str = setting("expanding", choices=WINDOW_KINDS,
                          help="expanding: train on everything before the fold; rolling: a fixed-length window",
                          label="Training window", widget="radio",
                          explain="Expanding: train on all data before the fold. Rolling: train on a fixed-length "
                                  "stretch just before it (forgets the distant past).")
    train_size: int = setting(0, limits=(0, 10_000_000), at_least=0,
                              help="rolling window length in candles, validation included (0 = automatic)",
                              label="Rolling window (candles)",
                              explain="Candles in each training window, validation included. 0 = as many as the "
                                      "first fold has.")
    val_share: float = setting(0.15, limits=(0.05, 0.5), above=0.0, below=0.9,
                               help="share of each training window kept for early stopping and interval calibration",
                               label="Validation share", step=0.05,
                               explain="The newest share of each training window is held out: it decides when "
                                       "training stops and calibrates the conformal bands.")
    retrain_every: int = setting(1, limits=(0, 50), at_least=0, help="retrain before every n-th fold; 0 = train once",
                                 label="Retrain every n folds",
                                 explain="1 retrains before every fold; 2 every other fold; 0 trains once and slides "
                                         "that model forward unchanged.")
    method: str = setting("direct", choices=FORECAST_METHODS,
                          help="direct K-output model, or a one-step model fed its own forecasts",
                          label="Forecasts", widget="radio",
                          explain="Direct: one model outputs all K steps. Recursive: a one-step model is fed its own "
                                  "forecasts K times (only when the price to forecast is the only input).")
    levels: tuple[float, ...] = setting((0.8, 0.95), min_items=1, help="interval levels, e.g. 0.8,0.95 (or 80,95)",
                                        label="Interval levels (%)",
                                        explain="Prediction bands to draw. Coverage shows how often real prices fell "
                                                "inside.")
    # conformal residuals relative to the last price (scale-free bands)
    relative: bool = setting(True, help="conformal bands relative to the last price (--no-relative: in price units)",
                             label="Bands relative to the last price",
                             explain="On: the conformal bands are measured relative to the last known price, so they "
                                     "widen and narrow with the price level. Off: in price units.")
    mc_samples: int = setting(0, limits=(0, 500), at_least=0, help="MC-dropout passes for dropout intervals (0 = off)",
                              label="MC-dropout samples",
                              explain="Forward passes with dropout switched on, for a second kind of band. 0 = off. "
                                      "Needs a model with dropout.")
    # not on the command line: the setup's --epochs is the one (a backtest with 0 keeps it)
    epochs: int = setting(0, limits=(0, 500), at_least=0, flag=None, help="epochs per training (0 = the run spec's)",
                          label="Epochs per training",
                          explain="Training passes per fold (early stopping may end sooner). Fewer is faster.")

    def __post_init__(self) -> None:
        object.__setattr__(self, "levels", tuple(float(v) for v in self.levels))

    def check(self) -> None:
        if self.folds < 1:
            raise BacktestError(f"need at least 1 fold (got {self.folds})")
        if self.fold_size < 1:
            raise BacktestError(f"a fold needs at least 1 candle (got {self.fold_size})")
        if self.window not in WINDOW_KINDS:
            raise BacktestError(f"training window must be one of {', '.join(WINDOW_KINDS)} (got '{self.window}')")
        if self.train_size < 0:
            raise BacktestError("rolling window size must be 0 (automatic) or more")
        if not 0.0 < self.val_share < 0.9:
            raise BacktestError(f"the validation share of each training window must be above 0 and below 0.9 "
                                f"(got {self.val_share}); it drives early stopping and the conformal intervals")
        if self.retrain_every < 0:
            raise BacktestError("retrain every n folds: use 0 (never) or a positive number")
        if self.method not in FORECAST_METHODS:
            raise BacktestError(f"forecast method must be one of {', '.join(FORECAST_METHODS)} (got '{self.method}')")
        if not self.levels or any(not 0.0 < v < 1.0 for v in self.levels):
            raise BacktestError(f"interval levels must lie between 0 and 1, e.g. 0.8,0.95 (got {list(self.levels)})")
        if self.mc_samples < 0 or self.epochs < 0:
            raise BacktestError("MC samples and epochs must be 0 or more")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> BacktestSpec:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


# A walk-forward backtest's own settings, read as a run's are (``backtest``'s options, the Results
# page's backtest tab); kept beside the spec, as EXPERIMENT_FIELDS is, so the catalogue stays below the backtests.
BACKTEST_FIELDS: dict[str, Field] = {f.name: f for f in fields_of(BacktestSpec, "backtest")}


@dataclass(frozen=True)
class FoldPlan:
    """Row ranges ``[start, stop)`` of one fold. ``train``/``val`` are this fold's own window (used
    for the MASE scale and conformal calibration); ``model_*`` is where its model was trained —
    the same rows when it is retrained here, an earlier fold's when the model is slid forward."""

    index: int
    train: tuple[int, int]
    val: tuple[int, int]
    test: tuple[int, int]
    model_fold: int
    model_train: tuple[int, int]
    model_val: tuple[int, int]

    @property
    def retrain(self) -> bool:
        return self.model_fold == self.index


def plan_folds(rows: int, bt: BacktestSpec, n: int, k: int) -> list[FoldPlan]:
    """The folds, oldest first; raises :class:`BacktestError` saying what to change if one can't fit."""
    bt.check()
    if bt.fold_size < k:
        raise BacktestError(f"a test fold of {bt.fold_size} candles is shorter than K={k}: use a fold size of at least {k}")
    first_test = rows - bt.folds * bt.fold_size
    train_size = bt.train_size or first_test
    need_val = k + MIN_VAL_WINDOWS - 1
    need_train = n + k + MIN_TRAIN_WINDOWS - 1
    if first_test < need_train + need_val:
        raise BacktestError(
            f"{bt.folds} folds of {bt.fold_size} candles leave {max(first_test, 0)} of {rows} candles to train the "
            f"first model, but N={n}, K={k} need at least {need_train + need_val}: use fewer or shorter folds, "
            f"a smaller N, or more data")
    plans: list[FoldPlan] = []
    model = (0, (0, 0), (0, 0))
    for i in range(bt.folds):
        c = first_test + i * bt.fold_size
        d = c + bt.fold_size
        a = 0 if bt.window == "expanding" else max(0, c - train_size)
        val_rows = max(need_val, int(round((c - a) * bt.val_share)))
        b = c - val_rows
        if b - a < need_train:
            raise BacktestError(
                f"fold {i + 1}: its rolling training window of {c - a} candles leaves {b - a} for training after "
                f"{val_rows} for validation; N={n}, K={k} need at least {need_train}: raise the window size")
        if i == 0 or (bt.retrain_every > 0 and i % bt.retrain_every == 0):
            model = (i, (a, b), (b, c))
        plans.append(FoldPlan(i, (a, b), (b, c), (c, d), *model))
    return plans
