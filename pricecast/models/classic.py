"""The tutorials' architectures: stacked LSTM/GRU, 1-D CNN (dense or conv output head), MLP."""
from __future__ import annotations

from typing import TYPE_CHECKING

from pricecast.models.common import (
    Architecture,
    ModelSpecError,
    batch_norm_params,
    dense_params,
    head_params,
    values_text,
)
from pricecast.models.parts import Parts

if TYPE_CHECKING:
    from pricecast.models.spec import ModelSpec


def recurrent(p: Parts, x, n: int, k: int):
    spec, layers = p.spec, p.layers
    cell = layers.LSTM if spec.arch == "lstm" else layers.GRU
    for i, units in enumerate(spec.units):
        last = i == len(spec.units) - 1
        x = cell(units, activation=spec.activation if spec.activation != "leaky_relu" else "tanh",
                 return_sequences=not last, recurrent_dropout=spec.recurrent_dropout,
                 recurrent_regularizer=p.reg("recurrent"), **p.common())(x)
        x = p.after_layer(x, last)
    return p.head(x, k)


def recurrent_params(spec: ModelSpec, n: int, k: int, features: int) -> int:
    total, width = 0, features
    for units in spec.units:
        if spec.arch == "lstm":
            total += 4 * (width * units + units * units + units)
        else:  # Keras GRU with reset_after=True keeps two bias vectors
            total += 3 * (width * units + units * units + 2 * units)
        total += batch_norm_params(spec, units)
        width = units
    return total + head_params(spec, width, k)


def conv_lengths(n: int, kernel_sizes: tuple[int, ...], strides: tuple[int, ...]) -> list[int]:
    """Time steps after each 'valid' Conv1D: floor((L - kernel) / stride) + 1."""
    lengths, length = [], n
    for kernel, stride in zip(kernel_sizes, strides):
        length = (length - kernel) // stride + 1
        lengths.append(length)
    return lengths


def cnn(p: Parts, x, n: int, k: int):
    spec, layers = p.spec, p.layers
    count = len(spec.units)
    for i, (filters, kernel, stride) in enumerate(zip(spec.units, spec.kernel_sizes, spec.strides)):
        if spec.cnn_head == "conv" and i == count - 1:
            # the seed's head: the last conv layer's K time steps are the forecast
            x = layers.Conv1D(1, kernel, strides=stride, activation="linear", **p.common())(x)
            return p.head(layers.Flatten()(x), k, forecast=False)
        x = layers.Conv1D(filters, kernel, strides=stride, activation=p.inner_act, **p.common())(x)
        x = p.after_layer(x, i == count - 1)
    return p.head(layers.Flatten()(x), k)


def check_cnn(spec: ModelSpec, n: int, k: int) -> None:
    if len(spec.kernel_sizes) != len(spec.units) or len(spec.strides) != len(spec.units):
        raise ModelSpecError(
            f"a CNN needs one kernel size and one stride per conv layer: {len(spec.units)} layer(s), "
            f"{len(spec.kernel_sizes)} kernel size(s), {len(spec.strides)} stride(s)"
        )
    if any(s < 1 for s in spec.strides) or any(ks < 1 for ks in spec.kernel_sizes):
        raise ModelSpecError("kernel sizes and strides must be at least 1")
    lengths = conv_lengths(n, spec.kernel_sizes, spec.strides)
    if min(lengths) < 1:
        layer = next(i for i, length in enumerate(lengths) if length < 1) + 1
        raise ModelSpecError(
            f"conv layer {layer} has nothing left to slide over with N={n} "
            f"(time steps per layer: {lengths}): raise N or use smaller kernels/strides"
        )
    if spec.cnn_head == "conv" and lengths[-1] != k:
        fits = [m for m in range(1, 4 * n + 64) if conv_lengths(m, spec.kernel_sizes, spec.strides)[-1:] == [k]
                and min(conv_lengths(m, spec.kernel_sizes, spec.strides)) >= 1]
        hint = f"N={values_text(fits)}" if fits else "other kernels/strides"
        raise ModelSpecError(
            f"this CNN's last conv layer yields {lengths[-1]} outputs for N={n} "
            f"(time steps per layer: {lengths}) but K={k} are needed: use {hint} for K={k}, "
            f"set K={lengths[-1]}, or switch the output head to 'dense'"
        )
    if spec.cnn_head not in ("dense", "conv"):
        raise ModelSpecError("CNN output head must be 'dense' or 'conv'")


def cnn_params(spec: ModelSpec, n: int, k: int, features: int) -> int:
    total, width, count = 0, features, len(spec.units)
    conv_head = spec.cnn_head == "conv"
    for i, (filters, kernel) in enumerate(zip(spec.units, spec.kernel_sizes)):
        out_layer = conv_head and i == count - 1
        filters = 1 if out_layer else filters
        total += kernel * width * filters + filters
        width = filters
        if out_layer:
            break
        total += batch_norm_params(spec, filters)
    lengths = conv_lengths(n, spec.kernel_sizes, spec.strides)
    flat = lengths[-1] * width if lengths else n * features
    return total + head_params(spec, flat, k, forecast=not conv_head)


def mlp(p: Parts, x, n: int, k: int):
    x = p.layers.Flatten()(x)
    for i, units in enumerate(p.spec.units):
        x = p.layers.Dense(units, activation=p.inner_act, **p.common())(x)
        x = p.after_layer(x, i == len(p.spec.units) - 1)
    return p.head(x, k)


def mlp_params(spec: ModelSpec, n: int, k: int, features: int) -> int:
    total, flat = 0, n * features
    for units in spec.units:
        total += dense_params(flat, units) + batch_norm_params(spec, units)
        flat = units
    return total + head_params(spec, flat, k)


CNN = Architecture(
    "cnn", "CNN (1-D convolution)",
    "Slides small filters along the window to spot short patterns such as a dip followed by a bounce; "
    "quick to train, a good first try.",
    cnn, cnn_params, check_cnn, units_label="Filters per conv layer", options=("kernel_sizes", "strides", "cnn_head"))
LSTM = Architecture(
    "lstm", "LSTM (recurrent)",
    "Reads the window candle by candle and keeps a memory of what mattered, the classic choice of the "
    "forecasting tutorials.",
    recurrent, recurrent_params, options=("recurrent_dropout",), preset="slides-stacked-lstm")
GRU = Architecture(
    "gru", "GRU (recurrent)",
    "Reads the window candle by candle like the LSTM with a simpler memory, so it trains a little faster "
    "and often does as well.",
    recurrent, recurrent_params, options=("recurrent_dropout",), preset="default")
MLP = Architecture(
    "mlp", "MLP (fully connected)",
    "Looks at all N past values at once with plain layers of neurons; simple and fast, a useful yardstick.",
    mlp, mlp_params, units_label="Units per hidden layer")
