"""Walk-forward backtest: train on the past, forecast the next fold, slide forward, repeat.

A single train/test split flatters or punishes a model by the luck of one period. Here the last
``folds × fold_size`` candles are cut into test folds; before each fold the model is (re)trained on
an expanding or rolling window of everything before it, with the scaler refitted on that window's
training rows only and the window's last share held out for early stopping and for calibrating the
conformal intervals. Every fold is scored for the model and the naive baselines (RMSE, MAE, MAPE,
MASE, direction), and is cached on disk — keyed by the setup, the data and the fold's bounds — so a
rerun of the same setup trains nothing.

Windows are cut per segment with :mod:`pricecast.prep.windows`: training windows lie wholly inside the
training rows; validation and test windows may *read* the N candles before their segment (history
that is known at forecast time) but their targets stay inside it.

Keras is imported only inside the functions that train or predict.
"""
from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pricecast.errors import PricecastError
from pricecast.evaluation.leakage import Finding, check_predictions, check_scaler, check_windows, problems
from pricecast.evaluation.metrics import BASELINES, baseline_forecasts, evaluate
from pricecast.evaluation.recursive import recursive_forecast, recursive_problem
from pricecast.evaluation.uncertainty import (
    conformal_band,
    conformal_quantiles,
    coverage,
    coverage_text,
    has_dropout,
    no_dropout_message,
    sample_band,
)
from pricecast.models.builders import check_model
from pricecast.prep.features import source_columns
from pricecast.prep.scaling import Scaler
from pricecast.prep.windows import WindowPart, WindowSet, WindowSpec, series_arrays, window_segment
from pricecast.specs import RunSpec
from pricecast.training.fitting import (
    NonFiniteLossError,
    build,
    divergence_message,
    fit,
    model_call,
    predict,
    prediction_rows,
)

# Bump when cached fold contents change meaning. 2: fold models are fitted by fitting.fit, which
# honours the speed options, the seed's deterministic setting and the NaN-loss stop.
BACKTEST_VERSION = 2
WINDOW_KINDS: tuple[str, ...] = ("expanding", "rolling")
FORECAST_METHODS: tuple[str, ...] = ("direct", "recursive")
MIN_VAL_WINDOWS = 10  # fewer than this and neither early stopping nor a conformal quantile means much
MIN_TRAIN_WINDOWS = 20
FORECASTERS: tuple[str, ...] = ("model", *BASELINES)

Progress = Callable[[dict], None]


class BacktestError(PricecastError):
    """A backtest setting that cannot work on this data, with what to change."""


@dataclass(frozen=True)
class BacktestSpec:
    """How to walk forward.

    ``train_size`` (rolling only): candles in each training window including its validation share;
    0 means as many as the first fold has. ``retrain_every``: 1 retrains before every fold, 2 every
    other fold, 0 never (one model trained before the first fold is slid forward). ``epochs``: 0
    keeps the run spec's. ``mc_samples``: forward passes for MC-dropout intervals (0 = off)."""

    folds: int = 4
    fold_size: int = 120
    window: str = "expanding"
    train_size: int = 0
    val_share: float = 0.15
    retrain_every: int = 1
    method: str = "direct"
    levels: tuple[float, ...] = (0.8, 0.95)
    relative: bool = True  # conformal residuals relative to the last price (scale-free bands)
    mc_samples: int = 0
    epochs: int = 0

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


# ---- windows per fold --------------------------------------------------------------------------
def segment_part(name: str, values: np.ndarray, target: np.ndarray, rows: tuple[int, int], window: WindowSpec,
                 k: int, stride: int, context: bool) -> WindowPart:
    """Windows whose targets lie in ``rows``. With ``context`` the inputs may start up to N rows
    earlier (known history), so the first target is the segment's first row."""
    a, b = rows
    start = max(a - window.n, 0) if context else a
    spec = replace(window, k=k, stride=stride)
    part = window_segment(name, values, target, start, b, spec)
    part.rows = (a, b)
    return part


@dataclass
class FoldWindows:
    windows: WindowSet  # train/val as the model was trained, test = this fold's test windows
    calib: WindowPart  # this fold's validation windows with K-step targets, for conformal calibration


