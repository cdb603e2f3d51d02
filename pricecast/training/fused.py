"""Trials trained together: the networks of several trials that share their shapes, stepped on the
same batches as one vectorised computation.

Why: networks this small spend their time in per-step overhead, not arithmetic, so one training at a
time fills neither these two cores nor a GPU (measured in docs/BENCHMARKS.md, "Trials trained together").

How: each trial's model is built exactly as :func:`~pricecast.training.fitting.fit` builds it (its
own seed: its own initial weights and dropout stream). Their weights are stacked along a new first
axis, and one compiled JAX function — ``jax.vmap`` over the Keras model's ``stateless_call``, its
gradient, and the optimizer's ``stateless_apply`` — steps all of them on one batch. The branches
share nothing but the batches: disjoint weights; each its own optimizer state (every optimizer
offered is element-wise, so a stacked Adam is R Adams); its own L1/L2 coefficients (applied here per
branch, so a regularizer grid trains as one group); its own loss. Each branch keeps its own
best-validation weights, early stopping, NaN guard and stop, and ends as its own :class:`FitResult`.

What is shared, exactly: the validation windows and the compiled step, nothing a branch learns
from. Each branch draws its own batch order from its own seed, as the ``batches`` pipeline draws it
(:class:`~pricecast.training.feeding.BatchOrder`): one order for all would make the repeats of a
setting differ only in their initial weights, and their spread (what tells a real difference from
luck) collapse (measured: five fused GRU repeats spread 25x less than five trained apart). A branch
trains as the same trial trained alone: the same weights to float rounding (tests/training/test_fused.py,
against ``fit`` on arrays without shuffling). Dropout masks follow each branch's own seed, as alone.

JAX only (``KERAS_BACKEND=jax``; the experiment runner starts its trial workers with it). On another
backend :func:`fit_group` trains the specs one after another with ``fit``: same results, no speed-up.
"""
from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pricecast.prep.scaling import Scaler
from pricecast.prep.windows import WindowPart
from pricecast.specs import RunSpec
from pricecast.training.backend import configure_device, load_keras, set_seed
from pricecast.training.fitting import FitResult, build, fit, inner_optimizer

# Most branches one group trains: past it a group's step is compute-bound (no gain from fusing more)
# and a kill loses more finished work. Chosen with bench/experiments.py (docs/BENCHMARKS.md).
GROUP_LIMIT = 32
# Validation windows evaluated per call (bounds the memory of R branches' forecasts).
VAL_CHUNK = 4096
# Distinct inputs whose forecasts a group keeps (a run asks for two: its parts, its latest window).
_KEPT_OUTPUTS = 2

# Settings that do not change how a network trains step by step (the decision after training, the
# progress events, how batches are fed), or that fusing applies per branch (seed, L1/L2): trials that
# differ only in these train together.
_PER_BRANCH = {"train": ("seed", "persistence_floor", "floor_p", "per_batch_updates", "live_val_predictions",
                         "pipeline", "workers", "jit_compile"),
               "model": ("l1", "l2", "regularize")}


def fusion_key(spec: RunSpec) -> str | None:
    """Trials with equal keys can train as one group; ``None``: this trial trains alone (float16
    training, or an activity regularizer, whose penalty depends on the batch and is not per weight)."""
    if spec.train.mixed_precision or ("activity" in spec.model.regularize and (spec.model.l1 or spec.model.l2)):
        return None
    plain = spec.to_dict()
    plain.pop("preset", None)
    for part, names in _PER_BRANCH.items():
        for name in names:
            plain[part].pop(name, None)
    return json.dumps(plain, sort_keys=True, default=str)


@dataclass(frozen=True)
class Fusion:
    """How a fused trial was trained (saved in its metrics as ``fused``)."""

    branches: int
    batch_seed: int  # the seed this branch's batch order was drawn from (its own)
    group_seconds: float  # the whole group's training time (each branch reports its share)

    def to_dict(self) -> dict:
        return {"branches": self.branches, "batch_seed": self.batch_seed, "group_seconds": self.group_seconds}


