"""Shape and option checks before any training, and the parameter count without Keras.

The checks common to every architecture are here; each architecture adds its own shape check and
parameter count in its module (``models.registry``), mirroring its builder layer by layer, so the
Model page can say what is wrong, and how big the network is, while the user edits it.
"""
from __future__ import annotations

from pricecast.models.common import ModelSpecError
from pricecast.models.registry import ARCHITECTURES, ARCHS
from pricecast.models.spec import ACTIVATIONS, OPTIMIZERS, OUTPUT_ACTIVATIONS, REGULARIZED, ModelSpec


def _check_options(spec: ModelSpec) -> None:
    for name, value, allowed in (("activation", spec.activation, ACTIVATIONS),
                                 ("output activation", spec.output_activation, OUTPUT_ACTIVATIONS)):
        if value not in allowed:
            raise ModelSpecError(f"unknown {name} '{value}'; choose from {', '.join(allowed)}")
    if spec.post_activation and spec.post_activation not in ACTIVATIONS:
        raise ModelSpecError(f"unknown activation '{spec.post_activation}'; choose from {', '.join(ACTIVATIONS)}")
    if not 0.0 <= spec.dropout < 1.0 or not 0.0 <= spec.recurrent_dropout < 1.0:
        raise ModelSpecError("dropout must be at least 0 and below 1")
    if spec.l1 < 0 or spec.l2 < 0:
        raise ModelSpecError("L1 and L2 factors must be 0 or more")
    bad = [r for r in spec.regularize if r not in REGULARIZED]
    if bad:
        raise ModelSpecError(f"cannot regularize {', '.join(bad)}; choose from {', '.join(REGULARIZED)}")
    if spec.optimizer not in OPTIMIZERS:
        raise ModelSpecError(f"unknown optimizer '{spec.optimizer}'; choose from {', '.join(OPTIMIZERS)}")
    if not spec.learning_rate > 0:
        raise ModelSpecError("learning rate must be above 0")


def check_model(spec: ModelSpec, n: int, k: int, features: tuple[str, ...], target: str = "close") -> None:
    """Catch shape and option problems before any training, with a message that says the fix."""
    arch = ARCHS.get(spec.arch)
    if arch is None:
        raise ModelSpecError(f"unknown architecture '{spec.arch}'; choose from {', '.join(ARCHITECTURES)}")
    if not spec.units or any(u < 1 for u in spec.units):
        raise ModelSpecError(f"every layer needs at least 1 unit (got {list(spec.units)})")
    if any(u < 1 for u in spec.dense_units):
        raise ModelSpecError(f"every dense layer needs at least 1 unit (got {list(spec.dense_units)})")
    _check_options(spec)
    if spec.residual and target not in features:
        raise ModelSpecError(
            f"'predict the change from the last value' needs '{target}' among the input features: "
            f"add it, or turn that option off"
        )
    if spec.batch_norm and arch.no_batch_norm:
        raise ModelSpecError(f"{arch.short} takes no batch normalisation ({arch.no_batch_norm}): turn it off")
    if arch.no_head_extras and (spec.dense_units or spec.post_activation):
        raise ModelSpecError(f"{arch.short} takes no extra dense layers or activation after the body "
                             f"({arch.no_head_extras}): leave them empty")
    arch.check(spec, n, k)


def count_params(spec: ModelSpec, n: int, k: int, features: int) -> int:
    """Parameter count of ``build_model(spec, n, k, features)`` without importing Keras, so the
    Model page can show a network's size as the user edits it (call ``check_model`` first). Each
    architecture counts its own layers; a test compares every one with Keras'."""
    return int(ARCHS[spec.arch].count_params(spec, n, k, features))