def fold_windows(times: pd.DatetimeIndex, values: np.ndarray, target: np.ndarray, window: WindowSpec,
                 plan: FoldPlan, k_model: int) -> FoldWindows:
    wset = WindowSet(window, times, values, target)
    wset.parts["train"] = segment_part("train", values, target, plan.model_train, window, k_model, window.stride, False)
    wset.parts["val"] = segment_part("val", values, target, plan.model_val, window, k_model, 1, True)
    wset.parts["test"] = segment_part("test", values, target, plan.test, window, window.k, 1, True)
    calib = segment_part("calibration", values, target, plan.val, window, window.k, 1, True)
    return FoldWindows(wset, calib)


def forecast_part(model, part: WindowPart, scaler: Scaler, method: str, k: int, training: bool = False) -> np.ndarray:
    if method == "recursive":
        return recursive_forecast(model_call(model, training), part, scaler, k)
    return predict(model, part, scaler, training=training)


def mc_bands(model, part: WindowPart, scaler: Scaler, method: str, k: int, samples: int, levels: tuple[float, ...],
             seed: int) -> dict[float, tuple[np.ndarray, np.ndarray]]:
    """MC-dropout bands per level from ``samples`` stochastic forecasts (price units)."""
    from pricecast.evaluation.uncertainty import mc_dropout_samples

    if len(part) == 0:
        return {lv: (np.empty((0, k)), np.empty((0, k))) for lv in levels}
    draws = mc_dropout_samples(model, np.empty((len(part), 1)), samples, seed,
                               call=lambda _x: forecast_part(model, part, scaler, method, k, training=True))
    return {lv: sample_band(draws, lv) for lv in levels}


# ---- results -----------------------------------------------------------------------------------
@dataclass
class FoldResult:
    index: int
    plan: FoldPlan
    cached: bool
    model_info: dict
    origin: np.ndarray  # (m,) row of each test window's last input
    actual: np.ndarray  # (m, k)
    predicted: np.ndarray  # (m, k)
    history: np.ndarray  # (m, n)
    report: dict  # evaluate() + MASE
    scale: float  # MASE denominator: mean |naive-1 error| over this fold's training window
    bands: dict = field(default_factory=dict)  # method -> level -> (lower, upper)
    coverage: dict = field(default_factory=dict)  # method -> level -> coverage()
    findings: list[Finding] = field(default_factory=list)
    calib_windows: int = 0

    @property
    def retrained(self) -> bool:
        return self.plan.retrain