@dataclass
class _Branches:
    """Per-branch bookkeeping of a fused fit (index r is branch r)."""

    size: int
    patience: int
    active: np.ndarray = field(init=False)
    best: np.ndarray = field(init=False)
    best_epoch: np.ndarray = field(init=False)
    wait: np.ndarray = field(init=False)
    epochs_run: np.ndarray = field(init=False)
    diverged: list = field(init=False)
    rows: list = field(init=False)

    def __post_init__(self) -> None:
        r = self.size
        self.active = np.ones(r, dtype=bool)
        self.best = np.full(r, math.inf)
        self.best_epoch = np.zeros(r, dtype=int)
        self.wait = np.zeros(r, dtype=int)
        self.epochs_run = np.zeros(r, dtype=int)
        self.diverged = [None] * r
        self.rows = [[] for _ in range(r)]

    def end_epoch(self, epoch: int, batch_losses: np.ndarray, sizes: np.ndarray, val: np.ndarray | None,
                  seconds: float) -> tuple[np.ndarray, np.ndarray]:
        """Book one epoch for the active branches as ``fit``'s callbacks would (NaN guard, best
        weights, early stopping). Returns the masks of branches whose weights are their new best
        and of branches that end here (their last weights are kept for those with no best)."""
        improved = np.zeros(self.size, dtype=bool)
        ending = np.zeros(self.size, dtype=bool)
        for r in np.flatnonzero(self.active):
            losses = batch_losses[:, r]
            bad = np.flatnonzero(~np.isfinite(losses))
            loss = float(np.sum(losses * sizes) / np.sum(sizes)) if len(losses) else math.nan
            v = float(val[r]) if val is not None else None
            self.rows[r].append({"loss": loss, **({} if v is None else {"val_loss": v}), "seconds": seconds})
            self.epochs_run[r] = epoch
            if len(bad):  # StopOnNonFiniteLoss: training ends at the first NaN batch
                self.diverged[r] = (epoch, int(bad[0]) + 1)
                ending[r] = True
                continue
            if v is not None and np.isfinite(v) and v < self.best[r]:  # BestWeights
                self.best[r], self.best_epoch[r] = v, epoch
                improved[r] = True
            if self.patience > 0 and v is not None:  # keras.callbacks.EarlyStopping(patience)
                self.wait[r] += 1
                if improved[r]:
                    self.wait[r] = 0
                elif self.wait[r] >= self.patience and epoch > 1:
                    ending[r] = True
        self.active &= ~ending
        return improved, ending


def fit_group(specs: Sequence[RunSpec], train_part: WindowPart, val_part: WindowPart, scaler: Scaler, *,
              stop: threading.Event | None = None) -> list[FitResult]:
    """``fit`` for each spec, trained together when they share a :func:`fusion_key` and the
    backend is JAX (else one after another). One FitResult per spec, in order; a fused one carries
    ``fusion``."""
    keras = load_keras()
    keys = {fusion_key(s) for s in specs}
    if len(specs) < 2 or keras.backend.backend() != "jax" or len(keys) != 1 or None in keys:
        return [fit(s, train_part, val_part, scaler, stop=stop) for s in specs]
    from pricecast.training.feeding import fits_in_memory

    if not fits_in_memory(train_part):
        return [fit(s, train_part, val_part, scaler, stop=stop) for s in specs]
    return _fit_fused(list(specs), train_part, val_part, scaler, stop)


