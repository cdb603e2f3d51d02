"""Model specs and Keras builders: 1-D CNN, LSTM, GRU (stacked), MLP, with their options.

Keras is imported inside the builder functions so that importing this module (for the spec,
the shape checks and the parameter estimate) stays cheap — the dashboard opens without TensorFlow.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from pricecast.errors import PricecastError
from pricecast.field_meta import setting

ARCHITECTURES: tuple[str, ...] = ("cnn", "lstm", "gru", "mlp")
ACTIVATIONS: tuple[str, ...] = ("relu", "tanh", "leaky_relu", "linear", "sigmoid", "elu")
OUTPUT_ACTIVATIONS: tuple[str, ...] = ("linear", "relu", "leaky_relu", "tanh")
OPTIMIZERS: tuple[str, ...] = ("adam", "rmsprop", "sgd", "adamw")
REGULARIZED: tuple[str, ...] = ("kernel", "bias", "recurrent", "activity")
CNN_HEADS: tuple[str, ...] = ("dense", "conv")
LOSSES: tuple[str, ...] = ("mse", "mae", "huber", "log_cosh")


class ModelSpecError(PricecastError):
    """A model that cannot be built as specified, with what to change."""


@dataclass(frozen=True)
class ModelSpec:
    """Everything that defines a network. ``units`` is one entry per layer: recurrent units for
    LSTM/GRU, filters for CNN, hidden units for MLP. Layers after the body go in ``dense_units``.
    L1/L2 apply to the weights named in ``regularize`` of the hidden layers, not of the output
    layer, as in the tutorial's regularizer experiment."""

    arch: str = setting("gru", choices=ARCHITECTURES, help="the network architecture")
    units: tuple[int, ...] = setting((32,), limits=(1, 4096), at_least=1, min_items=1,
                                     help="units (filters for CNN) per layer, e.g. 50,50")
    kernel_sizes: tuple[int, ...] = setting((3,), limits=(1, 5000), at_least=1, min_items=1,
                                            help="CNN kernel size per conv layer")
    strides: tuple[int, ...] = setting((1,), limits=(1, 5000), at_least=1, min_items=1,
                                       help="CNN stride per conv layer")
    # "dense": flatten + Dense(K); "conv": last conv layer is the output (seed)
    cnn_head: str = setting("dense", choices=CNN_HEADS,
                            help="CNN output: dense (flatten + Dense(K)) or conv (the last conv layer outputs K)")
    dense_units: tuple[int, ...] = setting((), limits=(1, 4096), at_least=1,
                                           help="hidden Dense layers after the body, e.g. 25 (empty: none)")
    activation: str = setting("tanh", choices=ACTIVATIONS, help="activation inside the layers")
    output_activation: str = setting("linear", choices=OUTPUT_ACTIVATIONS, help="activation of the forecast layer")
    # an Activation layer after the body (the seed's GRU adds tanh there)
    post_activation: str = setting("", choices=("", *ACTIVATIONS),
                                   help="an extra activation after the body")
    dropout: float = setting(0.0, limits=(0.0, 0.9), at_least=0.0, below=1.0, help="dropout share, 0 = off")
    recurrent_dropout: float = setting(0.0, limits=(0.0, 0.9), at_least=0.0, below=1.0,
                                       help="GRU/LSTM dropout on the memory connections, 0 = off")
    batch_norm: bool = setting(False, help="batch normalization after each layer")
    l1: float = setting(0.0, limits=(0.0, 1.0), at_least=0.0, help="L1 penalty, 0 = off")
    l2: float = setting(0.0, limits=(0.0, 1.0), at_least=0.0, help="L2 penalty (weight decay), 0 = off")
    regularize: tuple[str, ...] = setting(("kernel",), choices=REGULARIZED,
                                          help="which weights L1/L2 apply to, comma-separated")
    residual: bool = setting(True, help="predict the change from the last value")
    optimizer: str = setting("adam", choices=OPTIMIZERS, help="how the weights are updated")
    learning_rate: float = setting(1e-3, limits=(1e-6, 1.0), above=0.0, help="step size of each update")
    loss: str = setting("mse", choices=LOSSES, help="what training minimises")

    def __post_init__(self) -> None:
        for name in ("units", "kernel_sizes", "strides", "dense_units", "regularize"):
            value = getattr(self, name)
            if isinstance(value, (int, str)):
                value = (value,)
            object.__setattr__(self, name, tuple(value))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ModelSpec:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def replace(self, **changes) -> ModelSpec:
        return ModelSpec.from_dict({**self.to_dict(), **changes})