@dataclass
class BacktestResult:
    spec: RunSpec
    bt: BacktestSpec
    times: pd.DatetimeIndex
    folds: list[FoldResult]
    overall: dict
    by_horizon: dict
    intervals: dict  # method -> level -> {coverage, per_step, mean_width, points, text}
    diagnostics: dict
    findings: list[Finding]
    notes: list[str]
    stopped: bool
    seconds: float
    models_trained: int
    folds_cached: int
    models_loaded: int = 0  # models rebuilt from cached weights (their folds' forecasts were not cached)

    def fold_rows(self) -> list[dict]:
        """One row per fold for a table: dates, windows, model and persistence errors, skill."""
        rows = []
        for f in self.folds:
            r = f.report
            rows.append({
                "fold": f.index + 1, "test_from": _date(self.times, f.plan.test[0]),
                "test_to": _date(self.times, f.plan.test[1] - 1), "train_from": _date(self.times, f.plan.model_train[0]),
                "train_to": _date(self.times, f.plan.model_train[1] - 1), "windows": r["windows"],
                "retrained": f.retrained, "cached": f.cached, "epochs": f.model_info.get("epochs_run"),
                "rmse": r["model"]["rmse"], "persistence_rmse": r["persistence"]["rmse"], "skill": r["skill"],
                "mae": r["model"]["mae"], "mape_%": r["model"]["mape"], "mase": r["model"]["mase"],
                "persistence_mase": r["persistence"]["mase"], "direction": r["model"]["direction"],
            })
        return rows

    def predictions(self) -> pd.DataFrame:
        """Long table: fold, origin_time, step, time, actual, predicted, the baselines, and
        ``<method>_<level>_lo/hi`` band columns."""
        frames = []
        for f in self.folds:
            if len(f.actual) == 0:
                continue
            cols = prediction_rows(self.times, f.origin, f.actual, f.predicted, f.history, {"fold": f.index + 1})
            for method, by_level in f.bands.items():
                for level, (lo, hi) in by_level.items():
                    cols[f"{method}_{_pct(level)}_lo"] = lo.reshape(-1)
                    cols[f"{method}_{_pct(level)}_hi"] = hi.reshape(-1)
            frames.append(cols)
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def to_dict(self) -> dict:
        """A JSON-ready summary (the CLI's ``--json`` output)."""
        def metrics(report: dict) -> dict:
            return {name: {m: report[name][m] for m in ("rmse", "mae", "mape", "mase", "direction")} for name in FORECASTERS}

        return {
            "spec": self.spec.to_dict(), "backtest": self.bt.to_dict(), "stopped": self.stopped,
            "seconds": self.seconds, "models_trained": self.models_trained, "models_loaded": self.models_loaded,
            "folds_cached": self.folds_cached,
            "folds": [{**row, **{"metrics": metrics(f.report)},
                       "coverage": {m: {_pct(lv): c["coverage"] for lv, c in by.items()} for m, by in f.coverage.items()}}
                      for row, f in zip(self.fold_rows(), self.folds)],
            "overall": {"windows": self.overall.get("windows", 0), "skill": self.overall.get("skill"),
                        **(metrics(self.overall) if self.folds else {})},
            "by_horizon": self.by_horizon, "intervals": {m: {_pct(lv): v for lv, v in by.items()}
                                                         for m, by in self.intervals.items()},
            "diagnostics": self.diagnostics, "findings": [f.to_dict() for f in self.findings], "notes": self.notes,
        }


def _pct(level: float) -> str:
    return f"{level * 100:g}"


def _date(times: pd.DatetimeIndex, row: int) -> str:
    t = times[row]
    return str(t.date()) if (t.hour, t.minute, t.second) == (0, 0, 0) else t.isoformat()


def add_mase(report: dict, scale: float) -> dict:
    """MASE = MAE / scale for the model and each baseline, overall and per step."""
    for name in FORECASTERS:
        m = report[name]
        m["mase"] = m["mae"] / scale if scale > 0 else math.nan
        m["per_step"]["mase"] = [v / scale if scale > 0 else math.nan for v in m["per_step"]["mae"]]
    return report


def naive_scale(target: np.ndarray, rows: tuple[int, int]) -> float:
    """In-sample mean absolute error of the naive one-step forecast over ``rows``."""
    seg = target[rows[0]:rows[1]]
    return float(np.mean(np.abs(np.diff(seg)))) if seg.size > 1 else math.nan


def data_fingerprint(candles: pd.DataFrame, columns: tuple[str, ...]) -> str:
    h = hashlib.sha256()
    h.update(np.asarray(candles.index.asi8).tobytes())
    h.update(np.ascontiguousarray(candles[list(columns)].to_numpy(dtype=np.float64)).tobytes())
    return h.hexdigest()[:20]


def _hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:24]


def cache_root() -> Path:
    from pricecast.paths import home

    return home() / "backtests"