def _coefficients(models: list) -> tuple[np.ndarray, np.ndarray]:
    """Each branch's L1 and L2 coefficient per trainable weight, (R, weights), from the
    regularizers its layers were built with (0 where none)."""
    l1 = np.zeros((len(models), len(models[0].trainable_variables)), dtype=np.float32)
    l2 = np.zeros_like(l1)
    for r, model in enumerate(models):
        for i, variable in enumerate(model.trainable_variables):
            reg = getattr(variable, "regularizer", None)
            if reg is None:
                continue
            l1[r, i], l2[r, i] = float(getattr(reg, "l1", 0.0) or 0.0), float(getattr(reg, "l2", 0.0) or 0.0)
    return l1, l2


def _fit_fused(specs: list[RunSpec], train_part: WindowPart, val_part: WindowPart, scaler: Scaler,
               stop: threading.Event | None) -> list[FitResult]:
    from pricecast.training.feeding import scaled_arrays

    device = configure_device()
    k = int(np.shape(train_part.y)[1])
    models, warnings = [], []
    for spec in specs:
        set_seed(spec.train.seed)
        said: list[str] = []
        models.append(build(spec, k, device, said))
        warnings.append(said)
    shapes = [tuple(v.shape) for v in models[0].weights]
    if any([tuple(v.shape) for v in m.weights] != shapes for m in models):
        return [fit(s, train_part, val_part, scaler, stop=stop) for s in specs]  # not one shape after all
    steps = _Steps(models, specs[0].model.loss)
    train = scaled_arrays(train_part, scaler)
    val = scaled_arrays(val_part, scaler) if len(val_part) > 0 else None
    books, stopped, seconds = _train(steps, specs[0].train, [int(s.train.seed) for s in specs], train, val, stop)
    learning_rate = float(np.asarray(steps.optimizer.learning_rate))
    steps.settle(books.best_epoch > 0)
    results = []
    for r, model in enumerate(models):
        kept = books.best_epoch[r] > 0
        steps.put_back(r, model)
        history = pd.DataFrame(books.rows[r])
        history.insert(0, "epoch", np.arange(1, len(history) + 1))
        history["seconds"] = history["seconds"] / len(specs)  # each branch's share of the group's epoch
        results.append(FitResult(
            model, history, int(books.best_epoch[r]) if kept else 0, float(books.best[r]) if kept else None,
            stopped, books.diverged[r], [float(t) for t in history["seconds"]], seconds / len(specs), learning_rate,
            warnings[r], device, len(train_part), len(val_part),
            fusion=Fusion(len(specs), int(specs[r].train.seed), seconds), forecaster=_BranchForecaster(steps, r, model)))
    return results


def _train(steps: _Steps, tspec, seeds: list[int], train: tuple[np.ndarray, np.ndarray],
           val: tuple[np.ndarray, np.ndarray] | None, stop: threading.Event | None) -> tuple[_Branches, bool, float]:
    """The epochs: every branch on its own batches (one batch for all where nothing is shuffled),
    then each branch booked as ``fit`` would."""
    from pricecast.training.feeding import BatchOrder

    x, y = train
    batch = tspec.batch_size
    # each branch's order as the batches pipeline draws it with the branch's seed
    orders = [BatchOrder(len(x), tspec.shuffle, seed) for seed in (seeds if tspec.shuffle else seeds[:1])]
    books = _Branches(steps.size, tspec.patience if val is not None else 0)
    stopped = False
    started = time.perf_counter()
    for epoch in range(1, tspec.epochs + 1):
        epoch_started = time.perf_counter()
        losses, sizes = [], []
        for b in range(math.ceil(len(x) / batch)):
            idx = np.stack([order.batch(b, batch) for order in orders])  # (branches or 1, batch)
            losses.append(steps.step(x[idx], y[idx]) if len(orders) > 1 else steps.step_one(x[idx[0]], y[idx[0]]))
            sizes.append(idx.shape[1])
            if stop is not None and stop.is_set():
                stopped = True
                break
        for order in orders:
            order.next_epoch()
        val_loss = steps.val_loss(*val) if val is not None and not stopped else None
        improved, ending = books.end_epoch(epoch, steps.fetch(losses), np.asarray(sizes, dtype=float), val_loss,
                                           time.perf_counter() - epoch_started)
        steps.remember(improved, ending)
        if stopped or not books.active.any():
            break
    steps.remember(np.zeros(steps.size, dtype=bool), books.active)  # the last weights of those still going
    return books, stopped, time.perf_counter() - started


