"""A small Transformer encoder over patches (PatchTST-style): the N steps are cut into patches of
P candles (the oldest N % P steps are dropped), each patch is embedded linearly and given a
learned position, encoder blocks (multi-head self-attention and a feed-forward layer, each added
to its input and layer-normalised) mix them, and the flattened patches feed the forecast head."""
from __future__ import annotations

from typing import TYPE_CHECKING

from pricecast.models.common import Architecture, ModelSpecError, dense_params, head_params
from pricecast.models.parts import Parts

if TYPE_CHECKING:
    from pricecast.models.spec import ModelSpec


def patch_length(spec: ModelSpec, n: int) -> int:
    """The patch length: the setting, or N // 8 (at least 1) when it is 0."""
    return spec.patch_len or max(1, n // 8)


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


def check_transformer(spec: ModelSpec, n: int, k: int) -> None:
    patch = patch_length(spec, n)
    if patch > n:
        raise ModelSpecError(f"patch length {patch} is longer than the window (N={n}): use at most {n} "
                             f"(or 0 for N // 8), or raise N")
    if len(set(spec.units)) != 1:
        raise ModelSpecError(f"a Transformer's encoder blocks share one width (got {list(spec.units)}): "
                             f"repeat one number, e.g. {spec.units[0]},{spec.units[0]}")
    if spec.heads > spec.units[0]:
        raise ModelSpecError(f"{spec.heads} attention heads need a width of at least {spec.heads} "
                             f"(got {spec.units[0]}): use fewer heads or more units")


def transformer_params(spec: ModelSpec, n: int, k: int, features: int) -> int:
    patch = patch_length(spec, n)
    patches, d = n // patch, spec.units[0]
    key = max(1, d // spec.heads)
    total = patch * features * d + patches * d  # patch embedding + learned position embedding
    for _ in spec.units:
        total += 3 * (d * spec.heads * key + spec.heads * key) + spec.heads * key * d + d  # attention
        total += dense_params(d, 2 * d) + dense_params(2 * d, d) + 2 * 2 * d  # feed-forward, two layer norms
    return total + head_params(spec, patches * d, k)


TRANSFORMER = Architecture(
    "transformer", "Transformer (attention over patches, PatchTST-style)",
    "Cuts the window into short pieces and learns which pieces to pay attention to when forecasting, the idea "
    "behind today's large models; pick it to compare with the state of the art.",
    transformer, transformer_params, check_transformer, units_label="Width per encoder block",
    options=("patch_len", "heads"), no_batch_norm="it normalises each encoder block with layer normalisation already",
    preset="transformer-btc-hourly")
