"""DLinear: the window split into a moving-average trend and the remainder, one linear map from
each to the K forecasts, summed. Nothing else: the strong linear baseline."""
from __future__ import annotations

from typing import TYPE_CHECKING

from pricecast.models.common import Architecture, ModelSpecError, dense_params
from pricecast.models.parts import Parts

if TYPE_CHECKING:
    from pricecast.models.spec import ModelSpec


def trend_length(spec: ModelSpec, n: int) -> int:
    """The moving-average length: the setting, or 25 (N if shorter) when it is 0."""
    return spec.trend_window or min(25, n)


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


def check_dlinear(spec: ModelSpec, n: int, k: int) -> None:
    window = trend_length(spec, n)
    if window < 2:
        raise ModelSpecError(f"DLinear's trend window must span at least 2 candles (got {window} with N={n}): "
                             f"set it to 2 or more (0 = 25, or N if shorter), and N to at least 2")
    if window > n:
        raise ModelSpecError(f"DLinear's trend window ({window}) is longer than the window (N={n}): "
                             f"use at most {n} (0 = 25, or N if shorter), or raise N")


def dlinear_params(spec: ModelSpec, n: int, k: int, features: int) -> int:
    return 2 * dense_params(n * features, k)


DLINEAR = Architecture(
    "dlinear", "DLinear (trend + remainder, linear)",
    "Splits the past into a smooth trend and the wiggles around it and draws a straight-line forecast from each; "
    "so simple it trains in seconds, and it is the baseline the fancier networks must beat.",
    dlinear, dlinear_params, check_dlinear, units_label="", options=("trend_window",),
    no_batch_norm="it has no hidden layers", no_head_extras="it is two linear maps and nothing else",
    preset="dlinear-btc-hourly")