def conv_lengths(n: int, kernel_sizes: tuple[int, ...], strides: tuple[int, ...]) -> list[int]:
    """Time steps after each 'valid' Conv1D: floor((L - kernel) / stride) + 1."""
    lengths, length = [], n
    for kernel, stride in zip(kernel_sizes, strides):
        length = (length - kernel) // stride + 1
        lengths.append(length)
    return lengths


# too complex for C901 and left so: one check per architecture option, each with its message
def check_model(spec: ModelSpec, n: int, k: int, features: tuple[str, ...], target: str = "close") -> None:  # noqa: C901
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
    if spec.arch == "cnn":
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
            fits = [m for m in range(max(1, n - 4 * n), 4 * n + 64) if conv_lengths(m, spec.kernel_sizes, spec.strides)[-1:] == [k]
                    and min(conv_lengths(m, spec.kernel_sizes, spec.strides)) >= 1]
            hint = f"N={_values(fits)}" if fits else "other kernels/strides"
            raise ModelSpecError(
                f"this CNN's last conv layer yields {lengths[-1]} outputs for N={n} "
                f"(time steps per layer: {lengths}) but K={k} are needed: use {hint} for K={k}, "
                f"set K={lengths[-1]}, or switch the output head to 'dense'"
            )
        if spec.cnn_head not in ("dense", "conv"):
            raise ModelSpecError("CNN output head must be 'dense' or 'conv'")


def _values(values: list[int]) -> str:
    """[11] -> "11"; [8..11] -> "8 to 11"; scattered -> "8, 12 or 16" (never "from 11 to 11")."""
    if len(values) == 1:
        return str(values[0])
    if values == list(range(values[0], values[-1] + 1)):
        return f"{values[0]} to {values[-1]}"
    shown = ", ".join(map(str, values[:5])) + (" …" if len(values) > 5 else "")
    return shown.rsplit(", ", 1)[0] + " or " + shown.rsplit(", ", 1)[1] if len(values) <= 5 else shown


def count_params(spec: ModelSpec, n: int, k: int, features: int) -> int:
    """Parameter count of ``build_model(spec, n, k, features)`` without importing Keras, so the
    Model page can show a network's size as the user edits it (call ``check_model`` first).
    Mirrors ``build_model`` layer by layer; a test compares it with Keras' own count."""
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


