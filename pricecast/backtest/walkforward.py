"""Walk-forward backtest: train on the past, forecast the next fold, slide forward, repeat.

A single train/test split flatters or punishes a model by the luck of one period. Here the last
``folds × fold_size`` candles are cut into test folds (:mod:`.spec`); before each fold the model is
(re)trained on an expanding or rolling window of everything before it, with the scaler refitted on
that window's training rows only. Every fold is scored for the model and the naive baselines
(:mod:`.folds`) and cached on disk (:mod:`.store`), so a rerun of the same setup trains nothing; the
folds are pooled into a :class:`~.result.BacktestResult`.

Models are fitted through :func:`pricecast.training.fitting.fit`, which imports Keras when it runs.
Several setups that differ only in what :func:`pricecast.training.fused.fusion_key` lets differ (the
repeats of an experiment's trial, say) walk together (:func:`run_backtests`): each fold's windows and
scaler are made once, and one :func:`~pricecast.training.fused.fit_group` trains every setup's fold
model; each is then forecast, scored and decided as it would be alone.
"""
from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pricecast.backtest.folds import FoldWindows, fold_windows, predict_fold, score_fold
from pricecast.backtest.result import BacktestResult, FoldResult, assemble
from pricecast.backtest.spec import BacktestError, BacktestSpec, FoldPlan, plan_folds
from pricecast.backtest.store import FoldStore
from pricecast.data.datasets import load_data
from pricecast.evaluation.baselines import fallback_candidates, part_forecasts
from pricecast.evaluation.decision import decide
from pricecast.evaluation.recursive import recursive_problem
from pricecast.evaluation.uncertainty import has_dropout, no_dropout_message
from pricecast.events import Done, Epoch, Fold, FoldsPlanned, Listener, ignore
from pricecast.models.checks import check_model
from pricecast.prep.scaling import Scaler
from pricecast.prep.windows import series_arrays
from pricecast.specs import RunSpec
from pricecast.training.fitting import FitResult, NonFiniteLossError, divergence_message, fit, predict
from pricecast.training.fused import fit_group

FOLD_UNITS = 0.2  # progress units for predicting and scoring one fold (one unit = one training epoch)


@dataclass
class _Clock:
    """Progress in units of work (one per epoch to train, FOLD_UNITS per fold) with an ETA."""

    total: float
    done: float = 0.0
    started: float = field(default_factory=time.perf_counter)

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    @property
    def fraction(self) -> float:
        return min(self.done / self.total, 1.0) if self.total else 1.0

    @property
    def eta(self) -> float | None:
        return max(0.0, self.elapsed / self.done * (self.total - self.done)) if self.done > 0 else None


def check_backtest(spec: RunSpec, bt: BacktestSpec) -> int:
    """Raise :class:`BacktestError` (or the spec's own error) on a setting that cannot work; returns
    the K the model is built for (1 for recursive forecasts)."""
    spec.window.check()
    bt.check()
    if bt.method == "recursive":
        problem = recursive_problem(spec.window)
        if problem:
            raise BacktestError(problem)
    k_model = 1 if bt.method == "recursive" else spec.window.k
    check_model(spec.model, spec.window.n, k_model, spec.window.features, spec.window.target)
    if spec.scaling not in ("minmax", "standard", "logratio"):
        raise BacktestError(f"unknown scaling '{spec.scaling}'")
    return k_model


def run_backtest(spec: RunSpec, bt: BacktestSpec | None = None, candles: pd.DataFrame | None = None,
                 progress: Listener | None = None, stop: threading.Event | None = None, use_cache: bool = True,
                 root: Path | None = None) -> BacktestResult:
    """Walk ``spec`` forward over the data. ``progress`` receives :mod:`pricecast.events`:
    ``FoldsPlanned``, ``Epoch`` (with its ``fold``), ``Fold`` and ``Done``; epochs and folds carry the
    whole backtest's ``fraction`` done and ``eta`` seconds. Setting ``stop`` ends within one batch; the
    folds finished so far are returned (``stopped=True``), and the interrupted fold is not cached."""
    stop = stop or threading.Event()
    walk = _start(spec, bt or BacktestSpec(), candles, progress or ignore, stop, use_cache, root)
    result = _walk_together([walk], stop)[0]
    if isinstance(result, Exception):
        raise result
    return result


