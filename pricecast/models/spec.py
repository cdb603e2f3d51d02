"""What defines a network (``ModelSpec``) and the options it takes. Each architecture's label, sentence,
shape arithmetic, checks and builder are in its own module, collected in ``models.registry``. Imports no Keras."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from pricecast.field_meta import setting
from pricecast.models.registry import ARCHS

# The one list of architectures (declared in models.registry): the Model page, --arch, links, YAML, experiments.
ARCHITECTURES: tuple[str, ...] = tuple(ARCHS)
ACTIVATIONS: tuple[str, ...] = ("relu", "tanh", "leaky_relu", "linear", "sigmoid", "elu")
OUTPUT_ACTIVATIONS: tuple[str, ...] = ("linear", "relu", "leaky_relu", "tanh")
OPTIMIZERS: tuple[str, ...] = ("adam", "rmsprop", "sgd", "adamw")
REGULARIZED: tuple[str, ...] = ("kernel", "bias", "recurrent", "activity")
CNN_HEADS: tuple[str, ...] = ("dense", "conv")
LOSSES: tuple[str, ...] = ("mse", "mae", "huber", "log_cosh")


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
