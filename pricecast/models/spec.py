"""What defines a network (``ModelSpec``) and the options it takes. Each architecture's label, sentence,
shape arithmetic, checks and builder are in its own module, collected in ``models.registry``; those
modules take a ``ModelSpec``, so this module names none of them (the catalogue reads ``arch``'s
choices from the registry). Imports no Keras."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from pricecast.field_meta import setting

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

    # its choices: the registry's architectures (models.registry.ARCHITECTURES), filled in by the catalogue
    arch: str = setting("gru", help="the network architecture",
                        label="Architecture",
                        explain="The kind of network; the line below the choices says what the chosen one looks at "
                                "and why you would pick it. Several units = stacked layers (blocks).")
    units: tuple[int, ...] = setting((32,), limits=(1, 4096), at_least=1, min_items=1,
                                     help="units (filters for CNN) per layer, e.g. 50,50",
                                     label="Units per layer",
                                     explain="Size of each layer, comma-separated, one number per layer: '32' is one "
                                             "layer of 32, '64, 32' stacks two layers. Bigger layers can learn more "
                                             "but overfit more easily.")
    kernel_sizes: tuple[int, ...] = setting((3,), limits=(1, 5000), at_least=1, min_items=1,
                                            help="CNN kernel size per conv layer",
                                            label="Kernel sizes",
                                            explain="How many neighbouring candles each filter looks at: one number "
                                                    "per conv layer for a CNN; one for every block for a TCN, whose "
                                                    "filters look twice as far apart with each block, so more blocks "
                                                    "are added until they see all N candles.")
    strides: tuple[int, ...] = setting((1,), limits=(1, 5000), at_least=1, min_items=1,
                                       help="CNN stride per conv layer",
                                       label="Strides",
                                       explain="How far each filter jumps between looks, one per conv layer. Bigger "
                                               "strides shrink the sequence faster.")
    # "dense": flatten + Dense(K); "conv": last conv layer is the output (seed)
    cnn_head: str = setting("dense", choices=CNN_HEADS,
                            help="CNN output: dense (flatten + Dense(K)) or conv (the last conv layer outputs K)",
                            label="Output head",
                            explain="'dense' flattens the last conv layer and adds a dense output of K values (works "
                                    "for any N); 'conv' makes the last conv layer output the K values itself, as the "
                                    "seed tutorial did (N must fit).")
    patch_len: int = setting(0, limits=(0, 5000), at_least=0,
                             help="Transformer: candles per patch, 0 = about 8 patches (N // 8)",
                             label="Patch length (0 = N // 8)",
                             explain="How many candles make one patch (the pieces attention compares). 0 = N // 8, "
                                     "about 8 patches; the oldest candles that do not fill a patch are left out.")
    heads: int = setting(2, limits=(1, 64), at_least=1, help="Transformer: attention heads per encoder block",
                         label="Attention heads",
                         explain="How many different ways of comparing patches each block learns at once (at most the"
                                 " block's width).")
    trend_window: int = setting(0, limits=(0, 5000), at_least=0,
                                help="DLinear: candles in the moving average that makes the trend, 0 = 25 or N if shorter",
                                label="Trend window (0 = 25 or N)",
                                explain="How many candles the moving average spans that separates the smooth trend "
                                        "from the wiggles. 0 = 25 candles, or N if the window is shorter.")
    dense_units: tuple[int, ...] = setting((), limits=(1, 4096), at_least=1,
                                           help="hidden Dense layers after the body, e.g. 25 (empty: none)",
                                           label="Extra dense layers",
                                           explain="Optional extra fully-connected layers after the main body, "
                                                   "comma-separated (empty for none).")
    activation: str = setting("tanh", choices=ACTIVATIONS, help="activation inside the layers",
                              label="Activation",
                              explain="The non-linearity inside the layers. tanh suits GRU/LSTM; relu or leaky_relu "
                                      "suit CNN and MLP.")
    output_activation: str = setting("linear", choices=OUTPUT_ACTIVATIONS, help="activation of the forecast layer",
                                     label="Output activation",
                                     explain="Applied to the forecast itself. Keep 'linear' unless reproducing a "
                                             "tutorial: relu, for example, can never forecast a fall below zero in "
                                             "scaled units.")
    # an Activation layer after the body (the seed's GRU adds tanh there)
    post_activation: str = setting("", choices=("", *ACTIVATIONS),
                                   help="an extra activation after the body",
                                   label="Activation after the body",
                                   explain="An extra activation right after the main body (the seed GRU used tanh "
                                           "here). Empty for none.")
    dropout: float = setting(0.0, limits=(0.0, 0.9), at_least=0.0, below=1.0, help="dropout share, 0 = off",
                             label="Dropout", widget="slider", step=0.05,
                             explain="Randomly silences this share of the layer's outputs while training, which "
                                     "fights overfitting. 0 = off, 0.2 is typical; very high values (0.8) make "
                                     "learning slow.")
    recurrent_dropout: float = setting(0.0, limits=(0.0, 0.9), at_least=0.0, below=1.0,
                                       help="GRU/LSTM dropout on the memory connections, 0 = off",
                                       label="Recurrent dropout", widget="slider", step=0.05,
                                       explain="Dropout on the memory connections. Slows training noticeably.")
    batch_norm: bool = setting(False, help="batch normalization after each layer",
                               label="Batch normalisation",
                               explain="Re-centres each layer's outputs during training; can speed learning of deeper"
                                       " networks.")
    l1: float = setting(0.0, limits=(0.0, 1.0), at_least=0.0, help="L1 penalty, 0 = off",
                        label="L1 penalty", step=1e-5,
                        explain="L1 penalty: pushes unneeded weights to exactly zero. 0 = off; try 1e-5..1e-3.")
    l2: float = setting(0.0, limits=(0.0, 1.0), at_least=0.0, help="L2 penalty (weight decay), 0 = off",
                        label="L2 penalty", step=1e-5,
                        explain="L2 penalty (weight decay): keeps weights small, which fights overfitting. 0 = off; "
                                "try 1e-5..1e-3.")
    regularize: tuple[str, ...] = setting(("kernel",), choices=REGULARIZED,
                                          help="which weights L1/L2 apply to, comma-separated",
                                          label="Penalise which weights",
                                          explain="Which weights the L1/L2 penalties apply to (kernel = the main "
                                                  "weights).")
    residual: bool = setting(True, help="predict the change from the last value",
                             label="Predict the change",
                             explain="The model forecasts the change from the last known price rather than the price "
                                     "itself, and an untrained model starts at 'no change' (persistence). "
                                     "Recommended.")
    optimizer: str = setting("adam", choices=OPTIMIZERS, help="how the weights are updated",
                             label="Optimizer",
                             explain="How the weights are updated. Adam is a safe default.")
    learning_rate: float = setting(1e-3, limits=(1e-6, 1.0), above=0.0, help="step size of each update",
                                   label="Learning rate", step=1e-4,
                                   explain="How big each update step is. Too big: the loss jumps around or explodes. "
                                           "Too small: learning crawls. 0.001 is a good start for Adam.")
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