# ---- the walk -----------------------------------------------------------------------------------
# too complex for C901 and left so: the walk-forward loop; being split by the one-training-path work
def run_backtest(spec: RunSpec, bt: BacktestSpec | None = None, candles: pd.DataFrame | None = None,  # noqa: C901
                 progress: Progress | None = None, stop: threading.Event | None = None, use_cache: bool = True,
                 root: Path | None = None) -> BacktestResult:
    """Walk ``spec`` forward over the data. ``progress`` receives dict events — ``start``,
    ``epoch`` (fold, epoch, epochs, loss, val_loss), ``fold`` (fold, folds, cached, skill) and
    ``done`` — each with ``progress`` (0..1), ``elapsed`` and ``eta`` seconds. Setting ``stop``
    ends within one batch; the folds finished so far are returned (``stopped=True``), and the
    interrupted fold is not cached."""
    bt = bt or BacktestSpec()
    progress = progress or (lambda event: None)
    stop = stop or threading.Event()
    started = time.perf_counter()
    notes: list[str] = []
    if candles is None:
        from pricecast.data.datasets import load_data

        loaded = load_data(spec.data)
        candles, notes = loaded.candles, list(loaded.warnings)
    if bt.epochs:
        spec = spec.replace(train=replace(spec.train, epochs=int(bt.epochs)))
    window = spec.window
    window.check()
    bt.check()
    if bt.method == "recursive":
        problem = recursive_problem(window)
        if problem:
            raise BacktestError(problem)
    k, k_model = window.k, (1 if bt.method == "recursive" else window.k)
    check_model(spec.model, window.n, k_model, window.features, window.target)
    if spec.scaling not in ("minmax", "standard", "logratio"):
        raise BacktestError(f"unknown scaling '{spec.scaling}'")
    mc = bt.mc_samples > 0 and has_dropout(spec.model)
    if bt.mc_samples > 0 and not mc:
        notes.append(no_dropout_message())
    values, target = series_arrays(candles, window.features, window.target)
    times = candles.index
    plans = plan_folds(len(candles), bt, window.n, k)

    # Cache keys: everything that changes a fold's forecasts, nothing cosmetic.
    root = Path(root) if root else cache_root()
    model_common = {"v": BACKTEST_VERSION, "spec": {**spec.to_dict(), "preset": ""},
                    "data": data_fingerprint(candles, source_columns((*window.features, window.target))),
                    "method": bt.method}
    fold_common = {**model_common, "mc": bt.mc_samples if mc else 0, "levels": list(bt.levels) if mc else []}
    model_keys = {p.index: _hash({**model_common, "train": p.model_train, "val": p.model_val}) for p in plans}
    fold_keys = {p.index: _hash({**fold_common, "model": model_keys[p.index], "calib": p.val, "test": p.test})
                 for p in plans}
    cached = {p.index: use_cache and (root / "folds" / f"{fold_keys[p.index]}.npz").exists() for p in plans}
    need_models = {p.model_fold for p in plans if not cached[p.index]
                   and not (use_cache and (root / "models" / f"{model_keys[p.index]}.weights.h5").exists())}
    epochs = int(spec.train.epochs)
    total_units = len(need_models) * epochs + 0.2 * len(plans)
    done_units = 0.0

    def timing() -> dict:
        elapsed = time.perf_counter() - started
        frac = min(done_units / total_units, 1.0) if total_units else 1.0
        eta = max(0.0, elapsed / done_units * (total_units - done_units)) if done_units > 0 else None
        return {"progress": frac, "elapsed": elapsed, "eta": eta}

    progress({"type": "start", "folds": len(plans), "cached": sum(cached.values()), "models_to_train": len(need_models),
              "epochs": epochs, **timing()})

    folds: list[FoldResult] = []
    current: tuple | None = None  # (model fold, keras model, its info)
    models_trained = models_loaded = 0
    stopped = False
    for plan in plans:
        if stop.is_set():
            stopped = True
            break
        fw = fold_windows(times, values, target, window, plan, k_model)
        scaler = Scaler.fit(spec.scaling, values, target, window.features, window.target, plan.model_train)
        fkey, mkey = fold_keys[plan.index], model_keys[plan.index]
        if cached[plan.index]:
            stored = _load_fold(root, fkey)
            model_info = stored["info"]
        else:
            if current is None or current[0] != plan.model_fold:
                weights = root / "models" / f"{mkey}.weights.h5"
                model_info = {}
                if use_cache and weights.exists():
                    model = _load_model(spec, k_model, weights)
                    models_loaded += 1
                    model_info = json.loads((root / "models" / f"{mkey}.json").read_text())
                else:
                    base = done_units

                    def on_epoch(epoch: int, logs: dict, plan=plan, base=base) -> None:
                        nonlocal done_units
                        done_units = base + epoch
                        progress({"type": "epoch", "fold": plan.index + 1, "folds": len(plans), "epoch": epoch,
                                  "epochs": epochs, "loss": float(logs.get("loss", math.nan)),
                                  "val_loss": float(logs.get("val_loss", math.nan)), **timing()})

                    fitted = fit(spec, fw.windows.train, fw.windows.val, scaler, epochs=epochs, stop=stop,
                                 on_epoch=on_epoch)
                    done_units = base + epochs
                    if fitted.stopped:
                        stopped = True
                        break  # a half-trained model is neither cached nor scored
                    if fitted.diverged_at is not None:
                        raise NonFiniteLossError(f"fold {plan.index + 1}: " + divergence_message(
                            spec, fitted.diverged_at, "This fold's model was not kept." + (
                                " The folds before it are cached: a rerun starts at this fold." if use_cache and folds
                                else "")))
                    model, model_info = fitted.model, fitted.info()
                    notes += [w for w in fitted.warnings if w not in notes]
                    models_trained += 1
                    if use_cache:
                        (root / "models").mkdir(parents=True, exist_ok=True)
                        model.save_weights(weights)
                        (root / "models" / f"{mkey}.json").write_text(json.dumps(model_info))
                current = (plan.model_fold, model, model_info)
            model, model_info = current[1], current[2]
            stored = _predict_fold(model, fw, scaler, bt, k, mc, spec.train.seed + plan.index)
            stored["info"] = model_info
            if use_cache:
                _save_fold(root, fkey, stored, plan)
        done_units += 0.2
        result = _score_fold(plan, fw, scaler, target, stored, bt, cached[plan.index])
        folds.append(result)
        progress({"type": "fold", "fold": plan.index + 1, "folds": len(plans), "cached": result.cached,
                  "retrained": plan.retrain, "rmse": result.report["rmse"],
                  "persistence_rmse": result.report["persistence_rmse"], "skill": result.report["skill"], **timing()})

    out = _assemble(spec, bt, times, folds, notes, stopped, time.perf_counter() - started, models_trained,
                    sum(1 for f in folds if f.cached))
    out.models_loaded = models_loaded
    progress({"type": "done", "stopped": stopped, "seconds": out.seconds, "folds_done": len(folds),
              **timing(), "progress": 1.0 if not stopped else timing()["progress"], "eta": 0.0})
    return out


