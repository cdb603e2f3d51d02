"""What the model modules share below the registry: ``Architecture`` (what an architecture's
module declares about itself), the error type, the parameter count of the standard forecast head,
and how a list of valid values is said in a message. Imports nothing of the project but its error
base, so every architecture module (and the registry that collects them) can use it."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pricecast.errors import PricecastError

if TYPE_CHECKING:
    from pricecast.models.parts import Parts
    from pricecast.models.spec import ModelSpec

# ModelSpec options that only some architectures take; each architecture names the ones it takes (the
# rest of ModelSpec applies to every architecture unless ``no_batch_norm`` / ``no_head_extras`` says otherwise).
# "kernel_size" is ``kernel_sizes`` with one item, shared by every layer.
OPTIONS: tuple[str, ...] = ("kernel_sizes", "kernel_size", "strides", "cnn_head", "recurrent_dropout", "patch_len",
                            "heads", "trend_window")


def _no_check(spec: ModelSpec, n: int, k: int) -> None:
    return None


@dataclass(frozen=True)
class Architecture:
    """One architecture, declared once by its module and collected in ``models.registry``."""

    name: str  # as in --arch, links and YAML
    label: str  # "TCN (dilated causal convolutions)"
    help: str  # one sentence for someone who is not a programmer: what it looks at, why pick it
    # body + head: (Parts, inputs, n, k) -> the (batch, K) forecast before the output activation
    build: Callable[[Parts, Any, int, int], Any]
    # weights of build_model(spec, n, k, features) without Keras (the residual "last value" has none)
    count_params: Callable[[ModelSpec, int, int, int], int]
    check: Callable[[ModelSpec, int, int], None] = _no_check  # shape problems, with the fix
    units_label: str = "Units per layer"  # what ModelSpec.units means here ("" = it takes none)
    options: tuple[str, ...] = ()  # which of OPTIONS it takes
    no_batch_norm: str = ""  # why it takes no batch normalisation ("" = it does)
    no_head_extras: str = ""  # why it takes no extra dense layers / activation after the body
    preset: str = ""  # the run preset whose network stands for it in "all architectures" ("" = defaults)

    @property
    def short(self) -> str:
        """"TCN" from "TCN (dilated causal convolutions)"."""
        return self.label.split(" (")[0]


class ModelSpecError(PricecastError):
    """A model that cannot be built as specified, with what to change."""


def dense_params(inputs: int, outputs: int) -> int:
    return inputs * outputs + outputs


def batch_norm_params(spec: ModelSpec, units: int) -> int:
    return 4 * units if spec.batch_norm else 0  # gamma, beta, moving mean, moving variance


def head_params(spec: ModelSpec, flat: int, k: int, forecast: bool = True) -> int:
    """``Parts.head``'s weights: the extra dense layers, then Dense(K) unless the body yields K itself."""
    total = 0
    for units in spec.dense_units:
        total += dense_params(flat, units)
        flat = units
    return total + (dense_params(flat, k) if forecast else 0)


def values_text(values: list[int]) -> str:
    """[11] -> "11"; [8..11] -> "8 to 11"; scattered -> "8, 12 or 16" (never "from 11 to 11")."""
    if len(values) == 1:
        return str(values[0])
    if values == list(range(values[0], values[-1] + 1)):
        return f"{values[0]} to {values[-1]}"
    shown = ", ".join(map(str, values[:5])) + (" …" if len(values) > 5 else "")
    return shown.rsplit(", ", 1)[0] + " or " + shown.rsplit(", ", 1)[1] if len(values) <= 5 else shown
