"""The tutorials' architectures: stacked LSTM/GRU, 1-D CNN (dense or conv output head), MLP."""
from __future__ import annotations

from pricecast.models.parts import Parts


def recurrent(p: Parts, x, n: int, k: int):
    spec, layers = p.spec, p.layers
    cell = layers.LSTM if spec.arch == "lstm" else layers.GRU
    for i, units in enumerate(spec.units):
        last = i == len(spec.units) - 1
        x = cell(units, activation=spec.activation if spec.activation != "leaky_relu" else "tanh",
                 return_sequences=not last, recurrent_dropout=spec.recurrent_dropout,
                 recurrent_regularizer=p.reg("recurrent"), **p.common())(x)
        x = p.after_layer(x, last)
    return p.head(x, k)


def cnn(p: Parts, x, n: int, k: int):
    spec, layers = p.spec, p.layers
    count = len(spec.units)
    for i, (filters, kernel, stride) in enumerate(zip(spec.units, spec.kernel_sizes, spec.strides)):
        if spec.cnn_head == "conv" and i == count - 1:
            # the seed's head: the last conv layer's K time steps are the forecast
            x = layers.Conv1D(1, kernel, strides=stride, activation="linear", **p.common())(x)
            return p.head(layers.Flatten()(x), k, forecast=False)
        x = layers.Conv1D(filters, kernel, strides=stride, activation=p.inner_act, **p.common())(x)
        x = p.after_layer(x, i == count - 1)
    return p.head(layers.Flatten()(x), k)


def mlp(p: Parts, x, n: int, k: int):
    x = p.layers.Flatten()(x)
    for i, units in enumerate(p.spec.units):
        x = p.layers.Dense(units, activation=p.inner_act, **p.common())(x)
        x = p.after_layer(x, i == len(p.spec.units) - 1)
    return p.head(x, k)