class _Steps:
    """The stacked weights of R models with one template, and the compiled functions that step,
    evaluate and keep them."""

    def __init__(self, models: list, loss: str) -> None:
        import jax
        import jax.numpy as jnp

        keras = load_keras()
        self.jnp, self.size = jnp, len(models)
        self.template = template = models[0]

        def stacked(variables_of) -> list:
            return [jnp.stack([jnp.asarray(variables_of(m)[i].value) for m in models])
                    for i in range(len(variables_of(template)))]

        self.tv, self.ntv = stacked(lambda m: m.trainable_variables), stacked(lambda m: m.non_trainable_variables)
        self.best = self.end = (self.tv, self.ntv)
        l1, l2 = (jnp.asarray(a) for a in _coefficients(models))
        first = inner_optimizer(template)
        self.optimizer = optimizer = type(first).from_config(first.get_config())
        optimizer.build([keras.Variable(t) for t in self.tv])
        self.ov = [v.value for v in optimizer.variables]
        loss_fn = keras.losses.get(loss)

        def penalty(weights, l1_r, l2_r):
            total = jnp.float32(0.0)
            for i, w in enumerate(weights):
                total = total + l1_r[i] * jnp.sum(jnp.abs(w)) + l2_r[i] * jnp.sum(jnp.square(w))
            return total

        def branch_loss(weights, state, l1_r, l2_r, xb, yb):
            predicted, state = template.stateless_call(weights, state, xb, training=True)
            return jnp.mean(loss_fn(yb, predicted)) + penalty(weights, l1_r, l2_r), state

        def stepper(batch_axis):  # None: one batch for every branch; 0: a batch per branch
            gradient = jax.vmap(jax.value_and_grad(branch_loss, has_aux=True),
                                in_axes=(0, 0, 0, 0, batch_axis, batch_axis))

            def step(tv, ntv, ov, xb, yb):
                (losses, ntv), grads = gradient(tv, ntv, l1, l2, xb, yb)
                tv, ov = optimizer.stateless_apply(ov, grads, tv)
                return tv, ntv, ov, losses
            return jax.jit(step)

        def val_sum(weights, state, xb, yb):
            predicted, _ = template.stateless_call(weights, state, xb, training=False)
            return jnp.sum(loss_fn(yb, predicted))

        def keep(mask, new, old):
            return [jnp.where(mask.reshape((-1,) + (1,) * (n.ndim - 1)), n, o) for n, o in zip(new, old)]

        self._step, self._step_one = stepper(0), stepper(None)
        self._val_sum = jax.jit(jax.vmap(val_sum, in_axes=(0, 0, None, None)))
        self._penalty = jax.jit(lambda tv: jax.vmap(penalty)(tv, l1, l2))
        self._keep = jax.jit(keep)

    def step(self, xb: np.ndarray, yb: np.ndarray):
        """A batch per branch (R, batch, ...); the losses (R,) stay on the device until :meth:`fetch`."""
        self.tv, self.ntv, self.ov, losses = self._step(self.tv, self.ntv, self.ov, xb, yb)
        return losses

    def step_one(self, xb: np.ndarray, yb: np.ndarray):
        """One batch for every branch (nothing shuffled: every branch's order is the same)."""
        self.tv, self.ntv, self.ov, losses = self._step_one(self.tv, self.ntv, self.ov, xb, yb)
        return losses

    def fetch(self, losses: list) -> np.ndarray:
        return np.asarray(self.jnp.stack(losses)) if losses else np.empty((0, self.size))

    def val_loss(self, xv: np.ndarray, yv: np.ndarray) -> np.ndarray:
        """Each branch's validation loss as Keras reports it: the mean loss plus its penalty."""
        total = sum(np.asarray(self._val_sum(self.tv, self.ntv, xv[i : i + VAL_CHUNK], yv[i : i + VAL_CHUNK]))
                    for i in range(0, len(xv), VAL_CHUNK))
        return total / len(xv) + np.asarray(self._penalty(self.tv))

    def remember(self, improved: np.ndarray, ending: np.ndarray) -> None:
        """Copy the current weights of the ``improved`` branches as their best and of the
        ``ending`` ones as their last (both stay on the device)."""
        for mask, name in ((improved, "best"), (ending, "end")):
            if mask.any():
                tv, ntv = getattr(self, name)
                m = self.jnp.asarray(mask)
                setattr(self, name, (self._keep(m, self.tv, tv), self._keep(m, self.ntv, ntv)))

    def settle(self, kept: np.ndarray) -> None:
        """Fix each branch's final weights: its best where it had one, else its last; compile the
        forecaster every branch predicts with."""
        import jax

        m = self.jnp.asarray(kept)
        self.final = (self._keep(m, self.best[0], self.end[0]), self._keep(m, self.best[1], self.end[1]))
        template = self.template

        def forecast(weights, state, xb):
            return template.stateless_call(weights, state, xb, training=False)[0]

        self._forecast = jax.jit(jax.vmap(forecast, in_axes=(0, 0, None)))
        self._outputs: dict[bytes, np.ndarray] = {}
        # on the host once for the group: slicing a device array per branch compiles a program per shape
        self._host = ([np.asarray(a) for a in self.final[0]], [np.asarray(a) for a in self.final[1]],
                      [np.asarray(a) for a in self.ov])

    def outputs(self, x: np.ndarray) -> np.ndarray:
        """Every branch's scaled forecasts for scaled inputs ``x``, (R, m, K). The answers are
        kept: each branch's run asks for the same windows in turn (its parts, then its latest
        window), so the group computes each once."""
        import hashlib

        x = np.ascontiguousarray(x, dtype=np.float32)
        key = hashlib.blake2b(x.tobytes(), digest_size=16).digest() + str(x.shape).encode()
        if key not in self._outputs:
            tv, ntv = self.final
            parts = [np.asarray(self._forecast(tv, ntv, x[i : i + VAL_CHUNK])) for i in range(0, len(x), VAL_CHUNK)]
            if len(self._outputs) >= _KEPT_OUTPUTS:
                self._outputs.pop(next(iter(self._outputs)))
            self._outputs[key] = np.concatenate(parts, axis=1)
        return self._outputs[key]

    def put_back(self, r: int, model) -> None:
        """Branch ``r``'s final weights (see :meth:`settle`) into its own Keras model."""
        tv, ntv, ov = self._host
        for variables, stack in ((model.trainable_variables, tv), (model.non_trainable_variables, ntv)):
            for variable, values in zip(variables, stack):
                variable.assign(values[r])
        # its optimizer's state as training left it (as a separate training saves it with the model)
        own = inner_optimizer(model)
        own.build(model.trainable_variables)
        for variable, values in zip(own.variables, ov):
            variable.assign(values if values.shape == tuple(variable.shape) else values[r])


class _BranchForecaster:
    """What ``predict`` and ``forecast_next`` call instead of one fused trial's model: its slice of
    the group's forecasts (one compiled function for the group). Dropout left on (MC dropout) is
    the model's own call."""

    def __init__(self, steps: _Steps, branch: int, model) -> None:
        self.steps, self.branch, self.model = steps, branch, model
        self.output_shape = model.output_shape

    def predict(self, x: np.ndarray, batch_size: int | None = None, verbose: int = 0) -> np.ndarray:
        return self.steps.outputs(x)[self.branch]

    def __call__(self, x: np.ndarray, training: bool = False):
        return self.model(x, training=True) if training else self.steps.outputs(x)[self.branch]
