"""Custom Keras layers of older run folders, registered so their ``.keras`` models still reload.

New models use built-in layers only (``models.parts.Parts.last_value``), so their files load in plain Keras.
"""
from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="pricecast")
class LastValue(keras.layers.Layer):
    """The last input step of one feature, broadcast over the K outputs by the following Add."""

    def __init__(self, index: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.index = int(index)

    def call(self, inputs):
        return inputs[:, -1, self.index : self.index + 1]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1)

    def get_config(self) -> dict:
        return {**super().get_config(), "index": self.index}
