"""MobileNet v3 Large and Small (Howard et al., "Searching for MobileNetV3", ICCV 2019,
arXiv:1905.02244).

Tables 1 (Large) and 2 (Small) are kept as data, one row per layer in the paper's column order
``(kernel, exp size, #out, SE, NL, s)``. Each ``bneck`` is the MobileNetV2 block with
squeeze-and-excite (Fig. 4): 1×1 expansion conv-BN-NL to ``exp size`` channels (left out when it
equals the input channels), k×k depthwise conv-BN-NL (stride s), SE on the expanded channels when
marked (§5.3: reduction 4, ``make_divisible(exp/4, 8)`` channels, ReLU, hard-sigmoid gate), 1×1
linear projection conv-BN, identity shortcut when stride 1 and the channels agree. NL is ReLU (RE)
or h-swish (HS, §5.2: x·ReLU6(x+3)/6, `src.layers.HardSwish`). The stem is a 3×3/2 conv with 16
filters and h-swish.

The redesigned last stage (§5.1, Fig. 5): 1×1 conv-BN-h-swish to 960 (Large) / 576 (Small)
channels, global average pooling, then a 1×1 conv without BN to 1280 / 1024 channels with h-swish,
dropout and the classifier. After the pooling the map is 1×1, so both are Dense layers with bias
(the same parameters and multiply-adds as keras.applications' 1×1 convolutions, and a matmul on
CPU). Table 2 marks SE on Small's last 1×1 conv; as keras.applications, torchvision and
the TF-slim release, there is none there. Trainable parameters equal keras.applications' and
torchvision's (5,483,032 Large, 2,542,856 Small); keras.applications' Rescaling preprocessing layer
is left out (our input pipeline normalises; it has no parameters).

Knobs:
- ``width_multiplier`` (α, Table 3 lists 1.0 and 0.75), scaled as the authors' TF-slim release and
  keras.applications do, which is what Table 3's 0.75 rows measure (Large 0.75: 4.0 M / 155 M,
  Small 0.75: 2.0 M / 44 M): every #out becomes ``make_divisible(α·C, 8)``; the exp size is the
  table's expansion ratio (exp size / the row's input channels, e.g. 184/80 = 2.3) times the *scaled*
  input channels, rounded with ``make_divisible``; the 960 / 576 conv is 6× the scaled last #out; the
  SE width is ``make_divisible(exp/4, 8)`` of the scaled exp; the stem keeps 16 filters and the
  1280 / 1024 layer is scaled only for α > 1 (both as keras.applications). Scaling each exp size
  directly (torchvision's rule) gives a different, smaller network at α < 1 (Large 0.75: 141 M
  MACs, 9 % under the paper's 155 M). Trainable parameters equal keras.applications' at every α.
- ``dropout``: before the classifier, 0.2 as keras.applications, torchvision and TF-slim.
- ``stem``: ``"imagenet"`` (the paper) or ``"small"``, the documented small-input variant: the stem
  convolution and the first stride-2 bneck (Large: 16→24, Small: the first 16-channel bneck) run at
  stride 1, so the total stride is 8 instead of 32 and 28×28 / 32×32 inputs end on a 4×4 map
  (instead of 1×1). Parameters unchanged.

Layers are named ``stem_*``, ``stage{i}_block{j}_{expand,dw,se,project}_*`` (a stage = consecutive
rows with the same #out), ``last_*`` and ``head_*``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import keras
from keras import layers

from src.errors import ConfigError
from src.layers import HardSwish, squeeze_excite
from src.models.common import CONV_INIT, bn, check_choice, check_width_multiplier, classifier_head, make_divisible, model_input
from src.models.mobilenet_v1 import check_dropout, depthwise_bn
from src.models.registry import register_model

PAPER = "Howard et al. 2019, arXiv:1905.02244"


class Bneck(NamedTuple):
    """One row of Tables 1–2: kernel, exp size, #out, SE, NL ("RE" ReLU | "HS" h-swish), stride."""

    kernel: int
    exp: int
    out: int
    se: bool
    nl: str
    stride: int