def _load_model(spec: RunSpec, k_model: int, weights: Path):
    from pricecast.training.backend import configure_device

    model = build(spec, k_model, configure_device(), [])  # the layers fit() built (mixed precision adds one)
    model.load_weights(weights)
    return model


def _predict_fold(model, fw: FoldWindows, scaler: Scaler, bt: BacktestSpec, k: int, mc: bool, seed: int) -> dict:
    stored: dict[str, Any] = {
        "calib_pred": forecast_part(model, fw.calib, scaler, bt.method, k),
        "test_pred": forecast_part(model, fw.windows.test, scaler, bt.method, k),
    }
    if mc:
        for i, (lo, hi) in enumerate(mc_bands(model, fw.windows.test, scaler, bt.method, k, bt.mc_samples,
                                              bt.levels, seed).values()):
            stored[f"mc_lo_{i}"], stored[f"mc_hi_{i}"] = lo, hi
    return stored


def _save_fold(root: Path, key: str, stored: dict, plan: FoldPlan) -> None:
    folder = root / "folds"
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {name: np.asarray(v) for name, v in stored.items() if name != "info"}
    tmp = folder / f"{key}.tmp.npz"
    np.savez(tmp, **arrays)
    (folder / f"{key}.json").write_text(json.dumps({"info": stored["info"], "plan": asdict(plan)}))
    tmp.replace(folder / f"{key}.npz")  # the .npz appears last: its presence means the fold is complete


def _load_fold(root: Path, key: str) -> dict:
    with np.load(root / "folds" / f"{key}.npz") as data:
        stored = {name: np.asarray(data[name]) for name in data.files}
    meta = root / "folds" / f"{key}.json"
    stored["info"] = json.loads(meta.read_text())["info"] if meta.exists() else {}
    return stored


