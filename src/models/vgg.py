"""VGG (Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image Recognition",
ICLR 2015, arXiv:1409.1556), configurations A, B, D and E of Table 1, without and with batch
normalisation.

Table 1: five stages of 3×3 convolutions (stride 1, "same" padding, ReLU) of widths 64, 128, 256, 512,
512, each stage followed by a 2×2 stride-2 max-pool; then FC-4096, FC-4096 (dropout 0.5, §3.1) and
FC-1000 on the 7×7×512 map of a 224×224 input. Convolutions per stage: A (VGG-11) 1-1-2-2-2,
B (VGG-13) 2-2-2-2-2, D (VGG-16) 2-2-3-3-3, E (VGG-19) 2-2-4-4-4. Parameter counts equal
keras.applications' VGG16 / VGG19 (138,357,544 / 143,667,240) and Table 2's 133 / 133 / 138 / 144 M;
multiply-adds 7.6 / 11.3 / 15.5 / 19.6 G (the ResNet paper prints 15.3 G and 19.6 G for D and E).

``vgg*_bn``: batch normalisation between each convolution and its ReLU (not in the paper; the
torchvision ``vgg*_bn`` design). As in torchvision the convolutions keep their biases, so each BN
adds 2 × width trainable parameters: vgg16_bn has 138,365,992 (vgg16 + 8,448).

Convolutions use He-normal (fan-out) initialisation, as torchvision; the FC layers Keras' default.

Knobs (the paper's values are the defaults):

- ``head``: ``"fc"`` = the paper's FC-4096, FC-4096, FC-classes on the flattened last map;
  ``"gap"`` = global average pooling and a single FC-classes layer, as the CIFAR VGG variants
  (this is the small-input variant's head).
- ``pools``: how many of the five stage-ending max-pools are kept, counted from stage 1 (the later
  stages lose theirs). 5 = the paper. The small-input variant keeps 3: stages 4 and 5 then run at
  4×4 on 32×32 inputs and 3×3 on 28×28 inputs (with all five pools a 28×28 input would vanish and
  a 32×32 one would leave 1×1 maps, on which CPU convolutions are slow).
- ``width_multiplier``: scales every conv width (rounded to multiples of 8; the FC-4096 layers keep
  their width), for CPU-sized runs.

Small-input variant (registry ``small_knobs``): ``head="gap", pools=3``.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from src.errors import ConfigError
from src.models.common import CONV_INIT, bn, check_choice, check_width_multiplier, classifier_head, make_divisible, model_input
from src.models.registry import register_model

PAPER = "Simonyan & Zisserman 2015, arXiv:1409.1556"

#: Table 1: configuration -> 3×3 convolutions per stage (stage widths in STAGE_WIDTHS).
CONFIGS: dict[str, tuple[int, ...]] = {
    "A": (1, 1, 2, 2, 2),
    "B": (2, 2, 2, 2, 2),
    "D": (2, 2, 3, 3, 3),
    "E": (2, 2, 4, 4, 4),
}
STAGE_WIDTHS = (64, 128, 256, 512, 512)
#: Weight layers (convs + 3 FC) -> configuration.
DEPTHS = {11: "A", 13: "B", 16: "D", 19: "E"}
FC_WIDTH = 4096
DROPOUT = 0.5  # §3.1, on the first two FC layers
HEADS = ("fc", "gap")
CHANNEL_DIVISOR = 8


def conv_block(x, filters: int, batch_norm: bool, name: str):
    """3×3 conv (with bias) -> [BN] -> ReLU, named ``{name}_conv``, ``{name}_bn``, ``{name}_relu``."""
    x = layers.Conv2D(filters, 3, padding="same", use_bias=True, kernel_initializer=CONV_INIT, name=f"{name}_conv")(x)
    if batch_norm:
        x = bn(x, f"{name}_bn")
    return layers.Activation("relu", name=f"{name}_relu")(x)


def fc_head(x, classes: int, classifier_activation: str | None):
    """The paper's classifier: flatten -> FC-4096 -> dropout -> FC-4096 -> dropout -> FC-classes (fc6..fc8)."""
    x = layers.Flatten(name="flatten")(x)
    for i in (6, 7):
        x = layers.Dense(FC_WIDTH, activation="relu", name=f"fc{i}")(x)
        x = layers.Dropout(DROPOUT, name=f"fc{i}_dropout")(x)
    return layers.Dense(classes, activation=classifier_activation, name="fc8")(x)


def vgg(
    *,
    depth: int,
    batch_norm: bool,
    input_shape: Sequence[int] | None = None,
    classes: int = 1000,
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation: str | None = "softmax",
    head: str = "fc",
    pools: int = 5,
    width_multiplier: float = 1.0,
    name: str | None = None,
) -> keras.Model:
    """VGG-{11,13,16,19} (configurations A, B, D, E of Table 1), optionally with BN after each conv.

    Layer names: ``stage{i}_block{j}_conv`` (the paper's / Caffe's conv{i}_{j}), ``_bn``, ``_relu``,
    ``stage{i}_pool``; head ``fc6``, ``fc7``, ``fc8`` (``"fc"``) or ``head_pool``, ``head_fc`` (``"gap"``).
    """
    where = f"vgg{depth}{'_bn' if batch_norm else ''}"
    check_choice("depth", depth, tuple(DEPTHS), where)
    check_choice("head", head, HEADS, where)
    check_choice("pools", pools, (5, 4, 3, 2, 1, 0), where)
    check_width_multiplier(width_multiplier, where)
    if include_top and (not isinstance(classes, int) or classes < 1):
        raise ConfigError(f"{where}: classes must be a positive integer, got {classes!r}.")
    inputs = model_input(input_shape, (224, 224, 3), 2**pools, where)

    x = inputs
    for i, (width, n) in enumerate(zip(STAGE_WIDTHS, CONFIGS[DEPTHS[depth]]), start=1):
        filters = make_divisible(width * width_multiplier, CHANNEL_DIVISOR)
        for j in range(1, n + 1):
            x = conv_block(x, filters, batch_norm, name=f"stage{i}_block{j}")
        if i <= pools:
            x = layers.MaxPooling2D(2, 2, name=f"stage{i}_pool")(x)

    if include_top and head == "fc":
        x = fc_head(x, classes, classifier_activation)
    else:
        x = classifier_head(
            x, classes=classes, include_top=include_top, pooling=pooling,
            classifier_activation=classifier_activation, where=where,
        )
    return keras.Model(inputs, x, name=name or where)


for _depth, _config in DEPTHS.items():
    for _bn in (False, True):
        register_model(
            f"vgg{_depth}{'_bn' if _bn else ''}", vgg, fixed={"depth": _depth, "batch_norm": _bn}, family="vgg",
            paper=f"{PAPER}, Table 1 (configuration {_config})" + ("; BN after each conv as torchvision" if _bn else ""),
            default_input_shape=(224, 224, 3), small_input_shape=(32, 32, 3),
            small_knobs={"head": "gap", "pools": 3},
            knob_choices={"head": HEADS, "pools": (5, 4, 3), "width_multiplier": (1.0, 0.5, 0.25)},
        )