class Architecture(NamedTuple):
    stem: int  # 3×3/2 conv, h-swish (not width-scaled, as keras.applications)
    bnecks: tuple[Bneck, ...]
    last_conv: int  # 1×1 conv-BN-h-swish before the pooling
    last_point: int  # 1×1 conv (no BN) after the pooling, h-swish


#: Table 1 (MobileNetV3-Large).
LARGE = Architecture(
    stem=16,
    bnecks=(
        Bneck(3, 16, 16, False, "RE", 1),
        Bneck(3, 64, 24, False, "RE", 2),
        Bneck(3, 72, 24, False, "RE", 1),
        Bneck(5, 72, 40, True, "RE", 2),
        Bneck(5, 120, 40, True, "RE", 1),
        Bneck(5, 120, 40, True, "RE", 1),
        Bneck(3, 240, 80, False, "HS", 2),
        Bneck(3, 200, 80, False, "HS", 1),
        Bneck(3, 184, 80, False, "HS", 1),
        Bneck(3, 184, 80, False, "HS", 1),
        Bneck(3, 480, 112, True, "HS", 1),
        Bneck(3, 672, 112, True, "HS", 1),
        Bneck(5, 672, 160, True, "HS", 2),
        Bneck(5, 960, 160, True, "HS", 1),
        Bneck(5, 960, 160, True, "HS", 1),
    ),
    last_conv=960,
    last_point=1280,
)
#: Table 2 (MobileNetV3-Small).
SMALL = Architecture(
    stem=16,
    bnecks=(
        Bneck(3, 16, 16, True, "RE", 2),
        Bneck(3, 72, 24, False, "RE", 2),
        Bneck(3, 88, 24, False, "RE", 1),
        Bneck(5, 96, 40, True, "HS", 2),
        Bneck(5, 240, 40, True, "HS", 1),
        Bneck(5, 240, 40, True, "HS", 1),
        Bneck(5, 120, 48, True, "HS", 1),
        Bneck(5, 144, 48, True, "HS", 1),
        Bneck(5, 288, 96, True, "HS", 2),
        Bneck(5, 576, 96, True, "HS", 1),
        Bneck(5, 576, 96, True, "HS", 1),
    ),
    last_conv=576,
    last_point=1024,
)
ARCHITECTURES = {"large": LARGE, "small": SMALL}
SE_REDUCTION = 4
#: Table 3's width multipliers, the default first (0.5 as an extra, smaller point).
WIDTH_MULTIPLIERS = (1.0, 0.75, 0.5)
STEMS = ("imagenet", "small")
DROPOUTS = (0.2, 0.0)


def _activate(x, nl: str, name: str):
    if nl == "HS":
        return HardSwish(name=f"{name}_hardswish")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x)


def _conv_bn_act(x, filters: int, nl: str | None, name: str):
    """1×1 conv (no bias) -> BN -> optional NL, named ``{name}_conv``, ``{name}_bn``, ``{name}_{act}``."""
    x = layers.Conv2D(filters, 1, padding="same", use_bias=False, kernel_initializer=CONV_INIT, name=f"{name}_conv")(x)
    x = bn(x, f"{name}_bn")
    return x if nl is None else _activate(x, nl, name)


