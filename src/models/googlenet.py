"""GoogLeNet / Inception-v1 (Szegedy et al., "Going Deeper with Convolutions", CVPR 2015, arXiv:1409.4842).

The network of the paper's Table 1, with the Inception modules read from the table as data (#1×1,
#3×3 reduce, #3×3, #5×5 reduce, #5×5, pool proj) and the two auxiliary classifiers of §5 attached to
the outputs of 4a and 4d. The original has no batch normalisation (convs carry biases); the local
response normalisation layers of the original stem are omitted (as in torchvision / most
re-implementations: they have no parameters, no multiply-adds, and would need a custom op for a
builtins-only TFLite export).

Knobs:
- ``aux_logits``: ``False`` (default) builds the single-output inference network. ``True`` builds the
  training network of §5 with outputs ``[main, aux1, aux2]``; train it with
  ``loss_weights=[1.0, AUX_LOSS_WEIGHT, AUX_LOSS_WEIGHT]`` (the paper weights each auxiliary loss by
  0.3) and deploy ``inference_model(model)``, which shares the weights and drops the auxiliary heads.
  Each aux head: 5×5/3 average pool → 1×1 conv 128 + ReLU → FC 1024 + ReLU → dropout 0.7 → FC classes.
- ``batch_norm``: ``False`` (paper) or ``True`` (BN after every conv, convs without bias; helps short
  trainings from scratch, as torchvision's GoogLeNet).
- ``stem``: ``"imagenet"`` (paper: 7×7/2 conv, 3×3/2 max-pool, 1×1 + 3×3 convs, 3×3/2 max-pool) or
  ``"small"``, the small-input variant: 3×3/1 first conv and neither early max-pool, 'same' padding,
  so 28×28 / 32×32 inputs reach the 4x modules at 14–16 px and the last modules at 7–8 px.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from src.errors import ConfigError
from src.models.common import CONV_INIT, check_choice, classifier_head, conv_bn, model_input
from src.models.registry import register_model

PAPER = "Szegedy et al. 2015, arXiv:1409.4842"
#: §5: "their loss gets added to the total loss of the network with a discount weight 0.3".
AUX_LOSS_WEIGHT = 0.3
STEMS = ("imagenet", "small")

#: Table 1, one row per Inception module: (#1×1, #3×3 reduce, #3×3, #5×5 reduce, #5×5, pool proj).
#: ``"pool"`` marks the 3×3/2 max-pools between the stages.
INCEPTION_TABLE: tuple[tuple[str, tuple[int, int, int, int, int, int] | None], ...] = (
    ("3a", (64, 96, 128, 16, 32, 32)),
    ("3b", (128, 128, 192, 32, 96, 64)),
    ("pool3", None),
    ("4a", (192, 96, 208, 16, 48, 64)),
    ("4b", (160, 112, 224, 24, 64, 64)),
    ("4c", (128, 128, 256, 24, 64, 64)),
    ("4d", (112, 144, 288, 32, 64, 64)),
    ("4e", (256, 160, 320, 32, 128, 128)),
    ("pool4", None),
    ("5a", (256, 160, 320, 32, 128, 128)),
    ("5b", (384, 192, 384, 48, 128, 128)),
)
#: §5: auxiliary classifiers on top of the outputs of these modules.
AUX_AFTER = ("4a", "4d")


def inference_model(model: keras.Model) -> keras.Model:
    """The main output only of a model built with ``aux_logits=True`` (shares its weights)."""
    return keras.Model(model.input, model.outputs[0], name=f"{model.name}_inference")


def _conv(x, filters: int, kernel_size: int, strides: int, name: str, batch_norm: bool):
    """Conv + ReLU (paper, with bias) or conv (no bias) + BN + ReLU."""
    if batch_norm:
        return conv_bn(x, filters, kernel_size, strides, name=name)
    x = layers.Conv2D(
        filters, kernel_size, strides=strides, padding="same", kernel_initializer=CONV_INIT, name=f"{name}_conv"
    )(x)
    return layers.Activation("relu", name=f"{name}_relu")(x)


def inception_module(x, row: Sequence[int], name: str, batch_norm: bool = False):
    """Fig. 2(b): 1×1 | 1×1 → 3×3 | 1×1 → 5×5 | 3×3/1 max-pool → 1×1, concatenated."""
    n1, r3, n3, r5, n5, proj = row
    b1 = _conv(x, n1, 1, 1, f"{name}_1x1", batch_norm)
    b3 = _conv(x, r3, 1, 1, f"{name}_3x3_reduce", batch_norm)
    b3 = _conv(b3, n3, 3, 1, f"{name}_3x3", batch_norm)
    b5 = _conv(x, r5, 1, 1, f"{name}_5x5_reduce", batch_norm)
    b5 = _conv(b5, n5, 5, 1, f"{name}_5x5", batch_norm)
    bp = layers.MaxPooling2D(3, 1, padding="same", name=f"{name}_pool")(x)
    bp = _conv(bp, proj, 1, 1, f"{name}_pool_proj", batch_norm)
    return layers.Concatenate(name=f"{name}_concat")([b1, b3, b5, bp])


def aux_classifier(x, classes: int, classifier_activation: str | None, name: str, batch_norm: bool, where: str):
    """§5 auxiliary head: 5×5/3 avg-pool, 1×1 conv 128, FC 1024, dropout 0.7, FC ``classes``."""
    h, w = x.shape[1], x.shape[2]
    if h is None or w is None:
        raise ConfigError(f"{where}: aux_logits=True needs a fixed input size (its FC layer is size-dependent).")
    if h >= 5 and w >= 5:
        x = layers.AveragePooling2D(5, 3, name=f"{name}_pool")(x)
    x = _conv(x, 128, 1, 1, f"{name}_proj", batch_norm)
    x = layers.Flatten(name=f"{name}_flatten")(x)
    x = layers.Dense(1024, activation="relu", name=f"{name}_fc1")(x)
    x = layers.Dropout(0.7, name=f"{name}_dropout")(x)
    return layers.Dense(classes, activation=classifier_activation, name=f"{name}_fc2")(x)


def _stem(x, kind: str, batch_norm: bool):
    """Table 1 rows up to the 3a module (LRN omitted, see the module docstring)."""
    if kind == "imagenet":
        x = _conv(x, 64, 7, 2, "stem_conv1", batch_norm)
        x = layers.MaxPooling2D(3, 2, padding="same", name="stem_pool1")(x)
    else:
        x = _conv(x, 64, 3, 1, "stem_conv1", batch_norm)
    x = _conv(x, 64, 1, 1, "stem_conv2_reduce", batch_norm)
    x = _conv(x, 192, 3, 1, "stem_conv2", batch_norm)
    if kind == "imagenet":
        x = layers.MaxPooling2D(3, 2, padding="same", name="stem_pool2")(x)
    return x


def googlenet(
    *,
    input_shape: Sequence[int] | None = None,
    classes: int = 1000,
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation: str | None = "softmax",
    name: str | None = None,
    aux_logits: bool = False,
    batch_norm: bool = False,
    stem: str = "imagenet",
) -> keras.Model:
    """GoogLeNet of Table 1 (6.6–7.0 M parameters, ≈1.5 G multiply-adds at 224×224×3)."""
    where = "googlenet"
    check_choice("aux_logits", aux_logits, (False, True), where)
    check_choice("batch_norm", batch_norm, (False, True), where)
    check_choice("stem", stem, STEMS, where)
    if aux_logits and not include_top:
        raise ConfigError(f"{where}: aux_logits=True needs include_top=True (the auxiliary heads are classifiers).")
    inputs = model_input(input_shape, (224, 224, 3), 32 if stem == "imagenet" else 8, where)
    x = _stem(inputs, stem, batch_norm)
    aux_outputs = []
    for module, row in INCEPTION_TABLE:
        if row is None:
            x = layers.MaxPooling2D(3, 2, padding="same", name=f"{module}_max")(x)
            continue
        x = inception_module(x, row, f"inception{module}", batch_norm)
        if aux_logits and module in AUX_AFTER:
            aux_outputs.append(
                aux_classifier(x, classes, classifier_activation, f"aux{len(aux_outputs) + 1}", batch_norm, where)
            )
    x = classifier_head(
        x, classes=classes, include_top=include_top, pooling=pooling,
        classifier_activation=classifier_activation, where=where, dropout=0.4,
    )
    outputs = [x, *aux_outputs] if aux_logits else x
    return keras.Model(inputs, outputs, name=name or where)


register_model(
    "googlenet", googlenet, fixed={}, family="inception", paper=f"{PAPER}, Table 1",
    default_input_shape=(224, 224, 3), small_input_shape=(32, 32, 3), small_knobs={"stem": "small"},
    knob_choices={"aux_logits": (False, True), "batch_norm": (False, True), "stem": STEMS},
)
