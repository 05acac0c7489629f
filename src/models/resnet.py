"""ResNet (He et al., "Deep Residual Learning for Image Recognition", CVPR 2016, arXiv:1512.03385).

ImageNet networks of Table 1 (ResNet-18/34 with basic blocks, 50/101/152 with bottlenecks and
projection shortcuts, option B) and the CIFAR networks of §4.2 / Table 6 (6n+2 layers, widths
16/32/64, option-A parameter-free shortcuts). Convolutions carry no bias before BN (as torchvision:
ResNet-50 has 25,557,032 trainable parameters).

Knobs:
- ``downsample_in``: where a bottleneck's stride sits. ``"1x1"`` is the paper's / Caffe's original
  (first 1×1 conv; 3.86 G MACs for ResNet-50, the paper's "3.8 billion"), ``"3x3"`` is
  "ResNet v1.5" as torchvision builds it (4.09 G MACs, same parameters).
- ``stem``: ``"imagenet"`` (7×7/2 conv + 3×3/2 max-pool, the paper) or ``"cifar"`` (3×3/1 conv, no
  pool): the small-input variant, so that 28–32 px inputs keep ≥ 4×4 maps in the last stage.
- ``shortcut`` (CIFAR nets): ``"A"`` zero-padding identity (paper, Table 6) or ``"B"`` projection.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from src.errors import ConfigError
from src.layers import ZeroPadShortcut
from src.models.common import check_choice, classifier_head, conv_bn, model_input
from src.models.registry import register_model

PAPER = "He et al. 2016, arXiv:1512.03385"

#: Table 1 of the paper: depth -> (block type, blocks per stage conv2_x..conv5_x).
IMAGENET_STAGES: dict[int, tuple[str, tuple[int, ...]]] = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}
IMAGENET_WIDTHS = (64, 128, 256, 512)  # 3×3 widths per stage; bottleneck output is 4×
BOTTLENECK_EXPANSION = 4
#: §4.2: 6n+2 layers, three stages of 2n layers at widths 16, 32, 64.
CIFAR_WIDTHS = (16, 32, 64)
CIFAR_DEPTHS = (20, 32, 44, 56, 110, 1202)


def _add_and_relu(residual, shortcut, name: str):
    x = layers.Add(name=f"{name}_add")([residual, shortcut])
    return layers.Activation("relu", name=f"{name}_out")(x)


def _projection(x, filters: int, strides: int, name: str):
    """Option B: 1×1 conv + BN on the shortcut when shape changes."""
    return conv_bn(x, filters, 1, strides, name=f"{name}_shortcut", activation=None)


def basic_block(x, filters: int, strides: int, name: str, shortcut: str = "B"):
    """Two 3×3 convs (Fig. 2 left)."""
    in_channels = x.shape[-1]
    y = conv_bn(x, filters, 3, strides, name=f"{name}_1")
    y = conv_bn(y, filters, 3, 1, name=f"{name}_2", activation=None)
    if strides == 1 and in_channels == filters:
        sc = x
    elif shortcut == "A":
        sc = ZeroPadShortcut(strides, filters, name=f"{name}_shortcut")(x)
    else:
        sc = _projection(x, filters, strides, name)
    return _add_and_relu(y, sc, name)


def bottleneck_block(x, width: int, strides: int, name: str, downsample_in: str = "1x1"):
    """1×1 reduce, 3×3, 1×1 expand ×4 (Fig. 5 right); stride on the 1×1 or the 3×3 conv."""
    out = width * BOTTLENECK_EXPANSION
    s1, s3 = (strides, 1) if downsample_in == "1x1" else (1, strides)
    y = conv_bn(x, width, 1, s1, name=f"{name}_1")
    y = conv_bn(y, width, 3, s3, name=f"{name}_2")
    y = conv_bn(y, out, 1, 1, name=f"{name}_3", activation=None)
    sc = x if (strides == 1 and x.shape[-1] == out) else _projection(x, out, strides, name)
    return _add_and_relu(y, sc, name)


def _stem(x, kind: str, filters: int):
    if kind == "imagenet":
        x = conv_bn(x, filters, 7, 2, name="stem")
        return layers.MaxPooling2D(3, 2, padding="same", name="stem_pool")(x)
    return conv_bn(x, filters, 3, 1, name="stem")


def resnet(
    depth: int,
    *,
    input_shape: Sequence[int] | None = None,
    classes: int = 1000,
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation: str | None = "softmax",
    downsample_in: str = "1x1",
    stem: str = "imagenet",
    name: str | None = None,
) -> keras.Model:
    """ImageNet ResNet-{18,34,50,101,152} of Table 1."""
    where = f"resnet{depth}"
    check_choice("depth", depth, tuple(IMAGENET_STAGES), where)
    check_choice("downsample_in", downsample_in, ("1x1", "3x3"), where)
    check_choice("stem", stem, ("imagenet", "cifar"), where)
    block_type, repeats = IMAGENET_STAGES[depth]
    inputs = model_input(input_shape, (224, 224, 3), 32 if stem == "imagenet" else 8, where)
    x = _stem(inputs, stem, IMAGENET_WIDTHS[0])
    for i, (width, n) in enumerate(zip(IMAGENET_WIDTHS, repeats), start=1):
        for j in range(1, n + 1):
            strides = 2 if (j == 1 and i > 1) else 1
            block_name = f"stage{i}_block{j}"
            if block_type == "basic":
                x = basic_block(x, width, strides, block_name)
            else:
                x = bottleneck_block(x, width, strides, block_name, downsample_in)
    x = classifier_head(
        x, classes=classes, include_top=include_top, pooling=pooling,
        classifier_activation=classifier_activation, where=where,
    )
    return keras.Model(inputs, x, name=name or where)


def cifar_resnet(
    depth: int,
    *,
    input_shape: Sequence[int] | None = None,
    classes: int = 10,
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation: str | None = "softmax",
    shortcut: str = "A",
    name: str | None = None,
) -> keras.Model:
    """CIFAR ResNet-(6n+2) of §4.2 / Table 6: 3×3 stem with 16 filters, 3 stages of n basic blocks."""
    where = f"resnet{depth}"
    if (depth - 2) % 6 or depth < 8:
        raise ConfigError(f"{where}: CIFAR ResNet depth must be 6n+2 (20, 32, 44, 56, 110, ...), got {depth}.")
    check_choice("shortcut", shortcut, ("A", "B"), where)
    n = (depth - 2) // 6
    inputs = model_input(input_shape, (32, 32, 3), 8, where)
    x = conv_bn(inputs, CIFAR_WIDTHS[0], 3, 1, name="stem")
    for i, width in enumerate(CIFAR_WIDTHS, start=1):
        for j in range(1, n + 1):
            strides = 2 if (j == 1 and i > 1) else 1
            x = basic_block(x, width, strides, f"stage{i}_block{j}", shortcut)
    x = classifier_head(
        x, classes=classes, include_top=include_top, pooling=pooling,
        classifier_activation=classifier_activation, where=where,
    )
    return keras.Model(inputs, x, name=name or where)


for _depth, (_block, _) in IMAGENET_STAGES.items():
    # Basic blocks have no 1×1 conv to carry the stride: downsample_in is fixed, not a knob, there.
    _fixed = {"depth": _depth} if _block == "bottleneck" else {"depth": _depth, "downsample_in": "1x1"}
    _choices = {"stem": ("imagenet", "cifar")}
    if _block == "bottleneck":
        _choices["downsample_in"] = ("1x1", "3x3")
    register_model(
        f"resnet{_depth}", resnet, fixed=_fixed, family="resnet", paper=f"{PAPER}, Table 1",
        default_input_shape=(224, 224, 3), small_input_shape=(32, 32, 3), small_knobs={"stem": "cifar"},
        knob_choices=_choices,
    )
for _depth in CIFAR_DEPTHS:
    register_model(
        f"resnet{_depth}", cifar_resnet, fixed={"depth": _depth}, family="resnet_cifar",
        paper=f"{PAPER}, §4.2 and Table 6", default_input_shape=(32, 32, 3), small_input_shape=(32, 32, 3),
        knob_choices={"shortcut": ("A", "B")},
    )
