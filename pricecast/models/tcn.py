"""TCN: a stack of dilated causal 1-D convolutions (dilation 1, 2, 4, ... until the stack sees all
N steps), each block added to its input (a 1x1 convolution matches the widths where they differ).
The newest step's features, which have seen the whole window, feed the forecast head."""
from __future__ import annotations

from typing import TYPE_CHECKING

from pricecast.models.common import Architecture, ModelSpecError, batch_norm_params, dense_params, head_params
from pricecast.models.parts import Parts

if TYPE_CHECKING:
    from pricecast.models.spec import ModelSpec


def tcn_dilations(n: int, kernel: int) -> list[int]:
    """1, 2, 4, ... until one causal conv per dilation sees all ``n`` steps (at least one block).
    Receptive field of the stack: 1 + (kernel - 1) * sum(dilations)."""
    dilations = [1]
    while 1 + (kernel - 1) * sum(dilations) < n:
        dilations.append(dilations[-1] * 2)
    return dilations


def tcn_filters(spec: ModelSpec, n: int) -> list[int]:
    """Filters of each TCN block: ``units`` in order, the last repeated until the blocks cover N."""
    blocks = len(tcn_dilations(n, spec.kernel_sizes[0]))
    return [spec.units[min(i, len(spec.units) - 1)] for i in range(blocks)]


def tcn(p: Parts, x, n: int, k: int):
    spec, layers = p.spec, p.layers
    kernel = spec.kernel_sizes[0]
    filters = tcn_filters(spec, n)
    dilations = tcn_dilations(n, kernel)
    for width, dilation in zip(filters, dilations):  # check_tcn: never more filter counts than blocks
        # "causal" padding: step t sees only steps <= t, so no block peeks past the window's end
        y = layers.Conv1D(width, kernel, dilation_rate=dilation, padding="causal", activation=p.inner_act,
                          **p.common())(x)
        y = p.after_layer(y, last=False)
        skip = x if x.shape[-1] == width else layers.Conv1D(width, 1, **p.common())(x)
        x = layers.Add()([skip, y])
    return p.head(p.last_step(x, n), k)


def check_tcn(spec: ModelSpec, n: int, k: int) -> None:
    if len(spec.kernel_sizes) != 1:
        raise ModelSpecError(f"a TCN uses one kernel size for all its blocks (got {list(spec.kernel_sizes)}): "
                             f"give one, e.g. 3")
    if spec.kernel_sizes[0] < 2:
        raise ModelSpecError("a TCN needs a kernel size of at least 2 to widen its view from block to block: "
                             "use 2 or 3")
    if spec.kernel_sizes[0] > n:
        raise ModelSpecError(f"the TCN kernel ({spec.kernel_sizes[0]}) is longer than the window (N={n}): "
                             f"use a kernel of at most {n}, or raise N")
    blocks = len(tcn_dilations(n, spec.kernel_sizes[0]))
    if len(spec.units) > blocks:
        raise ModelSpecError(f"with N={n} and kernel {spec.kernel_sizes[0]} a TCN needs only {blocks} block(s) to see "
                             f"the whole window, but {len(spec.units)} filter counts were given: give at most "
                             f"{blocks} (the last repeats), or raise N")


def tcn_params(spec: ModelSpec, n: int, k: int, features: int) -> int:
    total, width = 0, features
    for filters in tcn_filters(spec, n):
        total += spec.kernel_sizes[0] * width * filters + filters + batch_norm_params(spec, filters)
        if width != filters:  # the 1x1 conv that lets the skip connection add up
            total += dense_params(width, filters)
        width = filters
    return total + head_params(spec, width, k)  # the last step only: it has seen the whole window


TCN = Architecture(
    "tcn", "TCN (dilated causal convolutions)",
    "Looks at the recent candles closely and at older ones in ever wider steps, so it sees the whole "
    "window at once and trains fast; pick it for long windows.",
    tcn, tcn_params, check_tcn, units_label="Filters per block", options=("kernel_size",), preset="tcn-btc-hourly")
