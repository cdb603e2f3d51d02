"""DLinear: the window split into a moving-average trend and the remainder, one linear map from
each to the K forecasts, summed. Nothing else: the strong linear baseline."""
from __future__ import annotations

from pricecast.models.parts import Parts
from pricecast.models.spec import trend_length


def dlinear(p: Parts, x, n: int, k: int):
    layers = p.layers
    window = trend_length(p.spec, n)
    front, back = (window - 1) // 2, window - 1 - (window - 1) // 2
    # Edges repeated (as DLinear does) so the average keeps N steps and never averages in zeros.
    parts = []
    if front:
        parts.append(layers.UpSampling1D(front)(layers.Cropping1D((0, n - 1))(x)))
    parts.append(x)
    if back:
        parts.append(layers.UpSampling1D(back)(layers.Cropping1D((n - 1, 0))(x)))
    padded = layers.Concatenate(axis=1)(parts) if len(parts) > 1 else x
    trend = layers.AveragePooling1D(window, strides=1, padding="valid", name="trend")(padded)
    remainder = layers.Subtract(name="remainder")([x, trend])
    # its two linear maps are the whole model: L1/L2 and dropout apply to them
    outputs = []
    for name, part in (("trend", trend), ("remainder", remainder)):
        flat = layers.Flatten()(part)
        if p.spec.dropout:
            flat = layers.Dropout(p.spec.dropout)(flat)
        outputs.append(p.forecast_dense(k, name=f"{name}_forecast", **p.common())(flat))
    return layers.Add(name="forecast")(outputs)
