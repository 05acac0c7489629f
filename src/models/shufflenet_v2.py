"""ShuffleNet v2 (Ma, Zhang, Zheng & Sun, "ShuffleNet V2: Practical Guidelines for Efficient CNN
Architecture Design", ECCV 2018, arXiv:1807.11164).

Table 5: conv1 3×3/2 (24 channels) and a 3×3/2 max-pool, stages 2–4 of 4 / 8 / 4 units, conv5 1×1
(1024 channels, 2048 at 2×), global average pooling, FC. Units (Fig. 3 c/d):

- stride 1 (c): channel split into two halves; one half passes unchanged, the other goes through
  1×1 conv-BN-ReLU → 3×3 depthwise conv-BN → 1×1 conv-BN-ReLU; concat; channel shuffle (2 groups).
- stride 2 (d): no split; left branch 3×3/2 depthwise conv-BN → 1×1 conv-BN-ReLU, right branch as in
  (c) with stride 2; concat (channels double); channel shuffle.

The shuffle after the concat feeds the next unit's split, exactly as torchvision's
``shufflenetv2.py``, whose trainable parameter counts this reproduces exactly (1,366,792 /
2,278,604 / 3,503,624 / 7,393,996 at 0.5× / 1× / 1.5× / 2×).

Knobs:
- ``width_multiplier`` ∈ {0.5, 1, 1.5, 2}: the stage widths of Table 5 (kept as data,
  `STAGE_CHANNELS`).
- ``stem``: ``"imagenet"`` (3×3/2 conv + 3×3/2 max-pool, the paper) or ``"small"``: the documented
  small-input variant, a 3×3/1 conv without the max-pool, so that 28–32 px inputs reach stage 4 at
  4×4 (with the ImageNet stem: 1×1).

Layers are named ``stem_*``, ``stage{2,3,4}_block{j}_*`` (the paper's stage numbers) and ``conv5_*``.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers, ops

from src.errors import ConfigError
from src.layers import ChannelShuffle
from src.models.common import CONV_INIT, bn, check_choice, classifier_head, conv_bn, model_input
from src.models.registry import register_model

PAPER = "Ma et al. 2018, arXiv:1807.11164"

#: Table 5: width multiplier -> output channels of stages 2, 3, 4 and conv5.
STAGE_CHANNELS: dict[float, tuple[int, int, int, int]] = {
    0.5: (48, 96, 192, 1024),
    1.0: (116, 232, 464, 1024),
    1.5: (176, 352, 704, 1024),
    2.0: (244, 488, 976, 2048),
}
STAGE_REPEATS = (4, 8, 4)
STEM_CHANNELS = 24
STEMS = ("imagenet", "small")


@keras.saving.register_keras_serializable(package="cnnzoo")
class ChannelSplit(keras.layers.Layer):
    """ShuffleNet v2's channel split (§3, Fig. 3 c): the channels cut into two equal halves."""

    def build(self, input_shape) -> None:
        if input_shape[-1] % 2:
            raise ConfigError(f"{self.name}: channel split needs an even channel count, got {input_shape[-1]}.")

    def call(self, x):
        return ops.split(x, 2, axis=-1)

    def compute_output_shape(self, input_shape):
        half = (*input_shape[:-1], input_shape[-1] // 2)
        return [half, half]

    def count_macs(self, input_shape, output_shape) -> int:
        return 0


def _depthwise_bn(x, strides: int, name: str):
    x = layers.DepthwiseConv2D(
        3, strides=strides, padding="same", use_bias=False, depthwise_initializer=CONV_INIT, name=f"{name}_dwconv"
    )(x)
    return bn(x, f"{name}_bn")


def _main_branch(x, channels: int, strides: int, name: str):
    """1×1 conv-BN-ReLU → 3×3 depthwise-BN (stride) → 1×1 conv-BN-ReLU (the right branch of Fig. 3)."""
    x = conv_bn(x, channels, 1, name=f"{name}_1")
    x = _depthwise_bn(x, strides, f"{name}_2")
    return conv_bn(x, channels, 1, name=f"{name}_3")


def shufflenet_v2_unit(x, out_channels: int, strides: int, name: str):
    """Fig. 3 (c) for stride 1, (d) for stride 2; channel shuffle (2 groups) after the concat."""
    branch = out_channels // 2
    if strides == 1:
        if x.shape[-1] != out_channels:
            raise ConfigError(f"{name}: a stride-1 unit keeps the width; got {x.shape[-1]} -> {out_channels}.")
        left, right = ChannelSplit(name=f"{name}_split")(x)
    else:
        left = _depthwise_bn(x, strides, f"{name}_proj_1")
        left = conv_bn(left, branch, 1, name=f"{name}_proj_2")
        right = x
    right = _main_branch(right, branch, strides, name)
    x = layers.Concatenate(name=f"{name}_concat")([left, right])
    return ChannelShuffle(2, name=f"{name}_shuffle")(x)


def shufflenet_v2(
    *,
    input_shape: Sequence[int] | None = None,
    classes: int = 1000,
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation: str | None = "softmax",
    width_multiplier: float = 1.0,
    stem: str = "imagenet",
    name: str | None = None,
) -> keras.Model:
    """ShuffleNet v2 s× (Table 5), ImageNet layout or the small-input stem."""
    where = "shufflenet_v2"
    check_choice("width_multiplier", width_multiplier, tuple(STAGE_CHANNELS), where)
    check_choice("stem", stem, STEMS, where)
    *stage_channels, last_channels = STAGE_CHANNELS[float(width_multiplier)]
    inputs = model_input(input_shape, (224, 224, 3), 32 if stem == "imagenet" else 8, where)
    if stem == "imagenet":
        x = conv_bn(inputs, STEM_CHANNELS, 3, 2, name="stem")
        x = layers.MaxPooling2D(3, strides=2, padding="same", name="stem_pool")(x)
    else:
        x = conv_bn(inputs, STEM_CHANNELS, 3, 1, name="stem")
    for i, (channels, repeats) in enumerate(zip(stage_channels, STAGE_REPEATS), start=2):
        for j in range(1, repeats + 1):
            x = shufflenet_v2_unit(x, channels, 2 if j == 1 else 1, f"stage{i}_block{j}")
    x = conv_bn(x, last_channels, 1, name="conv5")
    x = classifier_head(
        x, classes=classes, include_top=include_top, pooling=pooling,
        classifier_activation=classifier_activation, where=where,
    )
    return keras.Model(inputs, x, name=name or where)


register_model(
    "shufflenet_v2", shufflenet_v2, family="shufflenet_v2", paper=f"{PAPER}, Table 5",
    default_input_shape=(224, 224, 3), small_input_shape=(32, 32, 3), small_knobs={"stem": "small"},
    knob_choices={"width_multiplier": (1.0, 0.5, 1.5, 2.0), "stem": STEMS},
)
