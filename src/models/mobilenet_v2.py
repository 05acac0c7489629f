"""MobileNet v2 (Sandler et al., "MobileNetV2: Inverted Residuals and Linear Bottlenecks", CVPR 2018,
arXiv:1801.04381).

Table 2: a full 3×3/2 convolution with 32 filters, then 17 bottleneck residual blocks given by the
seven rows ``(t, c, n, s)`` (expansion factor, output channels, repeats, stride of the first block),
a 1×1 convolution to 1280 channels, global average pooling and the classifier. A block (Table 1,
Fig. 4 d) is: 1×1 expansion conv-BN-ReLU6 to ``t·k`` channels (left out when t = 1), 3×3 depthwise
conv-BN-ReLU6 (stride s), 1×1 linear projection conv-BN (no activation: the linear bottleneck), and
the identity shortcut when the stride is 1 and the input and output channels agree (the inverted
residual). Convolutions have no bias; trainable parameters equal keras.applications' MobileNetV2
and torchvision's mobilenet_v2 (3,504,872).

Knobs:
- ``width_multiplier`` (α, §6.1): every layer's channels become ``make_divisible(α·C, 8)``, except the
  last 1×1 convolution, which keeps 1280 channels for α ≤ 1 (the paper: "we apply width multiplier
  to all layers except the very last convolutional layer"; keras.applications scales it for α > 1).
  The input resolution (96–224 in the paper) is ``input_shape``.
- ``dropout``: before the classifier; 0.2 as the authors' TF-slim training scope
  (``dropout_keep_prob=0.8``) and torchvision (keras.applications has none). No parameters.
- ``stem``: ``"imagenet"`` (the paper) or ``"small"``, the documented small-input variant: the stem
  convolution and the first block of the (6, 24, 2, 2) row run at stride 1, so the total stride is 8
  instead of 32 and 28×28 / 32×32 inputs end on a 4×4 map (instead of 1×1). Parameters unchanged.

Layers are named ``stem_*``, ``stage{i}_block{j}_{expand,dw,project}_*`` (stage i = row i of the
table), ``last_*`` and ``head_*``.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from src.models.common import check_choice, check_width_multiplier, classifier_head, conv_bn, make_divisible, model_input
from src.models.mobilenet_v1 import check_dropout, depthwise_bn
from src.models.registry import register_model

PAPER = "Sandler et al. 2018, arXiv:1801.04381"

STEM_CHANNELS = 32
#: Table 2: rows (t expansion factor, c output channels, n repeats, s stride of the first block).
BOTTLENECKS: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)
LAST_CHANNELS = 1280
#: Width multipliers of the paper's Fig. 5 / TF-slim's checkpoints, the default first.
WIDTH_MULTIPLIERS = (1.0, 0.75, 0.5, 0.35, 1.4)
STEMS = ("imagenet", "small")
DROPOUTS = (0.2, 0.0)


def inverted_residual(x, expansion: int, filters: int, strides: int, name: str):
    """Table 1 / Fig. 4 d: 1×1 expand (ReLU6) → 3×3 depthwise (ReLU6) → 1×1 linear projection, with
    the identity shortcut when the shape is kept."""
    in_channels = int(x.shape[-1])
    y = x
    if expansion != 1:
        y = conv_bn(y, in_channels * expansion, 1, name=f"{name}_expand", activation="relu6")
    y = depthwise_bn(y, 3, strides, name=f"{name}_dw", activation="relu6")
    y = conv_bn(y, filters, 1, name=f"{name}_project", activation=None)
    if strides == 1 and in_channels == filters:
        y = layers.Add(name=f"{name}_add")([x, y])
    return y


def mobilenet_v2(
    *,
    input_shape: Sequence[int] | None = None,
    classes: int = 1000,
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation: str | None = "softmax",
    name: str | None = None,
    width_multiplier: float = 1.0,
    dropout: float = 0.2,
    stem: str = "imagenet",
) -> keras.Model:
    """MobileNet v2 of Table 2 at width multiplier α."""
    where = "mobilenet_v2"
    alpha = check_width_multiplier(width_multiplier, where, WIDTH_MULTIPLIERS, most=4)
    rate = check_dropout(dropout, where)
    check_choice("stem", stem, STEMS, where)

    inputs = model_input(input_shape, (224, 224, 3), 32 if stem == "imagenet" else 8, where)
    x = conv_bn(
        inputs, make_divisible(STEM_CHANNELS * alpha), 3, 2 if stem == "imagenet" else 1, name="stem",
        activation="relu6",
    )
    for i, (t, c, n, s) in enumerate(BOTTLENECKS, start=1):
        for j in range(1, n + 1):
            strides = s if j == 1 else 1
            if stem == "small" and i == 2 and j == 1:
                strides = 1  # small-input variant: the first strided block keeps the resolution
            x = inverted_residual(x, t, make_divisible(c * alpha), strides, f"stage{i}_block{j}")
    last = make_divisible(LAST_CHANNELS * alpha) if alpha > 1 else LAST_CHANNELS
    x = conv_bn(x, last, 1, name="last", activation="relu6")
    x = classifier_head(
        x, classes=classes, include_top=include_top, pooling=pooling,
        classifier_activation=classifier_activation, where=where, dropout=rate,
    )
    return keras.Model(inputs, x, name=name or where)


register_model(
    "mobilenet_v2", mobilenet_v2, family="mobilenet_v2", paper=f"{PAPER}, Table 2",
    default_input_shape=(224, 224, 3), small_input_shape=(32, 32, 3), small_knobs={"stem": "small"},
    knob_choices={"width_multiplier": WIDTH_MULTIPLIERS, "dropout": DROPOUTS, "stem": STEMS},
)