def _score_fold(plan: FoldPlan, fw: FoldWindows, scaler: Scaler, target: np.ndarray, stored: dict,
                bt: BacktestSpec, was_cached: bool) -> FoldResult:
    test, calib = fw.windows.test, fw.calib
    actual, history = np.asarray(test.y), np.asarray(test.history)
    predicted = np.asarray(stored["test_pred"], dtype=np.float64)
    scale = naive_scale(target, (plan.train[0], plan.val[1]))
    report = add_mase(evaluate(actual, predicted, history), scale)
    bands: dict = {"conformal": {}}
    qs = conformal_quantiles(np.asarray(calib.y), stored["calib_pred"], np.asarray(calib.history)[:, -1], bt.levels,
                             bt.relative)
    for level, q in qs.items():
        bands["conformal"][level] = conformal_band(predicted, history[:, -1], q, bt.relative)
    if "mc_lo_0" in stored:
        bands["mc_dropout"] = {lv: (stored[f"mc_lo_{i}"], stored[f"mc_hi_{i}"]) for i, lv in enumerate(bt.levels)}
    cov = {m: {lv: coverage(actual, lo, hi) for lv, (lo, hi) in by.items()} for m, by in bands.items()}
    findings = check_scaler(scaler, fw.windows) + check_windows(fw.windows)
    return FoldResult(plan.index, plan, was_cached, dict(stored.get("info", {})), np.asarray(test.origin), actual,
                      predicted, history, report, scale, bands, cov, findings, len(calib))


def _assemble(spec: RunSpec, bt: BacktestSpec, times: pd.DatetimeIndex, folds: list[FoldResult], notes: list[str],
              stopped: bool, seconds: float, models_trained: int, folds_cached: int) -> BacktestResult:
    from pricecast.evaluation.diagnostics import diagnose

    if not folds:
        return BacktestResult(spec, bt, times, [], {}, {}, {}, {}, [], notes + ["No fold finished."], stopped, seconds,
                              models_trained, folds_cached)
    actual = np.concatenate([f.actual for f in folds])
    predicted = np.concatenate([f.predicted for f in folds])
    history = np.concatenate([f.history for f in folds])
    overall = evaluate(actual, predicted, history)
    # Overall MASE: every test point's absolute error over its own fold's scale, averaged.
    base = baseline_forecasts(history, actual.shape[1])
    scales = np.concatenate([np.full(len(f.actual), f.scale) for f in folds])[:, None]
    for name in FORECASTERS:
        fc = predicted if name == "model" else base[name]
        scaled = np.abs(fc - actual) / scales
        overall[name]["mase"] = float(scaled.mean())
        overall[name]["per_step"]["mase"] = scaled.mean(axis=0).tolist()
    k = actual.shape[1]
    by_horizon = {"step": list(range(1, k + 1)), "skill": overall["skill_per_step"]}
    for name in FORECASTERS:
        for metric in ("rmse", "mae", "mase"):
            by_horizon[f"{name}_{metric}"] = overall[name]["per_step"][metric]
    intervals: dict = {}
    for method in folds[0].bands:
        intervals[method] = {}
        for level in bt.levels:
            lo = np.concatenate([f.bands[method][level][0] for f in folds])
            hi = np.concatenate([f.bands[method][level][1] for f in folds])
            c = coverage(actual, lo, hi)
            intervals[method][level] = {**c, "text": coverage_text(level, c["coverage"], method)}
    findings = _merge_findings(folds) + check_predictions(actual, predicted, history[:, -1])
    if bt.method == "recursive":
        notes.append("Forecasts are recursive: a one-step model fed its own predictions for steps 2..K.")
    return BacktestResult(spec, bt, times, folds, overall, by_horizon, intervals, diagnose(actual, predicted), findings,
                          notes, stopped, seconds, models_trained, folds_cached)


def _merge_findings(folds: list[FoldResult]) -> list[Finding]:
    """Problems per fold (prefixed with the fold); one ok line per check when every fold passed."""
    out: list[Finding] = []
    for f in folds:
        out += [Finding(p.level, p.code, f"Fold {f.index + 1}: {p.message}", p.details) for p in problems(f.findings)]
    if not out:
        out += [Finding("ok", "scaler", f"Scalers refitted on each training window's training rows only "
                                        f"({len(folds)} folds checked)."),
                Finding("ok", "windows", f"No training or validation window's targets reach into the test fold "
                                         f"({len(folds)} folds checked).")]
    return out
