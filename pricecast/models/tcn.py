"""TCN: a stack of dilated causal 1-D convolutions (dilation 1, 2, 4, ... until the stack sees all
N steps), each block added to its input (a 1x1 convolution matches the widths where they differ).
The newest step's features, which have seen the whole window, feed the forecast head."""
from __future__ import annotations

from pricecast.models.parts import Parts
from pricecast.models.spec import tcn_dilations, tcn_filters


def tcn(p: Parts, x, n: int, k: int):
    spec, layers = p.spec, p.layers
    kernel = spec.kernel_sizes[0]
    filters = tcn_filters(spec, n)
    dilations = tcn_dilations(n, kernel)
    for width, dilation in zip(filters, dilations):  # check_model: never more filter counts than blocks
        # "causal" padding: step t sees only steps <= t, so no block peeks past the window's end
        y = layers.Conv1D(width, kernel, dilation_rate=dilation, padding="causal", activation=p.inner_act,
                          **p.common())(x)
        y = p.after_layer(y, last=False)
        skip = x if x.shape[-1] == width else layers.Conv1D(width, 1, **p.common())(x)
        x = layers.Add()([skip, y])
    return p.head(p.last_step(x, n), k)
