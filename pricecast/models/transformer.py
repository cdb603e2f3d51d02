"""A small Transformer encoder over patches (PatchTST-style): the N steps are cut into patches of
P candles (the oldest N % P steps are dropped), each patch is embedded linearly and given a
learned position, encoder blocks (multi-head self-attention and a feed-forward layer, each added
to its input and layer-normalised) mix them, and the flattened patches feed the forecast head."""
from __future__ import annotations

from pricecast.models.parts import Parts
from pricecast.models.spec import patch_length


def transformer(p: Parts, x, n: int, k: int):
    spec, layers = p.spec, p.layers
    patch = patch_length(spec, n)
    patches, d, width = n // patch, spec.units[0], x.shape[-1]
    if n % patch:
        x = layers.Cropping1D((n % patch, 0), name="whole_patches")(x)
    x = layers.Reshape((patches, patch * width), name="patches")(x)
    # One shared linear map per patch plus a bias per (patch, unit): the linear patch embedding and
    # the learned position embedding in one built-in layer.
    x = layers.EinsumDense("bpc,cd->bpd", output_shape=(patches, d), bias_axes="pd", name="patch_embedding",
                           kernel_regularizer=p.reg("kernel"), bias_regularizer=p.reg("bias"))(x)
    for i in range(len(spec.units)):
        attended = layers.MultiHeadAttention(spec.heads, max(1, d // spec.heads), dropout=spec.dropout,
                                             kernel_regularizer=p.reg("kernel"), bias_regularizer=p.reg("bias"),
                                             name=f"attention_{i + 1}")(x, x)
        x = layers.LayerNormalization(epsilon=1e-6)(layers.Add()([x, attended]))
        y = layers.Dense(2 * d, activation=p.inner_act, **p.common())(x)
        y = p.after_layer(y, last=False, norm=False)
        y = layers.Dense(d, **p.common())(y)
        x = layers.LayerNormalization(epsilon=1e-6)(layers.Add()([x, y]))
    return p.head(layers.Flatten()(x), k)
