"""Keras builders: ``build_model(spec, n, k, features)`` for every architecture of ``ModelSpec``.

Each architecture's body and head come from its module through ``models.registry`` (``classic``:
CNN/LSTM/GRU/MLP, ``tcn``, ``transformer``, ``nhits``, ``dlinear``); they share ``models.parts``.
Keras is imported inside the functions that build, so importing this module stays cheap — the
dashboard opens without TensorFlow.
"""
from __future__ import annotations

from pricecast.models.checks import check_model
from pricecast.models.parts import Parts
from pricecast.models.registry import ARCHS
from pricecast.models.spec import ModelSpec


def build_model(spec: ModelSpec, n: int, k: int, features: tuple[str, ...], target: str = "close"):
    """A compiled Keras model mapping (batch, n, len(features)) to (batch, k)."""
    check_model(spec, n, k, features, target)
    parts = Parts(spec)
    keras = parts.keras
    inputs = keras.Input(shape=(n, len(features)), name="window")
    x = ARCHS[spec.arch].build(parts, inputs, n, k)
    if spec.output_activation != "linear":
        x = parts.act_layer(spec.output_activation)(x)
    if spec.residual:
        last = parts.last_value(inputs, n, len(features), features.index(target), k)
        x = keras.layers.Add(name="plus_last_value")([x, last])
    model = keras.Model(inputs, x, name=f"pricecast_{spec.arch}")
    model.compile(optimizer=parts.optimizer(), loss=spec.loss)
    return model


def model_summary(model) -> str:
    """Keras' text summary as a string."""
    lines: list[str] = []
    model.summary(print_fn=lambda line, *a, **kw: lines.append(line), line_length=90)
    return "\n".join(lines)
