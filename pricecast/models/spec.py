"""What defines a network (``ModelSpec``), the architectures with a sentence each, and the shape
arithmetic the checks, the parameter count and the builders share. Imports no Keras."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from pricecast.errors import PricecastError
from pricecast.field_meta import setting

# The one list of architectures: the Model page, the CLI's --arch, links, YAML and experiments read it.
ARCHITECTURES: tuple[str, ...] = ("cnn", "lstm", "gru", "mlp", "tcn", "transformer", "nhits", "dlinear")
ARCH_LABELS: dict[str, str] = {
    "cnn": "CNN (1-D convolution)", "lstm": "LSTM (recurrent)", "gru": "GRU (recurrent)",
    "mlp": "MLP (fully connected)", "tcn": "TCN (dilated causal convolutions)",
    "transformer": "Transformer (attention over patches, PatchTST-style)",
    "nhits": "N-HiTS (stacked blocks at coarse to fine resolution)", "dlinear": "DLinear (trend + remainder, linear)",
}
# One sentence each for someone who is not a programmer: what it looks at, why pick it.
ARCH_HELP: dict[str, str] = {
    "cnn": "Slides small filters along the window to spot short patterns such as a dip followed by a bounce; "
           "quick to train, a good first try.",
    "lstm": "Reads the window candle by candle and keeps a memory of what mattered, the classic choice of the "
            "forecasting tutorials.",
    "gru": "Reads the window candle by candle like the LSTM with a simpler memory, so it trains a little faster "
           "and often does as well.",
    "mlp": "Looks at all N past values at once with plain layers of neurons; simple and fast, a useful yardstick.",
    "tcn": "Looks at the recent candles closely and at older ones in ever wider steps, so it sees the whole "
           "window at once and trains fast; pick it for long windows.",
    "transformer": "Cuts the window into short pieces and learns which pieces to pay attention to when "
                   "forecasting, the idea behind today's large models; pick it to compare with the state of the art.",
    "nhits": "Looks at the window first coarsely (the broad trend), then in ever finer detail, each step "
             "correcting what the previous one missed; pick it for forecasts several steps ahead.",
    "dlinear": "Splits the past into a smooth trend and the wiggles around it and draws a straight-line forecast "
               "from each; so simple it trains in seconds, and it is the baseline the fancier networks must beat.",
}
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
    LSTM/GRU, filters for CNN, hidden units for MLP, filters per block for TCN (the last repeats
    until the blocks see all N steps), the width of each encoder block for the Transformer, the
    hidden width of each block for N-HiTS; DLinear has no hidden layers and ignores it. Layers after
    the body go in ``dense_units``. L1/L2 apply to the weights named in ``regularize`` of the hidden
    layers, not of the output layer, as in the tutorial's regularizer experiment (DLinear, all
    output, is the exception: its two linear maps are the whole model)."""

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
    patch_len: int = setting(0, limits=(0, 5000), at_least=0,
                             help="Transformer: candles per patch, 0 = about 8 patches (N // 8)")
    heads: int = setting(2, limits=(1, 64), at_least=1, help="Transformer: attention heads per encoder block")
    trend_window: int = setting(0, limits=(0, 5000), at_least=0,
                                help="DLinear: candles in the moving average that makes the trend, 0 = 25 or N if shorter")
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


def _values(values: list[int]) -> str:
    """[11] -> "11"; [8..11] -> "8 to 11"; scattered -> "8, 12 or 16" (never "from 11 to 11")."""
    if len(values) == 1:
        return str(values[0])
    if values == list(range(values[0], values[-1] + 1)):
        return f"{values[0]} to {values[-1]}"
    shown = ", ".join(map(str, values[:5])) + (" …" if len(values) > 5 else "")
    return shown.rsplit(", ", 1)[0] + " or " + shown.rsplit(", ", 1)[1] if len(values) <= 5 else shown




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


def patch_length(spec: ModelSpec, n: int) -> int:
    """The Transformer's patch length: the setting, or N // 8 (at least 1) when it is 0."""
    return spec.patch_len or max(1, n // 8)


def nhits_pools(blocks: int, n: int) -> list[int]:
    """N-HiTS pooling per block, coarse to fine: ..., 4, 2, 1 (never more than N)."""
    return [min(2 ** (blocks - 1 - i), n) for i in range(blocks)]


def trend_length(spec: ModelSpec, n: int) -> int:
    """DLinear's moving-average length: the setting, or 25 (N if shorter) when it is 0."""
    return spec.trend_window or min(25, n)

