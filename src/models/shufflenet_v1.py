"""ShuffleNet v1 (Zhang, Zhou, Lin & Sun, "ShuffleNet: An Extremely Efficient Convolutional Neural
Network for Mobile Devices", CVPR 2018, arXiv:1707.01083).

The network of Table 1: a 3×3/2 conv (24 channels) and a 3×3/2 max-pool, then stages 2–4 of
ShuffleNet units (1 + 3, 1 + 7, 1 + 3 repeats; the first unit of each stage has stride 2), global
average pooling and the classifier. The output channels per stage depend on the number of groups g and
are kept as data (`STAGE_CHANNELS`, Table 1). A unit (Fig. 2 b/c):

    1×1 group conv (g groups, out/4 channels) → BN → ReLU → channel shuffle (g)
    → 3×3 depthwise conv (stride s) → BN → 1×1 group conv (g groups) → BN
    stride 1: add the identity, ReLU;  stride 2: concat with a 3×3/2 average pool of the input, ReLU

The bottleneck width is 1/4 of the unit's output channels; the first pointwise layer of stage 2 is not
grouped ("the number of input channels is relatively small", §3.3). For stride-2 units the residual
branch outputs ``out − in`` channels so that the concat has ``out``.

Knobs:
- ``groups`` g ∈ {1, 2, 3, 4, 8} (Table 1 / 2), default 3.
- ``width_multiplier`` s ∈ {0.25, 0.5, 1, 1.5, 2} ("ShuffleNet s×": every channel count × s,
  complexity ≈ s², Table 2). The paper gives no rounding rule. Each stage width is Table 1's × s
  rounded to the nearest multiple of 4g (keras.applications' ``_make_divisible`` with its 10 % guard),
  so that the bottleneck (out/4) divides into g groups; at 1× every Table 1 width is kept exactly.
  (Rounding each stage, not doubling a rounded stage 2, keeps Table 5's 0.5× g = 4 at 38 M: 144 / 272 /
  544 channels, against 41 M for 144 / 288 / 576.) The stem is not
  simply 24·s: the authors' released models (megvii-model/ShuffleNet-Series) use 12 / 24 / 24 / 48
  channels at 0.5× / 1× / 1.5× / 2×, and only 24 at 1.5× reproduces Table 5's 292 M (36 gives 300 M);
  0.25× (not released) uses 12, which reproduces Table 2's 13 M for g = 3 (6 gives 11 M). The stem is
  rounded to the nearest multiple of g (ties down: 12 → 8 for g = 8) so that the first stride-2 branch
  (out − in channels) divides into g groups.
- ``shuffle``: ``True`` (paper) or ``False`` for the with/without-shuffle ablation of Table 3.
- ``stem``: ``"imagenet"`` (3×3/2 conv + 3×3/2 max-pool, the paper) or ``"small"``: the documented
  small-input variant, a 3×3/1 conv without the max-pool, so that 28–32 px inputs reach stage 4 at
  4×4 (ImageNet stem: 1×1) — the three stride-2 stages are kept.

Layers are named ``stem_*`` and ``stage{2,3,4}_block{j}_*`` after the paper's stage numbers. Group
convolutions are `src.layers.GroupedConv2D` (the fast split path for training).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from src.errors import ConfigError
from src.layers import ChannelShuffle, GroupedConv2D
from src.models.common import (
    CONV_INIT,
    bn,
    bn_act,
    check_choice,
    classifier_head,
    conv_bn,
    make_divisible,
    model_input,
)
from src.models.registry import register_model

PAPER = "Zhang et al. 2018, arXiv:1707.01083"

#: Table 1: groups g -> output channels of stages 2, 3, 4 at 1×.
STAGE_CHANNELS: dict[int, tuple[int, int, int]] = {
    1: (144, 288, 576),
    2: (200, 400, 800),
    3: (240, 480, 960),
    4: (272, 544, 1088),
    8: (384, 768, 1536),
}
#: Table 1: units per stage (the first with stride 2).
STAGE_REPEATS = (4, 8, 4)
#: Stem (conv1) channels per width multiplier (see the module docstring), before rounding to g.
STEM_CHANNELS: dict[float, int] = {0.25: 12, 0.5: 12, 1.0: 24, 1.5: 24, 2.0: 48}
BOTTLENECK_RATIO = 4
WIDTH_MULTIPLIERS = tuple(STEM_CHANNELS)
STEMS = ("imagenet", "small")


def scaled_channels(groups: int, width_multiplier: float) -> tuple[int, tuple[int, ...]]:
    """(stem channels, stage 2–4 output channels) of ShuffleNet s× with g groups (see module docstring)."""
    stages = tuple(make_divisible(c * width_multiplier, BOTTLENECK_RATIO * groups) for c in STAGE_CHANNELS[groups])
    base = STEM_CHANNELS[float(width_multiplier)]
    stem = max(groups, (base + (groups - 1) // 2) // groups * groups)
    return stem, stages


def _group_conv_bn(x, filters: int, groups: int, name: str, activation: str | None = None):
    """1×1 group conv (GroupedConv2D, no bias) -> BN -> optional activation."""
    x = GroupedConv2D(filters, 1, groups=groups, use_bias=False, kernel_initializer=CONV_INIT, name=f"{name}_gconv")(x)
    return bn_act(x, name, activation)


def shufflenet_unit(
    x, out_channels: int, strides: int, groups: int, name: str, first_groups: int | None = None, shuffle: bool = True
):
    """ShuffleNet unit, Fig. 2 (b) (stride 1) and (c) (stride 2). ``first_groups`` overrides the groups
    of the first pointwise layer (1 for the first unit of stage 2)."""
    in_channels = x.shape[-1]
    first_groups = groups if first_groups is None else first_groups
    mid = out_channels // BOTTLENECK_RATIO
    branch_out = out_channels - in_channels if strides == 2 else out_channels
    if branch_out <= 0 or branch_out % groups or mid % first_groups or mid % groups:
        raise ConfigError(
            f"{name}: {in_channels} -> {out_channels} channels do not split into groups={groups}; "
            f"valid groups: {sorted(STAGE_CHANNELS)}."
        )
    y = _group_conv_bn(x, mid, first_groups, f"{name}_1", activation="relu")
    if shuffle and first_groups > 1:
        y = ChannelShuffle(first_groups, name=f"{name}_shuffle")(y)
    y = layers.DepthwiseConv2D(
        3, strides=strides, padding="same", use_bias=False, depthwise_initializer=CONV_INIT, name=f"{name}_2_dwconv"
    )(y)
    y = bn(y, f"{name}_2_bn")
    y = _group_conv_bn(y, branch_out, groups, f"{name}_3")
    if strides == 1:
        y = layers.Add(name=f"{name}_add")([x, y])
    else:
        shortcut = layers.AveragePooling2D(3, strides=2, padding="same", name=f"{name}_shortcut_pool")(x)
        y = layers.Concatenate(name=f"{name}_concat")([shortcut, y])
    return layers.Activation("relu", name=f"{name}_out")(y)


def shufflenet_v1(
    *,
    input_shape: Sequence[int] | None = None,
    classes: int = 1000,
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation: str | None = "softmax",
    groups: int = 3,
    width_multiplier: float = 1.0,
    shuffle: bool = True,
    stem: str = "imagenet",
    name: str | None = None,
) -> keras.Model:
    """ShuffleNet s× with g groups (Table 1), ImageNet layout or the small-input stem."""
    where = "shufflenet_v1"
    check_choice("groups", groups, tuple(STAGE_CHANNELS), where)
    check_choice("width_multiplier", width_multiplier, WIDTH_MULTIPLIERS, where)
    check_choice("shuffle", shuffle, (True, False), where)
    check_choice("stem", stem, STEMS, where)
    stem_channels, stage_channels = scaled_channels(groups, width_multiplier)
    inputs = model_input(input_shape, (224, 224, 3), 32 if stem == "imagenet" else 8, where)
    if stem == "imagenet":
        x = conv_bn(inputs, stem_channels, 3, 2, name="stem")
        x = layers.MaxPooling2D(3, strides=2, padding="same", name="stem_pool")(x)
    else:
        x = conv_bn(inputs, stem_channels, 3, 1, name="stem")
    for i, (channels, repeats) in enumerate(zip(stage_channels, STAGE_REPEATS), start=2):
        for j in range(1, repeats + 1):
            x = shufflenet_unit(
                x, channels, 2 if j == 1 else 1, groups, f"stage{i}_block{j}",
                first_groups=1 if (i == 2 and j == 1) else groups, shuffle=shuffle,
            )
    x = classifier_head(
        x, classes=classes, include_top=include_top, pooling=pooling,
        classifier_activation=classifier_activation, where=where,
    )
    return keras.Model(inputs, x, name=name or where)


register_model(
    "shufflenet_v1", shufflenet_v1, family="shufflenet_v1", paper=f"{PAPER}, Tables 1-3",
    default_input_shape=(224, 224, 3), small_input_shape=(32, 32, 3), small_knobs={"stem": "small"},
    knob_choices={
        "groups": (3, 1, 2, 4, 8),
        "width_multiplier": (1.0, 0.25, 0.5, 1.5, 2.0),
        "shuffle": (True, False),
        "stem": STEMS,
    },
)
