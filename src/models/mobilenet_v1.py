"""MobileNet v1 (Howard et al., "MobileNets: Efficient Convolutional Neural Networks for Mobile Vision
Applications", 2017, arXiv:1704.04861).

Table 1 body: a full 3×3/2 convolution with 32 filters, then 13 depthwise-separable layers (3×3
depthwise conv-BN-ReLU, then 1×1 pointwise conv-BN-ReLU; Fig. 3), global average pooling and the
classifier. Every convolution is followed by BatchNorm and ReLU6 (as the authors' TF-slim code and
keras.applications; the paper's text says ReLU). Table 1 prints the last depthwise layer as stride 2
on a 7×7 map; the reference implementations (TF-slim, keras.applications) use stride 1 there, and so
do we (the paper's own mult-adds, 569 M, count it at stride 1).

The table is kept as data (`STAGES`): rows ``(pointwise output channels, repeats, stride of the
first depthwise conv)``, grouping Table 1's 13 dw/pw pairs by resolution.

Knobs:
- ``width_multiplier`` (α, §3.3): every layer's channels become ``max(8, int(α·C))`` (TF-slim's
  ``min_depth=8``; keras.applications' ``int(α·C)`` is the same for the paper's α ∈ {1, 0.75, 0.5,
  0.25}). The resolution multiplier ρ (§3.4) is the input resolution, i.e. ``input_shape``
  (224, 192, 160, 128 in Table 7); keras.applications' ``depth_multiplier`` is not the paper's ρ.
- ``dropout``: before the classifier; 0.001 as TF-slim (``dropout_keep_prob=0.999``) and
  keras.applications. The classifier is a Dense layer with bias: the same parameters and
  multiply-adds as keras.applications' 1×1 convolution on the pooled 1×1 map.
- ``stem``: ``"imagenet"`` (the paper) or ``"small"``, the documented small-input variant: the stem
  convolution and the first strided depthwise conv (stage 2, 64→128 channels) run at stride 1, so the
  total stride is 8 instead of 32 and 28×28 / 32×32 inputs end on a 4×4 map (instead of 1×1). All
  other layers and all parameters are unchanged.

Layers are named ``stem_*``, ``stage{i}_block{j}_{dw,pw}_*`` and ``head_*``; trainable parameters
equal keras.applications' MobileNet (4,231,976 at α = 1).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import keras
from keras import layers

from src.errors import ConfigError
from src.models.common import (
    CONV_INIT,
    bn,
    check_choice,
    check_width_multiplier,
    classifier_head,
    conv_bn,
    model_input,
)
from src.models.registry import register_model

PAPER = "Howard et al. 2017, arXiv:1704.04861"

#: Table 1: the stem's filters, then (pointwise output channels, repeats, stride of the first
#: depthwise conv of the row) for the 13 depthwise-separable layers.
STEM_CHANNELS = 32
STAGES: tuple[tuple[int, int, int], ...] = (
    (64, 1, 1),
    (128, 2, 2),
    (256, 2, 2),
    (512, 6, 2),
    (1024, 2, 2),
)
#: Table 6's width multipliers, the default first.
WIDTH_MULTIPLIERS = (1.0, 0.75, 0.5, 0.25)
STEMS = ("imagenet", "small")
DROPOUTS = (0.001, 0.0, 0.2)
MIN_DEPTH = 8


def check_dropout(value, where: str) -> float:
    """Dropout rate as a float; ConfigError unless 0 <= rate < 1."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
        raise ConfigError(f"{where}: dropout={value!r} is not valid; use a rate in [0, 1), e.g. {DROPOUTS}.")
    return float(value)


def depthwise_bn(x, kernel_size: int, strides: int, name: str, activation=None):
    """k×k depthwise conv (no bias) -> BN -> optional activation (a string, or a layer class such as
    HardSwish), named ``{name}_dwconv``, ``{name}_bn``, ``{name}_{activation}``."""
    x = layers.DepthwiseConv2D(
        kernel_size,
        strides=strides,
        padding="same",
        use_bias=False,
        depthwise_initializer=CONV_INIT,
        name=f"{name}_dwconv",
    )(x)
    x = bn(x, f"{name}_bn")
    if isinstance(activation, str):
        x = layers.Activation(activation, name=f"{name}_{activation}")(x)
    elif activation is not None:
        x = activation(name=f"{name}_{activation.__name__.lower()}")(x)
    return x


def separable_block(x, filters: int, strides: int, name: str):
    """Fig. 3 right: 3×3 depthwise conv-BN-ReLU6, then 1×1 pointwise conv-BN-ReLU6."""
    x = depthwise_bn(x, 3, strides, name=f"{name}_dw", activation="relu6")
    return conv_bn(x, filters, 1, name=f"{name}_pw", activation="relu6")


def mobilenet_v1(
    *,
    input_shape: Sequence[int] | None = None,
    classes: int = 1000,
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation: str | None = "softmax",
    name: str | None = None,
    width_multiplier: float = 1.0,
    dropout: float = 0.001,
    stem: str = "imagenet",
) -> keras.Model:
    """MobileNet v1 of Table 1 at width multiplier α; ρ is the input resolution."""
    where = "mobilenet_v1"
    alpha = check_width_multiplier(width_multiplier, where, WIDTH_MULTIPLIERS, most=4)
    rate = check_dropout(dropout, where)
    check_choice("stem", stem, STEMS, where)

    def depth(channels: int) -> int:
        return max(MIN_DEPTH, int(channels * alpha))

    inputs = model_input(input_shape, (224, 224, 3), 32 if stem == "imagenet" else 8, where)
    x = conv_bn(inputs, depth(STEM_CHANNELS), 3, 2 if stem == "imagenet" else 1, name="stem", activation="relu6")
    for i, (channels, repeats, first_stride) in enumerate(STAGES, start=1):
        for j in range(1, repeats + 1):
            strides = first_stride if j == 1 else 1
            if stem == "small" and i == 2 and j == 1:
                strides = 1  # small-input variant: the first strided depthwise conv keeps the resolution
            x = separable_block(x, depth(channels), strides, f"stage{i}_block{j}")
    x = classifier_head(
        x, classes=classes, include_top=include_top, pooling=pooling,
        classifier_activation=classifier_activation, where=where, dropout=rate,
    )
    return keras.Model(inputs, x, name=name or where)


register_model(
    "mobilenet_v1", mobilenet_v1, family="mobilenet_v1", paper=f"{PAPER}, Table 1 (and Tables 6–7)",
    default_input_shape=(224, 224, 3), small_input_shape=(32, 32, 3), small_knobs={"stem": "small"},
    knob_choices={"width_multiplier": WIDTH_MULTIPLIERS, "dropout": DROPOUTS, "stem": STEMS},
)
