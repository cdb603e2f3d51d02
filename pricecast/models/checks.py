"""Shape and option checks before any training, and the parameter count without Keras.

Both mirror the builders (``models.builders`` and its family modules) layer by layer, so the
Model page can say what is wrong, and how big the network is, while the user edits it.
"""
from __future__ import annotations

from pricecast.models.spec import (
    ACTIVATIONS,
    ARCH_LABELS,
    ARCHITECTURES,
    OPTIMIZERS,
    OUTPUT_ACTIVATIONS,
    REGULARIZED,
    ModelSpec,
    ModelSpecError,
    _values,
    conv_lengths,
    nhits_pools,
    patch_length,
    tcn_dilations,
    tcn_filters,
    trend_length,
)

# Options that have no place in an architecture: the check names them rather than ignoring them.
_NO_BATCH_NORM = {"transformer": "it normalises each encoder block with layer normalisation already",
                  "dlinear": "it has no hidden layers"}
_NO_HEAD_EXTRAS = {"nhits": "each block forecasts directly", "dlinear": "it is two linear maps and nothing else"}


def check_model(spec: ModelSpec, n: int, k: int, features: tuple[str, ...], target: str = "close") -> None:
    """Catch shape and option problems before any training, with a message that says the fix."""
    if spec.arch not in ARCHITECTURES:
        raise ModelSpecError(f"unknown architecture '{spec.arch}'; choose from {', '.join(ARCHITECTURES)}")
    if not spec.units or any(u < 1 for u in spec.units):
        raise ModelSpecError(f"every layer needs at least 1 unit (got {list(spec.units)})")
    if any(u < 1 for u in spec.dense_units):
        raise ModelSpecError(f"every dense layer needs at least 1 unit (got {list(spec.dense_units)})")
    for name, value in (("activation", spec.activation), ("output activation", spec.output_activation)):
        allowed = ACTIVATIONS if name == "activation" else OUTPUT_ACTIVATIONS
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
    if spec.residual and target not in features:
        raise ModelSpecError(
            f"'predict the change from the last value' needs '{target}' among the input features: "
            f"add it, or turn that option off"
        )
    label = ARCH_LABELS[spec.arch].split(" (")[0]
    if spec.batch_norm and spec.arch in _NO_BATCH_NORM:
        raise ModelSpecError(f"{label} takes no batch normalisation ({_NO_BATCH_NORM[spec.arch]}): turn it off")
    if spec.arch in _NO_HEAD_EXTRAS and (spec.dense_units or spec.post_activation):
        raise ModelSpecError(f"{label} takes no extra dense layers or activation after the body "
                             f"({_NO_HEAD_EXTRAS[spec.arch]}): leave them empty")
    {"cnn": _check_cnn, "tcn": _check_tcn, "transformer": _check_transformer,
     "dlinear": _check_dlinear}.get(spec.arch, lambda *_: None)(spec, n, k)


def _check_cnn(spec: ModelSpec, n: int, k: int) -> None:
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
        hint = f"N={_values(fits)}" if fits else "other kernels/strides"
        raise ModelSpecError(
            f"this CNN's last conv layer yields {lengths[-1]} outputs for N={n} "
            f"(time steps per layer: {lengths}) but K={k} are needed: use {hint} for K={k}, "
            f"set K={lengths[-1]}, or switch the output head to 'dense'"
        )
    if spec.cnn_head not in ("dense", "conv"):
        raise ModelSpecError("CNN output head must be 'dense' or 'conv'")


def _check_tcn(spec: ModelSpec, n: int, k: int) -> None:
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


def _check_transformer(spec: ModelSpec, n: int, k: int) -> None:
    patch = patch_length(spec, n)
    if patch > n:
        raise ModelSpecError(f"patch length {patch} is longer than the window (N={n}): use at most {n} "
                             f"(or 0 for N // 8), or raise N")
    if len(set(spec.units)) != 1:
        raise ModelSpecError(f"a Transformer's encoder blocks share one width (got {list(spec.units)}): "
                             f"repeat one number, e.g. {spec.units[0]},{spec.units[0]}")
    if spec.heads > spec.units[0]:
        raise ModelSpecError(f"{spec.heads} attention heads need a width of at least {spec.heads} "
                             f"(got {spec.units[0]}): use fewer heads or more units")


def _check_dlinear(spec: ModelSpec, n: int, k: int) -> None:
    window = trend_length(spec, n)
    if window < 2:
        raise ModelSpecError(f"DLinear's trend window must span at least 2 candles (got {window} with N={n}): "
                             f"set it to 2 or more (0 = 25, or N if shorter), and N to at least 2")
    if window > n:
        raise ModelSpecError(f"DLinear's trend window ({window}) is longer than the window (N={n}): "
                             f"use at most {n} (0 = 25, or N if shorter), or raise N")


# too complex for C901 and left so: one branch per architecture
def count_params(spec: ModelSpec, n: int, k: int, features: int) -> int:  # noqa: C901
    """Parameter count of ``build_model(spec, n, k, features)`` without importing Keras, so the
    Model page can show a network's size as the user edits it (call ``check_model`` first).
    Mirrors the builders layer by layer, for every architecture; a test compares it with Keras'."""
    total = 0
    width = features  # channels / units flowing into the next layer

    def dense(inp: int, out: int) -> int:
        return inp * out + out

    def bn(units: int) -> int:
        return 4 * units if spec.batch_norm else 0  # gamma, beta, moving mean, moving variance

    if spec.arch == "dlinear":
        return 2 * dense(n * features, k)
    if spec.arch == "nhits":
        pools = nhits_pools(len(spec.units), n)
        for i, (units, pool) in enumerate(zip(spec.units, pools)):
            total += dense((n // pool) * features, units) + bn(units) + dense(units, units) + bn(units)
            total += dense(units, k)  # the block's forecast
            if i < len(spec.units) - 1:  # the last block's backcast would feed nothing: not built
                total += dense(units, n * features)
        return int(total)
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
    elif spec.arch == "tcn":
        for filters in tcn_filters(spec, n):
            total += spec.kernel_sizes[0] * width * filters + filters + bn(filters)
            if width != filters:  # the 1x1 conv that lets the skip connection add up
                total += dense(width, filters)
            width = filters
        flat = width  # the last step only: it has seen the whole window
    elif spec.arch == "transformer":
        patch = patch_length(spec, n)
        patches, d = n // patch, spec.units[0]
        key = max(1, d // spec.heads)
        total += patch * features * d + patches * d  # patch embedding + learned position embedding
        for _ in spec.units:
            total += 3 * (d * spec.heads * key + spec.heads * key) + spec.heads * key * d + d  # attention
            total += dense(d, 2 * d) + dense(2 * d, d) + 2 * 2 * d  # feed-forward, two layer norms
        flat = patches * d
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
