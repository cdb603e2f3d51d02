"""The "all architectures" experiment: every architecture the models package offers, side by side on
one setup's data and window, ranked against persistence.

Each architecture trains with the network of its own preset where one exists (the default preset's
GRU, the hourly-BTC TCN, Transformer, N-HiTS and DLinear, the stacked LSTM of the slides), and with
``ModelSpec(arch=...)`` where none exists or where the preset's options do not fit the setup's N
and K (a Transformer patch longer than N=12, say): the variation's label says which. The residual
output is on, so every model starts from persistence; the networks are ranked by their own scores,
each trial's decision (network, or 'no change' where it did not beat it on validation) beside; the window,
scaling, split and training options are the setup's, the same for every architecture.
"""
from __future__ import annotations

from dataclasses import replace

from pricecast.experiments.spec import ExperimentError, ExperimentSpec, Variation
from pricecast.models.checks import check_model
from pricecast.models.registry import ARCHS
from pricecast.models.spec import ModelSpec
from pricecast.prep.windows import WindowSpec
from pricecast.presets import get_preset
from pricecast.specs import RunSpec

NAME = "all-architectures"
TITLE = "All architectures on your current data"
REPEATS = 5
FOLDS = 3  # walk-forward test folds per trial (0: the setup's single train/val/test split)


def _problem(model: ModelSpec, window: WindowSpec) -> str | None:
    try:
        check_model(model, window.n, window.k, window.features, window.target)
    except ValueError as exc:
        return str(exc)
    return None


def arch_model(arch: str, window: WindowSpec) -> tuple[ModelSpec, str]:
    """The network ``arch`` trains with on ``window`` and a label that says where it came from."""
    short = ARCHS[arch].short
    # The residual output needs the target among the inputs; without it each model predicts levels.
    residual = window.target in window.features
    notes = [] if residual else [f"residual off: '{window.target}' is not an input"]
    preset = ARCHS[arch].preset  # its network stands for the architecture (none: its defaults)
    if preset:
        model = replace(get_preset(preset).spec.model, residual=residual)
        if _problem(model, window) is None:
            return model, _label(f"{short} · preset {preset}", notes)
        notes.insert(0, f"{preset} does not fit N={window.n}, K={window.k}")
    model = ModelSpec(arch=arch, residual=residual)
    problem = _problem(model, window)
    if problem is not None:
        raise ExperimentError(f"{short} cannot run on N={window.n}, K={window.k} even with its default "
                              f"settings: {problem}")
    return model, _label(f"{short} · default settings", notes)


def _label(name: str, notes: list[str]) -> str:
    return f"{name} ({'; '.join(notes)})" if notes else name


def all_architectures(base: RunSpec, repeats: int = REPEATS, folds: int = FOLDS,
                      name: str = NAME) -> ExperimentSpec:
    """One variation per architecture in ``models.registry`` on ``base``'s data, window, scaling,
    split and training options; ``folds`` walk-forward folds per trial (0: the single split)."""
    variations = []
    for arch in ARCHS:
        model, label = arch_model(arch, base.window)
        variations.append(Variation(arch, model.to_dict(), label))
    return ExperimentSpec(name=name, base=base.replace(preset=""), variations=tuple(variations), repeats=repeats,
                          folds=folds, title=TITLE, preset=NAME)
