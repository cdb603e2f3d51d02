"""The seed tutorial's experiments as presets (its architecture table and its bias-regularizer grid),
every architecture on the user's own setup (:mod:`.architectures`), and how any experiment is
scaled down (or up) for a quicker look.
"""
from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from pricecast.catalogue import field_named
from pricecast.experiments import architectures
from pricecast.experiments.candles import load_candles
from pricecast.experiments.spec import ExperimentError, ExperimentSpec, Variation, grid
from pricecast.models.registry import ARCHITECTURES
from pricecast.models.spec import ModelSpec
from pricecast.presets import get_preset
from pricecast.specs import RunSpec, TrainSpec


@dataclass(frozen=True)
class ExperimentPreset:
    name: str
    title: str
    source: str
    spec: ExperimentSpec  # at size 1.0


def _seed_regularizer_lstm() -> ModelSpec:
    # The seed's fit_lstm(reg): LSTM(50, bias_regularizer=reg) -> tanh -> Dropout(0.2) -> Dense(K)
    # -> LeakyReLU; MSE, Adam.
    return ModelSpec(arch="lstm", units=(50,), activation="tanh", post_activation="tanh", dropout=0.2,
                     output_activation="leaky_relu", residual=False, regularize=("bias",))


SEED_BIAS_SETTINGS: tuple[tuple[str, float, float], ...] = (
    ("none", 0.0, 0.0),
    ("L1 0.1", 0.1, 0.0), ("L1 0.01", 0.01, 0.0), ("L1 0.001", 0.001, 0.0), ("L1 0.0001", 0.0001, 0.0),
    ("L2 0.1", 0.0, 0.1), ("L2 0.01", 0.0, 0.01), ("L2 0.001", 0.0, 0.001), ("L2 0.0001", 0.0, 0.0001),
)
SEED_ARCHITECTURES: tuple[str, ...] = ("seed-cnn-2-relu", "seed-cnn-2-leaky", "seed-cnn-3-relu", "seed-cnn-3-leaky",
                                       "seed-cnn-4-relu", "seed-cnn-4-leaky", "seed-lstm", "seed-gru")


def _architectures() -> ExperimentPreset:
    variations = []
    for name in SEED_ARCHITECTURES:
        preset = get_preset(name)
        variations.append(Variation(name.removeprefix("seed-"), preset.spec.model.to_dict(),
                                    preset.title.removeprefix("Seed ")))
    # Every other architecture the models package offers (the choices of ModelSpec.arch) joins the
    # table with its default settings, so one added there is compared without a change here.
    seeded = {v.overrides["arch"] for v in variations}
    others = [arch for arch in field_named("arch").choices if arch not in seeded]
    variations += [Variation(arch, ModelSpec(arch=arch).to_dict(), f"{arch.upper()} (default settings)")
                   for arch in others]
    seed_spec = get_preset("seed-lstm").spec
    # The seed's window (N=256, K=16: the seed CNNs' conv heads only fit it) over daily AAPL; the
    # tutorial's non-overlapping stride would leave a dozen windows on 13 years of daily bars, so
    # windows slide by one day here (and the split stays the tutorial's 80% training).
    base = seed_spec.replace(data="sample:AAPL", window=replace(seed_spec.window, stride=1, split=(0.8, 0.1, 0.1)),
                             preset="seed-lstm")
    also = "".join(f", {arch.upper()}" for arch in others)
    return ExperimentPreset(
        "architectures", f"Seed architectures: CNN-2/3/4 ReLU & LeakyReLU, LSTM, GRU{also}",
        "tutorial 000's table of the best validation loss per architecture (100 epochs, batch 8, MinMax, "
        "N=256, K=16); here on bundled daily AAPL with sliding windows and 5 seeds per model"
        + (f", with the other architectures ({also[2:]}) at their default settings" if others else ""),
        ExperimentSpec(name="architectures", base=base, variations=tuple(variations), repeats=5,
                       title="Seed architectures", preset="architectures"),
    )


def _bias_regularizers() -> ExperimentPreset:
    default = get_preset("default").spec
    base = default.replace(model=_seed_regularizer_lstm(),
                           train=TrainSpec(epochs=30, batch_size=8, patience=0), preset="")
    variations = tuple(Variation(f"l1={l1:g},l2={l2:g}", {"l1": l1, "l2": l2}, label)
                       for label, l1, l2 in SEED_BIAS_SETTINGS)
    return ExperimentPreset(
        "bias-regularizers", "Seed bias regularizers: LSTM(50), L1/L2 on the bias, 30 repeats",
        "tutorial 000's regularization experiment: LSTM(50) with a bias regularizer L1 or L2 at 0, 0.1, "
        "0.01, 0.001, 0.0001 (9 settings) x 30 repeats x 30 epochs, batch 8; here on bundled daily AAPL, "
        "N=30, K=5, log-ratio scaling (the seed used 5-minute BTC, which needs a download)",
        ExperimentSpec(name="bias-regularizers", base=base, variations=variations, repeats=30,
                       title="Seed bias regularizers", preset="bias-regularizers"),
    )


