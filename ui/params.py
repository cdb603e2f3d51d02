"""The number of trainable-and-not weights a ModelSpec builds to, without importing Keras.

Mirrors :func:`pricecast.models.build_model` layer by layer (tests compare it with Keras'
``count_params``), so the Model page shows the size of a network as the user edits it.
"""
from __future__ import annotations

from pricecast.models import ModelSpec, conv_lengths


def estimate_params(spec: ModelSpec, n: int, k: int, features: int) -> int:
    """Parameter count of ``build_model(spec, n, k, features)`` (call ``check_model`` first)."""
    total = 0
    width = features  # channels / units flowing into the next layer

    def dense(inp: int, out: int) -> int:
        return inp * out + out

    def bn(units: int) -> int:
        return 4 * units if spec.batch_norm else 0  # gamma, beta, moving mean, moving variance

    if spec.arch in ("lstm", "gru"):
        gates = 4 if spec.arch == "lstm" else 3
        for units in spec.units:
            if spec.arch == "lstm":
                total += gates * (width * units + units * units + units)
            else:  # Keras GRU with reset_after=True keeps two bias vectors
                total += gates * (width * units + units * units + 2 * units)
            total += bn(units)
            width = units
        flat = width
    elif spec.arch == "cnn":
        count = len(spec.units)
        lengths = conv_lengths(n, spec.kernel_sizes, spec.strides)
        for i, (filters, kernel) in enumerate(zip(spec.units, spec.kernel_sizes)):
            out_layer = spec.cnn_head == "conv" and i == count - 1
            filters = 1 if out_layer else filters
            total += kernel * width * filters + filters
            width = filters
            if out_layer:
                break
            total += bn(filters)
        flat = lengths[-1] * width if lengths else n * features
    else:
        flat = n * features
        for units in spec.units:
            total += dense(flat, units) + bn(units)
            flat = units
    for units in spec.dense_units:
        total += dense(flat, units)
        flat = units
    if not (spec.arch == "cnn" and spec.cnn_head == "conv"):
        total += dense(flat, k)
    return int(total)