def run_backtests(specs: Sequence[RunSpec], bt: BacktestSpec | None = None, candles: pd.DataFrame | None = None,
                  stop: threading.Event | None = None, use_cache: bool = True,
                  root: Path | None = None) -> list[BacktestResult | Exception]:
    """:func:`run_backtest` for each of ``specs``, walked together: they must share their data,
    window and scaling (so each fold's windows and scaler are made once), and each fold's models are
    trained by one :func:`~pricecast.training.fused.fit_group` (as one computation where the specs
    share a fusion key and Keras runs on JAX). One result per spec, in order: its BacktestResult, or
    the exception that ended its walk (the others walk on). Setting ``stop`` ends every walk at the
    fold it is in, as :func:`run_backtest` ends. A setting that fails for the group raises."""
    if not specs:
        return []
    shared = {json.dumps([s.data, s.window.to_dict(), s.scaling], sort_keys=True, default=str) for s in specs}
    if len(shared) > 1:
        raise BacktestError("setups walked together must share their data, window and scaling")
    bt = bt or BacktestSpec()
    stop = stop or threading.Event()
    notes: list[str] = []
    if candles is None:
        loaded = load_data(specs[0].data)
        candles, notes = loaded.candles, list(loaded.warnings)
    walks = [_start(spec, bt, candles, ignore, stop, use_cache, root, notes) for spec in specs]
    return _walk_together(walks, stop)


def _start(spec: RunSpec, bt: BacktestSpec, candles: pd.DataFrame | None, progress: Listener, stop: threading.Event,
           use_cache: bool, root: Path | None, notes: Sequence[str] = ()) -> _Walk:
    """One setup's walk, checked and planned, before its first fold."""
    notes = list(notes)
    if candles is None:
        loaded = load_data(spec.data)
        candles, notes = loaded.candles, notes + list(loaded.warnings)
    if bt.epochs:
        spec = spec.replace(train=replace(spec.train, epochs=int(bt.epochs)))
    k_model = check_backtest(spec, bt)
    mc = bt.mc_samples > 0 and has_dropout(spec.model)
    if bt.mc_samples > 0 and not mc:
        notes.append(no_dropout_message())
    plans = plan_folds(len(candles), bt, spec.window.n, spec.window.k)
    store = FoldStore(root, use_cache, spec, bt, candles, plans, mc)
    return _Walk(spec, bt, candles, plans, store, k_model, mc, notes, progress, stop)


def _walk_together(walks: list[_Walk], stop: threading.Event) -> list[BacktestResult | Exception]:
    """Every walk fold by fold (they share their plans, windows and scalers). A walk whose fold
    raises ends there with that exception; a stop ends them all with the folds finished so far."""
    out: list[BacktestResult | Exception | None] = [None] * len(walks)
    going = list(range(len(walks)))
    stopped = False
    for plan in walks[0].plans:
        if stop.is_set():
            stopped = True
            break
        fw, scaler = walks[going[0]].fold_data(plan)
        to_fit = [i for i in going if walks[i].needs_fit(plan)]
        if len(to_fit) == 1:  # alone: fitted with its progress events
            fitted = {to_fit[0]: walks[to_fit[0]].fit(plan, fw, scaler)}
        else:
            group = fit_group([walks[i].spec for i in to_fit], fw.windows.train, fw.windows.val, scaler, stop=stop)
            fitted = dict(zip(to_fit, group))
        for i in list(going):
            try:
                if not walks[i].step(plan, fw, scaler, fitted.get(i)):
                    stopped = True  # a stop request ended the fit: nobody scores a half-trained model
            except Exception as exc:  # noqa: BLE001 - one walk's failure (a diverged fold) is its own result
                out[i] = exc
                going.remove(i)
        if stopped or not going:
            break
    for i in going:
        out[i] = walks[i].result(stopped)
    return out  # type: ignore[return-value]  (every walk has its result or its exception by now)


