"""The pieces every architecture's builder shares: regularisers, what follows a hidden layer
(LeakyReLU, batch norm, dropout), the standard forecast head and the residual "last value".

Only built-in Keras layers, so a downloaded ``.keras`` file loads in plain Keras without
pricecast. Keras is imported inside (this module is imported by ``models.builders``, which the
dashboard imports for the spec names).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pricecast.models.spec import ModelSpec


class Parts:
    """Layer factories bound to one ``ModelSpec``; a family builder calls them in order."""

    def __init__(self, spec: ModelSpec) -> None:
        import keras
        from keras import layers

        self.spec = spec
        self.keras = keras
        self.layers = layers
        # LeakyReLU is a layer, not an activation string: layers get "linear" and a LeakyReLU after.
        self.inner_act = "linear" if spec.activation == "leaky_relu" else spec.activation
        self.post_done = False

    def reg(self, which: str):
        spec = self.spec
        if which in spec.regularize and (spec.l1 or spec.l2):
            return self.keras.regularizers.L1L2(l1=spec.l1, l2=spec.l2)
        return None

    def common(self) -> dict:
        """The regularisers of a hidden layer's weights, as keyword arguments."""
        return dict(kernel_regularizer=self.reg("kernel"), bias_regularizer=self.reg("bias"),
                    activity_regularizer=self.reg("activity"))

    def act_layer(self, name: str):
        return self.layers.LeakyReLU() if name == "leaky_relu" else self.layers.Activation(name)

    def after_layer(self, x, last: bool, norm: bool = True):
        """After a hidden layer: LeakyReLU when chosen, the body's extra activation on the last
        layer (before dropout, as in the tutorials: GRU -> tanh -> Dropout), batch norm, dropout."""
        spec = self.spec
        if spec.activation == "leaky_relu":
            x = self.layers.LeakyReLU()(x)
        if last and spec.post_activation:
            x = self.act_layer(spec.post_activation)(x)
            self.post_done = True
        if norm and spec.batch_norm:
            x = self.layers.BatchNormalization()(x)
        if spec.dropout:
            x = self.layers.Dropout(spec.dropout)(x)
        return x

    def forecast_dense(self, k: int, name: str | None = "forecast", **kwargs):
        """A Dense(K) forecast layer. Zero-initialised with the residual option: an untrained
        model forecasts "no change" (persistence)."""
        init = "zeros" if self.spec.residual else "glorot_uniform"
        return self.layers.Dense(k, kernel_initializer=init, bias_initializer="zeros", name=name, **kwargs)

    def head(self, x, k: int, forecast: bool = True):
        """The standard head on a flat body output: the extra activation (if no layer took it),
        the extra dense layers, then Dense(K) (``forecast=False``: the body already yields K)."""
        spec = self.spec
        if spec.post_activation and not self.post_done:
            x = self.act_layer(spec.post_activation)(x)
        for units in spec.dense_units:
            x = self.layers.Dense(units, activation=self.inner_act, **self.common())(x)
            if spec.activation == "leaky_relu":
                x = self.layers.LeakyReLU()(x)
        return self.forecast_dense(k)(x) if forecast else x

    def last_step(self, x, n: int):
        """(batch, n, c) -> (batch, c): the newest step."""
        return self.layers.Flatten()(self.layers.Cropping1D((n - 1, 0))(x))

    def last_value(self, inputs, n: int, width: int, index: int, k: int):
        """(batch, k): the last input step of feature ``index``, repeated K times, from built-in
        layers only (no weights, exact). Repeated rather than left (batch, 1) for ``Add`` to
        broadcast: Keras' merge layers broadcast (batch, K) + (batch, 1) wrongly when a batch holds
        exactly K examples (each row got the batch's K last values instead of its own)."""
        layers = self.layers
        last = layers.Cropping1D((n - 1, 0), name="last_step")(inputs)  # (batch, 1, width)
        by_feature = layers.Permute((2, 1), name="features_first")(last)  # (batch, width, 1)
        picked = layers.Cropping1D((index, width - index - 1), name="target_feature")(by_feature)  # (batch, 1, 1)
        repeated = layers.RepeatVector(k, name="repeat_k")(layers.Flatten(name="last_value")(picked))  # (batch, k, 1)
        return layers.Flatten(name="last_value_k")(repeated)

    def optimizer(self):
        keras = self.keras
        cls = {"adam": keras.optimizers.Adam, "rmsprop": keras.optimizers.RMSprop,
               "sgd": keras.optimizers.SGD, "adamw": keras.optimizers.AdamW}[self.spec.optimizer]
        return cls(learning_rate=self.spec.learning_rate)
