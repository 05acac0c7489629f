"""Inception-v3 (Szegedy et al., "Rethinking the Inception Architecture for Computer Vision", CVPR 2016,
arXiv:1512.00567, Table 1, Figures 5, 6, 7 and 10, §6 auxiliary classifier).

The network of Table 1 at 299×299×3, laid out as the released TensorFlow model and keras.applications'
``InceptionV3`` (whose trainable parameters, 23,817,352, this build equals exactly):

- stem (Table 1 rows up to the 35×35 grid): 3×3/2 conv 32, 3×3 conv 32, 3×3 conv 64 (padded), 3×3/2
  max-pool, 1×1 conv 80, 3×3 conv 192, 3×3/2 max-pool ('valid' padding except where noted) → 35×35×192;
- 3 × 35×35 modules (Figure 5; the released model keeps one 1×1 → 5×5 branch beside the double 3×3)
  → 288 channels;
- grid reduction to 17×17 (Figure 10): stride-2 3×3 convs beside a 3×3/2 max-pool → 768;
- 4 × 17×17 modules with the 7×7 convs factorised into 1×7 and 7×1 (Figure 6, n = 7; inner widths
  128, 160, 160, 192) → 768;
- grid reduction to 8×8 (Figure 10 style, with a factorised 7×7 branch) → 1280;
- 2 × 8×8 modules with the expanded filter bank of Figure 7 (1×3 and 3×1 convs side by side) → 2048;
- global average pooling, FC ``classes``.

Every conv is conv (no bias) → BN → ReLU; the BN layers have no scale (γ), as in the released model
(ReLU follows, so γ is redundant) — ``conv_bn_noscale`` below. Module rows are kept as data in
``INCEPTION_TABLE`` and read by one builder loop; the concatenations are named ``mixed0``…``mixed10``
as in keras.applications.

Knobs:
- ``aux_logits``: ``False`` (default) builds the single-output network (the keras.applications count).
  ``True`` adds the BN auxiliary classifier of §6/§7 on the last 17×17 module (``mixed7``) and returns
  ``[main, aux]``; train with ``loss_weights=[1.0, AUX_LOSS_WEIGHT]`` and deploy
  ``inference_model(model)``, which drops the head. The head (as the released model / torchvision):
  5×5/3 average pool → 1×1 conv 128 → 5×5 'valid' conv 768 (kernel reduced to the map size on small
  inputs) → FC ``classes``. The paper gives no numeric weight for the auxiliary loss; 0.4 is the value of
  the TF-slim training script that trained the released model.
- ``stem``: ``"imagenet"`` (Table 1) or ``"small"``, the small-input variant: every stem conv is stride 1
  with 'same' padding and both stem max-pools are dropped, and the two grid reductions use 'same'
  padding, so 32×32 / 28×28 inputs run the 35×35 modules at 32 / 28 px, the 17×17 modules at 16 / 14 px
  and the 8×8 modules at 8 / 7 px.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from src.errors import ConfigError
from src.models.common import CONV_INIT, bn_act, check_choice, classifier_head, model_input
from src.models.registry import register_model

PAPER = "Szegedy et al. 2016, arXiv:1512.00567"
#: Weight of the auxiliary loss (TF-slim's ``train_image_classifier``; the paper prints no number).
AUX_LOSS_WEIGHT = 0.4
#: The auxiliary classifier sits on the output of the last 17×17 module (§6).
AUX_AFTER = "mixed7"
STEMS = ("imagenet", "small")

#: Table 1 stem: (name, filters, kernel, stride, padding) or (name, "pool") for a 3×3/2 max-pool.
STEM_TABLE: tuple[tuple, ...] = (
    ("stem_conv1", 32, 3, 2, "valid"),
    ("stem_conv2", 32, 3, 1, "valid"),
    ("stem_conv3", 64, 3, 1, "same"),
    ("stem_pool1", "pool"),
    ("stem_conv4", 80, 1, 1, "valid"),
    ("stem_conv5", 192, 3, 1, "valid"),
    ("stem_pool2", "pool"),
)

#: One row per module: (concat name, kind, width). ``width`` is the pool projection of a 35×35 module
#: (Fig. 5) or the inner width of the factorised 7×7 branches of a 17×17 module (Fig. 6, n = 7).
INCEPTION_TABLE: tuple[tuple[str, str, int | None], ...] = (
    ("mixed0", "35x35", 32),
    ("mixed1", "35x35", 64),
    ("mixed2", "35x35", 64),
    ("mixed3", "reduce_to_17x17", None),
    ("mixed4", "17x17", 128),
    ("mixed5", "17x17", 160),
    ("mixed6", "17x17", 160),
    ("mixed7", "17x17", 192),
    ("mixed8", "reduce_to_8x8", None),
    ("mixed9", "8x8", None),
    ("mixed10", "8x8", None),
)
#: Output channels of the modules at the three grids (Table 1: 288 at 35×35, 768 at 17×17, 1280 / 2048 at 8×8).
MODULE_CHANNELS = {
    "mixed0": 256, "mixed1": 288, "mixed2": 288, "mixed3": 768, "mixed4": 768, "mixed5": 768,
    "mixed6": 768, "mixed7": 768, "mixed8": 1280, "mixed9": 2048, "mixed10": 2048,
}


def inference_model(model: keras.Model) -> keras.Model:
    """The main output only of a model built with ``aux_logits=True`` (shares its weights)."""
    return keras.Model(model.input, model.outputs[0], name=f"{model.name}_inference")


def conv_bn_noscale(x, filters: int, kernel_size: int | tuple[int, int], strides: int = 1,
                    padding: str = "same", name: str = ""):
    """Conv (no bias) → BN without γ (``scale=False``, as the released model) → ReLU."""
    x = layers.Conv2D(
        filters, kernel_size, strides=strides, padding=padding, use_bias=False,
        kernel_initializer=CONV_INIT, name=f"{name}_conv",
    )(x)
    return bn_act(x, name, scale=False)


def module_35x35(x, pool_proj: int, name: str):
    """Figure 5 (released variant): 1×1 64 | 1×1 48 → 5×5 64 | 1×1 64 → 3×3 96 → 3×3 96 | avg-pool → 1×1."""
    b1 = conv_bn_noscale(x, 64, 1, name=f"{name}_1x1")
    b5 = conv_bn_noscale(x, 48, 1, name=f"{name}_5x5_reduce")
    b5 = conv_bn_noscale(b5, 64, 5, name=f"{name}_5x5")
    b3 = conv_bn_noscale(x, 64, 1, name=f"{name}_double_3x3_reduce")
    b3 = conv_bn_noscale(b3, 96, 3, name=f"{name}_double_3x3_1")
    b3 = conv_bn_noscale(b3, 96, 3, name=f"{name}_double_3x3_2")
    bp = layers.AveragePooling2D(3, 1, padding="same", name=f"{name}_pool")(x)
    bp = conv_bn_noscale(bp, pool_proj, 1, name=f"{name}_pool_proj")
    return layers.Concatenate(name=name)([b1, b5, b3, bp])


def reduce_to_17x17(x, name: str, padding: str):
    """Figure 10 grid reduction 35×35 → 17×17: 3×3/2 384 | 1×1 64 → 3×3 96 → 3×3/2 96 | 3×3/2 max-pool."""
    b3 = conv_bn_noscale(x, 384, 3, 2, padding, name=f"{name}_3x3")
    bd = conv_bn_noscale(x, 64, 1, name=f"{name}_double_3x3_reduce")
    bd = conv_bn_noscale(bd, 96, 3, name=f"{name}_double_3x3_1")
    bd = conv_bn_noscale(bd, 96, 3, 2, padding, name=f"{name}_double_3x3_2")
    bp = layers.MaxPooling2D(3, 2, padding=padding, name=f"{name}_pool")(x)
    return layers.Concatenate(name=name)([b3, bd, bp])


def module_17x17(x, c7: int, name: str):
    """Figure 6 with n = 7: 1×1 192 | 1×1 c → 1×7 c → 7×1 192 | 1×1 c → (7×1, 1×7) c ×2 → 192 | avg-pool → 1×1 192."""
    b1 = conv_bn_noscale(x, 192, 1, name=f"{name}_1x1")
    b7 = conv_bn_noscale(x, c7, 1, name=f"{name}_7x7_reduce")
    b7 = conv_bn_noscale(b7, c7, (1, 7), name=f"{name}_7x7_1")
    b7 = conv_bn_noscale(b7, 192, (7, 1), name=f"{name}_7x7_2")
    bd = conv_bn_noscale(x, c7, 1, name=f"{name}_double_7x7_reduce")
    bd = conv_bn_noscale(bd, c7, (7, 1), name=f"{name}_double_7x7_1")
    bd = conv_bn_noscale(bd, c7, (1, 7), name=f"{name}_double_7x7_2")
    bd = conv_bn_noscale(bd, c7, (7, 1), name=f"{name}_double_7x7_3")
    bd = conv_bn_noscale(bd, 192, (1, 7), name=f"{name}_double_7x7_4")
    bp = layers.AveragePooling2D(3, 1, padding="same", name=f"{name}_pool")(x)
    bp = conv_bn_noscale(bp, 192, 1, name=f"{name}_pool_proj")
    return layers.Concatenate(name=name)([b1, b7, bd, bp])


def reduce_to_8x8(x, name: str, padding: str):
    """Grid reduction 17×17 → 8×8: 1×1 192 → 3×3/2 320 | 1×1 192 → 1×7 → 7×1 → 3×3/2 192 | 3×3/2 max-pool."""
    b3 = conv_bn_noscale(x, 192, 1, name=f"{name}_3x3_reduce")
    b3 = conv_bn_noscale(b3, 320, 3, 2, padding, name=f"{name}_3x3")
    b7 = conv_bn_noscale(x, 192, 1, name=f"{name}_7x7x3_reduce")
    b7 = conv_bn_noscale(b7, 192, (1, 7), name=f"{name}_7x7x3_1")
    b7 = conv_bn_noscale(b7, 192, (7, 1), name=f"{name}_7x7x3_2")
    b7 = conv_bn_noscale(b7, 192, 3, 2, padding, name=f"{name}_7x7x3_3")
    bp = layers.MaxPooling2D(3, 2, padding=padding, name=f"{name}_pool")(x)
    return layers.Concatenate(name=name)([b3, b7, bp])


def module_8x8(x, name: str):
    """Figure 7 (expanded filter bank): 1×1 320 | 1×1 384 → [1×3, 3×1] 384 | 1×1 448 → 3×3 384 → [1×3, 3×1] 384
    | avg-pool → 1×1 192."""
    b1 = conv_bn_noscale(x, 320, 1, name=f"{name}_1x1")
    b3 = conv_bn_noscale(x, 384, 1, name=f"{name}_3x3_reduce")
    b3 = layers.Concatenate(name=f"{name}_3x3_concat")([
        conv_bn_noscale(b3, 384, (1, 3), name=f"{name}_3x3_1x3"),
        conv_bn_noscale(b3, 384, (3, 1), name=f"{name}_3x3_3x1"),
    ])
    bd = conv_bn_noscale(x, 448, 1, name=f"{name}_double_3x3_reduce")
    bd = conv_bn_noscale(bd, 384, 3, name=f"{name}_double_3x3_1")
    bd = layers.Concatenate(name=f"{name}_double_3x3_concat")([
        conv_bn_noscale(bd, 384, (1, 3), name=f"{name}_double_3x3_1x3"),
        conv_bn_noscale(bd, 384, (3, 1), name=f"{name}_double_3x3_3x1"),
    ])
    bp = layers.AveragePooling2D(3, 1, padding="same", name=f"{name}_pool")(x)
    bp = conv_bn_noscale(bp, 192, 1, name=f"{name}_pool_proj")
    return layers.Concatenate(name=name)([b1, b3, bd, bp])


def aux_classifier(x, classes: int, classifier_activation: str | None, where: str):
    """§6 BN auxiliary head: 5×5/3 avg-pool → 1×1 conv 128 → k×k 'valid' conv 768 (k = min(5, map)) → FC."""
    h, w = x.shape[1], x.shape[2]
    if h is None or w is None:
        raise ConfigError(f"{where}: aux_logits=True needs a fixed input size (its FC layer is size-dependent).")
    if h >= 5 and w >= 5:
        x = layers.AveragePooling2D(5, 3, name="aux_pool")(x)
    x = conv_bn_noscale(x, 128, 1, name="aux_proj")
    x = conv_bn_noscale(x, 768, (min(5, x.shape[1]), min(5, x.shape[2])), padding="valid", name="aux_conv")
    x = layers.Flatten(name="aux_flatten")(x)
    return layers.Dense(classes, activation=classifier_activation, name="aux_fc")(x)


def _stem(x, kind: str):
    """Table 1 stem rows, or the small-input variant (stride 1, 'same', no pools; module docstring)."""
    for row in STEM_TABLE:
        if row[1] == "pool":
            if kind == "imagenet":
                x = layers.MaxPooling2D(3, 2, name=row[0])(x)
            continue
        name, filters, kernel, stride, padding = row
        if kind == "small":
            stride, padding = 1, "same"
        x = conv_bn_noscale(x, filters, kernel, stride, padding, name=name)
    return x


def inception_v3(
    *,
    input_shape: Sequence[int] | None = None,
    classes: int = 1000,
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation: str | None = "softmax",
    name: str | None = None,
    aux_logits: bool = False,
    stem: str = "imagenet",
) -> keras.Model:
    """Inception-v3 of Table 1 (23,817,352 trainable parameters, ≈5.7 G multiply-adds at 299×299×3)."""
    where = "inception_v3"
    check_choice("aux_logits", aux_logits, (False, True), where)
    check_choice("stem", stem, STEMS, where)
    if aux_logits and not include_top:
        raise ConfigError(f"{where}: aux_logits=True needs include_top=True (the auxiliary head is a classifier).")
    inputs = model_input(input_shape, (299, 299, 3), 75 if stem == "imagenet" else 4, where)
    reduce_padding = "valid" if stem == "imagenet" else "same"
    x = _stem(inputs, stem)
    aux = None
    for module, kind, width in INCEPTION_TABLE:
        if kind == "35x35":
            x = module_35x35(x, width, module)
        elif kind == "reduce_to_17x17":
            x = reduce_to_17x17(x, module, reduce_padding)
        elif kind == "17x17":
            x = module_17x17(x, width, module)
        elif kind == "reduce_to_8x8":
            x = reduce_to_8x8(x, module, reduce_padding)
        else:
            x = module_8x8(x, module)
        if aux_logits and module == AUX_AFTER:
            aux = aux_classifier(x, classes, classifier_activation, where)
    x = classifier_head(
        x, classes=classes, include_top=include_top, pooling=pooling,
        classifier_activation=classifier_activation, where=where,
    )
    return keras.Model(inputs, [x, aux] if aux_logits else x, name=name or where)


register_model(
    "inception_v3", inception_v3, fixed={}, family="inception", paper=f"{PAPER}, Table 1",
    default_input_shape=(299, 299, 3), small_input_shape=(32, 32, 3), small_knobs={"stem": "small"},
    knob_choices={"aux_logits": (False, True), "stem": STEMS},
)
