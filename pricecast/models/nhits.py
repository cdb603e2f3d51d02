"""N-HiTS: a few MLP blocks on the flattened window, doubly residual. Each block first pools the
window (max over 2**j candles: the first blocks see it coarsely, the last at full detail), then
two hidden layers give a forecast of K values and a "backcast" of the window that is subtracted
from what the next block sees; the forecasts add up."""
from __future__ import annotations

from typing import TYPE_CHECKING

from pricecast.models.common import Architecture, batch_norm_params, dense_params
from pricecast.models.parts import Parts

if TYPE_CHECKING:
    from pricecast.models.spec import ModelSpec


def nhits_pools(blocks: int, n: int) -> list[int]:
    """Pooling per block, coarse to fine: ..., 4, 2, 1 (never more than N)."""
    return [min(2 ** (blocks - 1 - i), n) for i in range(blocks)]


def nhits(p: Parts, x, n: int, k: int):
    spec, layers = p.spec, p.layers
    width = x.shape[-1]
    forecasts = []
    pools = nhits_pools(len(spec.units), n)
    for i, (units, pool) in enumerate(zip(spec.units, pools)):
        y = x
        if pool > 1:
            # drop the oldest steps that do not fill a pool: the newest candles always count
            if n % pool:
                y = layers.Cropping1D((n % pool, 0))(y)
            y = layers.MaxPooling1D(pool)(y)
        y = layers.Flatten()(y)
        for _ in range(2):
            y = layers.Dense(units, activation=p.inner_act, **p.common())(y)
            y = p.after_layer(y, last=False)
        last = i == len(spec.units) - 1
        forecasts.append(p.forecast_dense(k, name="forecast" if last and len(spec.units) == 1 else None)(y))
        if not last:
            backcast = layers.Reshape((n, width))(layers.Dense(n * width)(y))
            x = layers.Subtract()([x, backcast])
    return forecasts[0] if len(forecasts) == 1 else layers.Add(name="forecast")(forecasts)


def nhits_params(spec: ModelSpec, n: int, k: int, features: int) -> int:
    total = 0
    for i, (units, pool) in enumerate(zip(spec.units, nhits_pools(len(spec.units), n))):
        total += dense_params((n // pool) * features, units) + batch_norm_params(spec, units)
        total += dense_params(units, units) + batch_norm_params(spec, units)
        total += dense_params(units, k)  # the block's forecast
        if i < len(spec.units) - 1:  # the last block's backcast would feed nothing: not built
            total += dense_params(units, n * features)
    return total


NHITS = Architecture(
    "nhits", "N-HiTS (stacked blocks at coarse to fine resolution)",
    "Looks at the window first coarsely (the broad trend), then in ever finer detail, each step correcting what "
    "the previous one missed; pick it for forecasts several steps ahead.",
    nhits, nhits_params, units_label="Units per block", no_head_extras="each block forecasts directly",
    preset="nhits-btc-hourly")