def bneck(x, row: Bneck, expansion: float, out: int, strides: int, name: str):
    """Fig. 4: expand (NL) → depthwise k×k (NL) → SE (optional) → linear projection, + identity.

    ``expansion`` is the table's exp size over the row's input channels; the expanded width is
    ``make_divisible(input channels · expansion)``, and a ratio of 1 has no expansion conv."""
    in_channels = int(x.shape[-1])
    exp = make_divisible(in_channels * expansion, 8)
    y = x
    if expansion != 1:
        y = _conv_bn_act(y, exp, row.nl, f"{name}_expand")
    y = depthwise_bn(y, row.kernel, strides, f"{name}_dw")
    y = _activate(y, row.nl, f"{name}_dw")
    if row.se:
        y = squeeze_excite(
            y, name=f"{name}_se", reduced_channels=make_divisible(exp / SE_REDUCTION, 8), gate="hard_sigmoid"
        )
    y = _conv_bn_act(y, out, None, f"{name}_project")
    if strides == 1 and in_channels == out:
        y = layers.Add(name=f"{name}_add")([x, y])
    return y


def mobilenet_v3(
    *,
    size: str,
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
    """MobileNetV3-Large (Table 1) or -Small (Table 2) at width multiplier α."""
    where = f"mobilenet_v3_{size}"
    check_choice("size", size, tuple(ARCHITECTURES), where)
    alpha = check_width_multiplier(width_multiplier, where, WIDTH_MULTIPLIERS, most=4)
    rate = check_dropout(dropout, where)
    check_choice("stem", stem, STEMS, where)
    arch = ARCHITECTURES[size]

    def depth(channels: int) -> int:
        return make_divisible(channels * alpha, 8)

    inputs = model_input(input_shape, (224, 224, 3), 32 if stem == "imagenet" else 8, where)
    x = layers.Conv2D(
        arch.stem, 3, strides=2 if stem == "imagenet" else 1, padding="same", use_bias=False,
        kernel_initializer=CONV_INIT, name="stem_conv",
    )(inputs)
    x = bn(x, "stem_bn")
    x = _activate(x, "HS", "stem")

    stage, block, first_stride_done = 0, 0, False
    previous_out, table_in = None, arch.stem
    for row in arch.bnecks:
        if row.out != previous_out:
            stage, block, previous_out = stage + 1, 0, row.out
        block += 1
        strides = row.stride
        if strides == 2 and not first_stride_done:
            first_stride_done = True
            if stem == "small":
                strides = 1  # small-input variant: the first strided bneck keeps the resolution
        x = bneck(x, row, row.exp / table_in, depth(row.out), strides, f"stage{stage}_block{block}")
        table_in = row.out

    last_conv = make_divisible(int(x.shape[-1]) * arch.last_conv / arch.bnecks[-1].out, 8)
    x = _conv_bn_act(x, last_conv, "HS", "last")
    if not include_top:
        return keras.Model(inputs, classifier_head(
            x, classes=classes, include_top=False, pooling=pooling,
            classifier_activation=classifier_activation, where=where,
        ), name=name or where)
    if not isinstance(classes, int) or isinstance(classes, bool) or classes < 1:
        raise ConfigError(f"{where}: classes must be a positive integer, got {classes!r}.")
    last_point = depth(arch.last_point) if alpha > 1 else arch.last_point
    x = layers.GlobalAveragePooling2D(name="head_pool")(x)
    x = layers.Dense(last_point, name="head_conv")(x)  # Table 1–2's "conv2d 1×1, NBN" on the pooled 1×1 map
    x = HardSwish(name="head_hardswish")(x)
    if rate:
        x = layers.Dropout(rate, name="head_dropout")(x)
    x = layers.Dense(classes, activation=classifier_activation, name="head_fc")(x)
    return keras.Model(inputs, x, name=name or where)


for _size, _arch in ARCHITECTURES.items():
    register_model(
        f"mobilenet_v3_{_size}", mobilenet_v3, fixed={"size": _size}, family="mobilenet_v3",
        paper=f"{PAPER}, Table {1 if _size == 'large' else 2}",
        default_input_shape=(224, 224, 3), small_input_shape=(32, 32, 3), small_knobs={"stem": "small"},
        knob_choices={"width_multiplier": WIDTH_MULTIPLIERS, "dropout": DROPOUTS, "stem": STEMS},
    )