class _Walk:
    """One backtest's state while it walks: the fold model in use, what was trained or loaded, progress."""

    def __init__(self, spec: RunSpec, bt: BacktestSpec, candles: pd.DataFrame, plans: list[FoldPlan],
                 store: FoldStore, k_model: int, mc: bool, notes: list[str], progress: Listener,
                 stop: threading.Event) -> None:
        self.spec, self.bt, self.plans, self.store, self.k_model, self.mc = spec, bt, plans, store, k_model, mc
        self.notes, self.progress, self.stop = notes, progress, stop
        self.times = candles.index
        self.values, self.target = series_arrays(candles, spec.window.features, spec.window.target)
        self.cached = {p.index: store.has_fold(p) for p in self.plans}
        to_train = {p.model_fold for p in self.plans if not self.cached[p.index] and not store.has_model(p)}
        self.epochs = int(spec.train.epochs)
        self.clock = _Clock(len(to_train) * self.epochs + FOLD_UNITS * len(self.plans))
        self.current: tuple[int, Any, dict] | None = None  # (model fold, keras model, its info)
        self.models_trained = self.models_loaded = 0
        self.folds: list[FoldResult] = []
        self.progress(FoldsPlanned(folds=len(self.plans), cached=sum(self.cached.values()),
                                   models_to_train=len(to_train), epochs=self.epochs))

    def result(self, stopped: bool) -> BacktestResult:
        out = assemble(self.spec, self.bt, self.times, self.folds, self.notes, stopped,
                       time.perf_counter() - self.clock.started, self.models_trained,
                       sum(1 for f in self.folds if f.cached))
        out.models_loaded = self.models_loaded
        self.progress(Done(stopped=stopped, seconds=out.seconds))
        return out

    def fold_data(self, plan: FoldPlan) -> tuple[FoldWindows, Scaler]:
        """The fold's windows and its scaler, fitted on its model's training rows only."""
        window = self.spec.window
        fw = fold_windows(self.times, self.values, self.target, window, plan, self.k_model)
        scaler = Scaler.fit(self.spec.scaling, self.values, self.target, window.features, window.target,
                            plan.model_train)
        return fw, scaler

    def needs_fit(self, plan: FoldPlan) -> bool:
        """The fold is not cached and its model is neither in use nor cached: it must be trained."""
        in_use = self.current is not None and self.current[0] == plan.model_fold
        return not self.cached[plan.index] and not in_use and not self.store.has_model(plan)

    def step(self, plan: FoldPlan, fw: FoldWindows, scaler: Scaler, fitted: FitResult | None) -> bool:
        """Forecast and score one fold (from the cache when there) with ``fitted``, the fold's model
        where :meth:`needs_fit`; False when a stop request ended its fit."""
        window = self.spec.window
        if self.cached[plan.index]:
            stored = self.store.load_fold(plan)
        else:
            if self.current is None or self.current[0] != plan.model_fold:
                if self.store.has_model(plan):
                    model, info = self.store.load_model(plan, self.spec, self.k_model)
                    self.models_loaded += 1
                else:
                    assert fitted is not None, "a fold model to train was not fitted"
                    trained = self.keep(plan, fw, scaler, fitted)
                    if trained is None:
                        return False  # a half-trained model is neither cached nor scored
                    model, info = trained
                self.current = (plan.model_fold, model, info)
            stored = predict_fold(self.current[1], fw, scaler, self.bt, window.k, self.mc,
                                  self.spec.train.seed + plan.index)
            stored["info"] = self.current[2]
            self.store.save_fold(plan, stored)
        self.clock.done += FOLD_UNITS
        result = score_fold(plan, fw, scaler, self.target, stored, self.bt, self.cached[plan.index])
        self.folds.append(result)
        self.progress(Fold(fold=plan.index + 1, folds=len(self.plans), rmse=result.report["rmse"],
                           persistence_rmse=result.report["persistence_rmse"], skill=result.report["skill"],
                           cached=result.cached, retrained=plan.retrain, fraction=self.clock.fraction,
                           eta=self.clock.eta))
        return True

    def decision(self, fitted: FitResult, fw: FoldWindows, scaler: Scaler) -> dict:
        """Whether this fold's run would use its network or fall back (decided on the fold's own
        validation windows, as a training run does). The backtest scores the network either way."""
        val = fw.windows.val
        network = predict(fitted.model, val, scaler) if len(val) else np.empty((0, val.y.shape[1]))
        target = self.spec.window.target
        naive = part_forecasts(target, fw.windows.times, self.target, val) if len(val) else None
        made = decide(np.asarray(val.y), network, fallback_candidates(target, naive, val.y.shape[1]),
                      epochs=fitted.epochs_run,
                      p_needed=self.spec.train.floor_p, enabled=self.spec.train.persistence_floor,
                      loss=self.spec.model.loss)
        return {"decision": made.choice, "decision_p": made.p_value}

    def fit(self, plan: FoldPlan, fw: FoldWindows, scaler: Scaler) -> FitResult:
        """Fit the fold's model alone, an ``Epoch`` event after each epoch."""
        base = self.clock.done

        def on_epoch(epoch: int, logs: dict) -> None:
            self.clock.done = base + epoch
            self.progress(Epoch(epoch=epoch, epochs=self.epochs, loss=float(logs.get("loss", math.nan)),
                                val_loss=float(logs.get("val_loss", math.nan)), elapsed=self.clock.elapsed,
                                eta=self.clock.eta, fraction=self.clock.fraction, fold=plan.index + 1,
                                folds=len(self.plans)))

        fitted = fit(self.spec, fw.windows.train, fw.windows.val, scaler, epochs=self.epochs, stop=self.stop,
                     on_epoch=on_epoch)
        self.clock.done = base  # keep() books the fold's epochs
        return fitted

    def keep(self, plan: FoldPlan, fw: FoldWindows, scaler: Scaler, fitted: FitResult) -> tuple[Any, dict] | None:
        """Decide and cache the fold's fitted model; None when a stop request ended the fit."""
        self.clock.done += self.epochs
        if fitted.stopped:
            return None
        if fitted.diverged_at is not None:
            cached = " The folds before it are cached: a rerun starts at this fold." if self.store.enabled and self.folds else ""
            raise NonFiniteLossError(f"fold {plan.index + 1}: " + divergence_message(
                self.spec, fitted.diverged_at, "This fold's model was not kept." + cached))
        info = {**fitted.info(), **self.decision(fitted, fw, scaler)}
        self.notes += [w for w in fitted.warnings if w not in self.notes]
        self.models_trained += 1
        self.store.save_model(plan, fitted.model, info)
        return fitted.model, info