# too complex for C901 and left so: one branch per architecture option
def build_model(spec: ModelSpec, n: int, k: int, features: tuple[str, ...], target: str = "close"):  # noqa: C901
    """A compiled Keras model mapping (batch, n, len(features)) to (batch, k)."""
    check_model(spec, n, k, features, target)
    import keras
    from keras import layers

    def reg(which: str):
        if which in spec.regularize and (spec.l1 or spec.l2):
            return keras.regularizers.L1L2(l1=spec.l1, l2=spec.l2)
        return None

    def act_layer(name: str):
        return layers.LeakyReLU() if name == "leaky_relu" else layers.Activation(name)

    inner_act = "linear" if spec.activation == "leaky_relu" else spec.activation
    common = dict(kernel_regularizer=reg("kernel"), bias_regularizer=reg("bias"), activity_regularizer=reg("activity"))
    post_done = False

    def after_layer(x, last: bool):
        # LeakyReLU is a layer, not an activation string; the body's extra activation comes before
        # dropout, as in the tutorials (GRU -> tanh -> Dropout); then the optional BN and dropout.
        nonlocal post_done
        if spec.activation == "leaky_relu":
            x = layers.LeakyReLU()(x)
        if last and spec.post_activation:
            x = act_layer(spec.post_activation)(x)
            post_done = True
        if spec.batch_norm:
            x = layers.BatchNormalization()(x)
        if spec.dropout:
            x = layers.Dropout(spec.dropout)(x)
        return x

    inputs = keras.Input(shape=(n, len(features)), name="window")
    x = inputs
    if spec.arch in ("lstm", "gru"):
        cell = layers.LSTM if spec.arch == "lstm" else layers.GRU
        for i, units in enumerate(spec.units):
            last = i == len(spec.units) - 1
            x = cell(units, activation=spec.activation if spec.activation != "leaky_relu" else "tanh",
                     return_sequences=not last, recurrent_dropout=spec.recurrent_dropout,
                     recurrent_regularizer=reg("recurrent"), **common)(x)
            x = after_layer(x, last)
    elif spec.arch == "cnn":
        count = len(spec.units)
        for i, (filters, kernel, stride) in enumerate(zip(spec.units, spec.kernel_sizes, spec.strides)):
            out_layer = spec.cnn_head == "conv" and i == count - 1
            x = layers.Conv1D(1 if out_layer else filters, kernel, strides=stride,
                              activation="linear" if out_layer else inner_act, **common)(x)
            if out_layer:
                break
            x = after_layer(x, i == count - 1)
        x = layers.Flatten()(x)
    else:
        x = layers.Flatten()(x)
        for i, units in enumerate(spec.units):
            x = layers.Dense(units, activation=inner_act, **common)(x)
            x = after_layer(x, i == len(spec.units) - 1)
    if spec.post_activation and not post_done:
        x = act_layer(spec.post_activation)(x)
    for units in spec.dense_units:
        x = layers.Dense(units, activation=inner_act, **common)(x)
        if spec.activation == "leaky_relu":
            x = layers.LeakyReLU()(x)
    if not (spec.arch == "cnn" and spec.cnn_head == "conv"):
        # Zero-initialised with the residual option: an untrained model forecasts "no change".
        init = "zeros" if spec.residual else "glorot_uniform"
        x = layers.Dense(k, kernel_initializer=init, bias_initializer="zeros", name="forecast")(x)
    if spec.output_activation != "linear":
        x = act_layer(spec.output_activation)(x)
    if spec.residual:
        x = layers.Add(name="plus_last_value")([x, _last_value(inputs, n, len(features), features.index(target))])
    model = keras.Model(inputs, x, name=f"pricecast_{spec.arch}")
    model.compile(optimizer=_optimizer(spec), loss=spec.loss)
    return model


def _last_value(inputs, n: int, width: int, index: int):
    """(batch, 1): the last input step of feature ``index``, from built-in Keras layers only (no
    weights, exact), so a downloaded ``.keras`` file loads in plain Keras without pricecast."""
    from keras import layers

    last = layers.Cropping1D((n - 1, 0), name="last_step")(inputs)  # (batch, 1, width)
    by_feature = layers.Permute((2, 1), name="features_first")(last)  # (batch, width, 1)
    picked = layers.Cropping1D((index, width - index - 1), name="target_feature")(by_feature)  # (batch, 1, 1)
    return layers.Flatten(name="last_value")(picked)


def _optimizer(spec: ModelSpec):
    import keras

    cls = {"adam": keras.optimizers.Adam, "rmsprop": keras.optimizers.RMSprop,
           "sgd": keras.optimizers.SGD, "adamw": keras.optimizers.AdamW}[spec.optimizer]
    return cls(learning_rate=spec.learning_rate)


def model_summary(model) -> str:
    """Keras' text summary as a string."""
    lines: list[str] = []
    model.summary(print_fn=lambda line, *a, **kw: lines.append(line), line_length=90)
    return "\n".join(lines)