def _all_architectures() -> ExperimentPreset:
    return ExperimentPreset(
        architectures.NAME, f"{architectures.TITLE}: every architecture vs persistence",
        f"every architecture ({', '.join(a.upper() for a in ARCHITECTURES)}) with its preset's network where "
        f"one fits, residual output on, on your setup's data, window, scaling and split; "
        f"{architectures.REPEATS} seeds each, every trial walked forward over {architectures.FOLDS} test folds "
        "and ranked against persistence",
        architectures.all_architectures(get_preset("default").spec),
    )


# Presets built on the user's own setup (the Model page's, or the CLI's --base/--data/options):
# their variations depend on its window, so they are rebuilt from it, not laid over it.
SETUP_PRESETS: dict[str, Callable[[RunSpec], ExperimentSpec]] = {architectures.NAME: architectures.all_architectures}


def experiment_presets() -> dict[str, ExperimentPreset]:
    return {p.name: p for p in (_all_architectures(), _architectures(), _bias_regularizers())}


def min_rows(spec: RunSpec) -> int:
    """Rows a slice needs so that every part still holds a few windows."""
    w = spec.window
    smallest = min(s for s in w.split if s > 0) if any(s > 0 for s in w.split) else 1.0
    return int(math.ceil(3 * (w.n + w.k) / smallest))


def scale(exp: ExperimentSpec, size: float, rows_available: int | None = None) -> ExperimentSpec:
    """A smaller (or larger) version: repeats and epochs times ``size`` (at least 2 repeats, so
    there is a spread, and 1 epoch) and, below 1, only the most recent ``size`` share of the rows
    (never fewer than :func:`min_rows`). ``size`` 0.1 of the seed's regularizer grid: 3 repeats x 3
    epochs on a recent slice."""
    if not size > 0:
        raise ExperimentError("size must be above 0")
    if size == 1.0:
        return exp.replace(size=1.0)
    repeats = max(min(2, exp.repeats), int(round(exp.repeats * size)))
    epochs = max(1, int(round(exp.base.train.epochs * size)))
    base = exp.base.replace(train=replace(exp.base.train, epochs=epochs))
    last_rows = exp.last_rows
    if size < 1.0 and rows_available:
        wanted = max(min_rows(base), int(rows_available * size))
        last_rows = None if wanted >= rows_available else wanted
    return exp.replace(base=base, repeats=repeats, last_rows=last_rows, size=float(size))


def default_name(kind: str, exp: ExperimentSpec, size: float) -> str:
    """``bias-regularizers-sample-AAPL-s0.1``: what was compared (a preset's name), on what data, at
    what size; the same choices give the same name, so running them again resumes."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", exp.base.data).strip("-")[:30] or "data"
    if kind in SETUP_PRESETS:  # built on a setup: another N, scaling... is another experiment, not a clash
        w = exp.base.window
        setup = hashlib.sha1(json.dumps(exp.base.to_dict(), sort_keys=True, default=str).encode()).hexdigest()[:6]
        slug = f"{slug}-n{w.n}k{w.k}-{setup}"
    return f"{kind}-{slug}-s{size:g}"


CUSTOM = "custom"  # not a preset: the settings in ``axes`` compared on the ``base`` setup


def build_experiment(kind: str, *, base: RunSpec | None = None, axes: Mapping[str, Sequence[Any]] | None = None,
                     size: float = 1.0, data: str | None = None, since: str | None = None, until: str | None = None,
                     repeats: int | None = None, epochs: int | None = None, base_seed: int | None = None,
                     folds: int | None = None, name: str | None = None, title: str | None = None,
                     rows: Callable[[ExperimentSpec], int] | None = None) -> ExperimentSpec:
    """The one way a choice becomes an experiment (the Experiments page and ``experiment run``).

    ``kind``: an experiment preset, or :data:`CUSTOM` (every combination of ``axes`` on ``base``, 3
    repeats). ``base``: the setup a preset of :data:`SETUP_PRESETS` is built on (default: the default
    run preset). Then other ``data`` and date range, ``size`` (:func:`scale`; ``rows`` counts the
    rows the experiment's data has, cached by the page), and repeats, epochs, seeds, folds and name
    when given."""
    if kind == CUSTOM:
        if not axes or base is None:
            raise ExperimentError("say which settings to compare (FIELD=VALUE1,VALUE2 ...) on which setup")
        exp = ExperimentSpec(name=name or CUSTOM, base=base, variations=grid(axes), repeats=3,
                             title=title or "My setup: " + ", ".join(axes))
    else:
        presets = experiment_presets()
        if kind not in presets:
            raise ExperimentError(f"unknown experiment preset '{kind}'; choose one of {', '.join(presets)}")
        exp = presets[kind].spec
        if kind in SETUP_PRESETS and base is not None:
            exp = SETUP_PRESETS[kind](base)
    if data:
        exp = exp.replace(base=exp.base.replace(data=data))
    if since or until:
        exp = exp.replace(since=since, until=until)
    exp = scale(exp, size, (rows or (lambda e: len(load_candles(e))))(exp) if size < 1.0 else None)
    if repeats:
        exp = exp.replace(repeats=int(repeats))
    if epochs:
        exp = exp.replace(base=exp.base.replace(train=replace(exp.base.train, epochs=int(epochs))))
    if base_seed is not None:
        exp = exp.replace(base_seed=int(base_seed))
    if folds is not None:
        exp = exp.replace(folds=int(folds))
    return exp.replace(name=name or default_name(kind, exp, size))
