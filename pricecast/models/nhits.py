"""N-HiTS: a few MLP blocks on the flattened window, doubly residual. Each block first pools the
window (max over 2**j candles: the first blocks see it coarsely, the last at full detail), then
two hidden layers give a forecast of K values and a "backcast" of the window that is subtracted
from what the next block sees; the forecasts add up."""
from __future__ import annotations

from pricecast.models.parts import Parts
from pricecast.models.spec import nhits_pools


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
