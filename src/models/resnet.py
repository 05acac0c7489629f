"""ResNet (He et al., "Deep Residual Learning for Image Recognition", CVPR 2016, arXiv:1512.03385),
with the SE-ResNets of SENet and the dilated / deformable variants used for dense prediction.

ImageNet networks of Table 1 (ResNet-18/34 with basic blocks, 50/101/152 with bottlenecks and
projection shortcuts, option B) and the CIFAR networks of §4.2 / Table 6 (6n+2 layers, widths
16/32/64, option-A parameter-free shortcuts). Convolutions carry no bias before BN (as torchvision:
ResNet-50 has 25,557,032 trainable parameters).

SE-ResNet-50/101/152 (Hu et al., "Squeeze-and-Excitation Networks", arXiv:1709.01507, Table 2 and
Fig. 3): the same networks with an SE unit (`src.layers.squeeze_excite`: global average pool → 1×1
conv C/r → ReLU → 1×1 conv C → sigmoid → rescale) in every block; ``se_resnet50`` has 28,088,024
trainable parameters (Table 2: 28.1 M). The excitation convs carry biases (the SENet Caffe models);
Table 10's ablation protocol drops them, which changes 16,048 parameters at r = 16 (at most 22,656,
at r = 2) and no printed figure, so there is no ``se_bias`` knob. Against Table 10 the r = 2 and 16
rows agree at the printed precision (45.7 / 28.1 M); the r = 4, 8, 32 rows print 0.1 M more than
this architecture has with or without the biases (35.62 / 30.59 / 26.81 M here vs 35.7 / 30.7 /
26.9 M): a constant ≈ 0.065 M the paper's count seems to include; within 0.4 %.

ResNeXt-50 (32×4d), ResNeXt-101 (32×8d, 64×4d) (Xie et al., "Aggregated Residual Transformations for
Deep Neural Networks", CVPR 2017, arXiv:1611.05431, Table 1 and Fig. 3c): the bottleneck networks with a
grouped 3×3 middle conv (`src.layers.GroupedConv2D`) of ``cardinality`` groups, each ``base_width`` wide
at conv2_x (the "4d" / "8d"; doubled per stage), so the middle width is ``planes · base_width / 64 ·
cardinality`` (torchvision's layout) and the output stays ``4 · planes``. Stride on the 3×3 conv as the
paper's Torch models (``downsample_in="3x3"``). ``resnext50_32x4d`` has 25,028,904 trainable parameters
and 4.23 G multiply-adds at 224 (Table 1: 4.2 G), ``resnext101_32x8d`` 88,791,336 and
``resnext101_64x4d`` 83,455,272 (torchvision's counts).

Knobs:
- ``cardinality``, ``base_width`` (ResNeXt names): C and d of "C×d" (Table 3 compares 1×64d, 2×40d,
  4×24d, 8×14d, 32×4d at ResNet-50's complexity); ``cardinality=1, base_width=64`` is ResNet-50 v1.5.
- ``downsample_in``: where a bottleneck's stride sits. ``"1x1"`` is the paper's / Caffe's original
  (first 1×1 conv; 3.86 G MACs for ResNet-50, the paper's "3.8 billion"), ``"3x3"`` is
  "ResNet v1.5" as torchvision builds it (4.09 G MACs, same parameters).
- ``stem``: ``"imagenet"`` (7×7/2 conv + 3×3/2 max-pool, the paper) or ``"small"`` (3×3/1 conv, no
  pool): the small-input variant, so that 28–32 px inputs keep ≥ 4×4 maps in the last stage.
- ``shortcut`` (CIFAR nets): ``"A"`` zero-padding identity (paper, Table 6) or ``"B"`` projection.
- ``se_position`` (SENet Table 14 / Fig. 5): ``"standard"`` on the residual branch after its last
  conv + BN, before the addition; ``"pre"`` on the block input, before the branch (the shortcut takes
  the unscaled input); ``"post"`` after the addition and its ReLU; ``"identity"`` on the shortcut,
  parallel to the branch (after the projection where the block has one, so it scales what is added);
  ``"none"``. Default ``"standard"`` for ``se_resnet*``, ``"none"`` for the plain names.
- ``se_reduction``: r of the SE unit (Table 10: 2, 4, 8, 16, 32; default 16). A knob of the
  ``se_resnet*`` names only: the plain names fix it at 16 (with their default ``se_position="none"``
  it would change nothing); the builder functions take it.
- ``output_stride`` (ImageNet nets): 32 (the paper), 16 or 8 — the later stages' strides become
  dilations, DeepLab-v2 / dilated-residual style (Yu & Koltun, ICLR 2016, and Chen et al.'s DeepLab;
  Yu & Koltun, ICLR 2016): OS 16 runs stage 4 (conv5_x) at stride 1 with every 3×3 conv dilated 2; OS 8
  also stage 3 (conv4_x), dilations 2 / 4. Same parameters; at 224 input the last map is 7 / 14 / 28.
  Every 3×3 conv of a dilated stage has the stage's rate (DeepLab v2 and Deformable ConvNets' "atrous
  (2,2,2)" res5 baseline), whereas torchvision's ``replace_stride_with_dilation`` keeps the previous
  rate on the first block. With the small-input stem the knob removes the same stage strides (final map at
  32 px input: 4 / 8 / 16).
- ``deformable_stages`` (ImageNet nets): stages (1–4 = conv2_x…conv5_x, our ``stage{i}``) whose 3×3
  convs are `DeformableConv2D` (Dai et al., ICCV 2017, arXiv:1703.06211). The paper's default is
  ``(4,)`` = res5a/b/c for ResNet-101 (its Table 1 "3 layers"); its "6 layers" row (res5 + res4b20–b22)
  is finer than a stage and not expressible; ``(3, 4)`` makes every conv4_x block deformable. Each
  deformable 3×3 conv adds an offset conv of 9·C·18 + 18 parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

import keras
from keras import layers

from src.errors import ConfigError
from src.layers import GroupedConv2D, ZeroPadShortcut, squeeze_excite
from src.layers.deformable_conv import DeformableConv2D
from src.models.common import CONV_INIT, bn_act, check_choice, classifier_head, conv_bn, model_input
from src.models.registry import register_model

PAPER = "He et al. 2016, arXiv:1512.03385"
SE_PAPER = "Hu et al. 2018, arXiv:1709.01507"
RESNEXT_PAPER = "Xie et al. 2017, arXiv:1611.05431"

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
SE_DEPTHS = (50, 101, 152)

#: SENet Table 14 placements (and none).
SE_POSITIONS = ("none", "standard", "pre", "post", "identity")
#: SENet Table 10 reduction ratios, the default first.
SE_REDUCTIONS = (16, 2, 4, 8, 32)
#: output_stride -> (first-block stride, dilation of the 3×3 convs) for stages 1..4 (conv2_x..conv5_x).
OUTPUT_STRIDES: dict[int, tuple[tuple[int, ...], tuple[int, ...]]] = {
    32: ((1, 2, 2, 2), (1, 1, 1, 1)),
    16: ((1, 2, 2, 1), (1, 1, 1, 2)),
    8: ((1, 2, 1, 1), (1, 1, 2, 4)),
}
STAGES = (1, 2, 3, 4)
#: The registered ResNeXt networks (torchvision's names): name -> (depth, cardinality C, base width d).
RESNEXTS: dict[str, tuple[int, int, int]] = {
    "resnext50_32x4d": (50, 32, 4),
    "resnext101_32x8d": (101, 32, 8),
    "resnext101_64x4d": (101, 64, 4),
}
DEFORMABLE_CHOICES = ((), (4,), (3, 4))
RESNEXT_DEPTHS = tuple(d for d, (block, _) in IMAGENET_STAGES.items() if block == "bottleneck")

SqueezeExcite = Callable[..., keras.KerasTensor]


def _add_and_relu(residual, shortcut, name: str):
    x = layers.Add(name=f"{name}_add")([residual, shortcut])
    return layers.Activation("relu", name=f"{name}_out")(x)


def _projection(x, filters: int, strides: int, name: str):
    """Option B: 1×1 conv + BN on the shortcut when shape changes."""
    return conv_bn(x, filters, 1, strides, name=f"{name}_shortcut", activation=None)


def _conv3x3_bn(x, filters: int, strides: int, name: str, activation: str | None = "relu", dilation: int = 1,
                deformable: bool = False):
    """3×3 conv-BN(-ReLU) as `conv_bn`, or with a `DeformableConv2D` (same names, ``{name}_conv``)."""
    if not deformable:
        return conv_bn(x, filters, 3, strides, name=name, activation=activation, dilation_rate=dilation)
    x = DeformableConv2D(
        filters, 3, strides=strides, padding="same", dilation_rate=dilation, use_bias=False,
        kernel_initializer=CONV_INIT, name=f"{name}_conv",
    )(x)
    return bn_act(x, name, activation)


def bottleneck_width(planes: int, cardinality: int, base_width: int) -> int:
    """Middle width of a (ResNeXt) bottleneck: ``planes · base_width / 64`` per group, times the groups."""
    return int(planes * (base_width / 64.0)) * cardinality


def _grouped_conv3x3_bn(x, filters: int, strides: int, groups: int, name: str, dilation: int = 1):
    """Grouped 3×3 conv (`GroupedConv2D`, fast split path for training) -> BN -> ReLU, named as `conv_bn`."""
    x = GroupedConv2D(
        filters, 3, groups=groups, strides=strides, dilation_rate=dilation, use_bias=False,
        kernel_initializer=CONV_INIT, name=f"{name}_conv",
    )(x)
    return bn_act(x, name)


def _residual_unit(x, branch, shortcut, name: str, se: SqueezeExcite | None, se_position: str):
    """``relu(branch(x) + shortcut(x))`` with the SE unit where SENet Fig. 5 / Table 14 puts it."""
    se_name = f"{name}_se"
    if se is None or se_position == "none":
        return _add_and_relu(branch(x), shortcut(x), name)
    y = branch(se(x, name=se_name) if se_position == "pre" else x)
    if se_position == "standard":
        y = se(y, name=se_name)
    sc = shortcut(x)
    if se_position == "identity":
        sc = se(sc, name=se_name)
    out = _add_and_relu(y, sc, name)
    return se(out, name=se_name) if se_position == "post" else out


def basic_block(
    x,
    filters: int,
    strides: int,
    name: str,
    shortcut: str = "B",
    *,
    dilation: int = 1,
    deformable: bool = False,
    se: SqueezeExcite | None = None,
    se_position: str = "none",
):
    """Two 3×3 convs (Fig. 2 left)."""
    in_channels = x.shape[-1]

    def branch(t):
        t = _conv3x3_bn(t, filters, strides, f"{name}_1", dilation=dilation, deformable=deformable)
        return _conv3x3_bn(t, filters, 1, f"{name}_2", activation=None, dilation=dilation, deformable=deformable)

    def shortcut_path(t):
        if strides == 1 and in_channels == filters:
            return t
        if shortcut == "A":
            return ZeroPadShortcut(strides, filters, name=f"{name}_shortcut")(t)
        return _projection(t, filters, strides, name)

    return _residual_unit(x, branch, shortcut_path, name, se, se_position)


def bottleneck_block(
    x,
    width: int,
    strides: int,
    name: str,
    downsample_in: str = "1x1",
    *,
    dilation: int = 1,
    deformable: bool = False,
    se: SqueezeExcite | None = None,
    se_position: str = "none",
    cardinality: int = 1,
    base_width: int = 64,
):
    """1×1 reduce, 3×3, 1×1 expand ×4 (Fig. 5 right); stride on the 1×1 or the 3×3 conv. With
    ``cardinality`` > 1 the 3×3 is grouped (ResNeXt Fig. 3c), ``base_width / 64 · width`` per group."""
    out = width * BOTTLENECK_EXPANSION
    inner = bottleneck_width(width, cardinality, base_width)
    s1, s3 = (strides, 1) if downsample_in == "1x1" else (1, strides)

    def branch(t):
        t = conv_bn(t, inner, 1, s1, name=f"{name}_1")
        if cardinality > 1:
            t = _grouped_conv3x3_bn(t, inner, s3, cardinality, f"{name}_2", dilation=dilation)
        else:
            t = _conv3x3_bn(t, inner, s3, f"{name}_2", dilation=dilation, deformable=deformable)
        return conv_bn(t, out, 1, 1, name=f"{name}_3", activation=None)

    def shortcut_path(t):
        return t if (strides == 1 and t.shape[-1] == out) else _projection(t, out, strides, name)

    return _residual_unit(x, branch, shortcut_path, name, se, se_position)


def _stem(x, kind: str, filters: int):
    if kind == "imagenet":
        x = conv_bn(x, filters, 7, 2, name="stem")
        return layers.MaxPooling2D(3, 2, padding="same", name="stem_pool")(x)
    return conv_bn(x, filters, 3, 1, name="stem")


def _se_unit(se_position: str, se_reduction: int, where: str) -> SqueezeExcite | None:
    """The SE unit for the blocks (None for ``se_position="none"``), after checking both knobs."""
    check_choice("se_position", se_position, SE_POSITIONS, where)
    if isinstance(se_reduction, bool) or not isinstance(se_reduction, int) or se_reduction < 1:
        raise ConfigError(
            f"{where}: se_reduction={se_reduction!r} is not valid; the SE reduction ratio r must be a positive "
            f"integer (SENet Table 10 uses {sorted(SE_REDUCTIONS)})."
        )
    return None if se_position == "none" else partial(squeeze_excite, reduction=se_reduction)


def _deformable_stages(value, where: str) -> tuple[int, ...]:
    """``deformable_stages`` as a sorted tuple (a Hydra list or any sequence of stage numbers 1–4)."""
    valid = isinstance(value, Sequence) and not isinstance(value, (str, bytes))
    stages = tuple(value) if valid else ()
    if not valid or any(isinstance(s, bool) or not isinstance(s, int) or s not in STAGES for s in stages) or len(set(stages)) != len(stages):
        raise ConfigError(
            f"{where}: deformable_stages={value!r} is not valid; give a list of distinct stage numbers from "
            f"{list(STAGES)} (stage i = conv{{i+1}}_x of Table 1), e.g. [], [4] (the paper's res5) or [3, 4]."
        )
    return tuple(sorted(stages))


def _imagenet_resnet(
    depth: int,
    where: str,
    *,
    input_shape: Sequence[int] | None,
    classes: int,
    include_top: bool,
    pooling: str | None,
    classifier_activation: str | None,
    downsample_in: str,
    stem: str,
    output_stride: int,
    deformable_stages: Sequence[int],
    se_position: str,
    se_reduction: int,
    name: str | None,
    cardinality: int = 1,
    base_width: int = 64,
) -> keras.Model:
    check_choice("depth", depth, tuple(IMAGENET_STAGES), where)
    check_choice("downsample_in", downsample_in, ("1x1", "3x3"), where)
    check_choice("stem", stem, ("imagenet", "small"), where)
    check_choice("output_stride", output_stride, tuple(OUTPUT_STRIDES), where)
    deformable = _deformable_stages(deformable_stages, where)
    se = _se_unit(se_position, se_reduction, where)
    block_type, repeats = IMAGENET_STAGES[depth]
    stage_strides, dilations = OUTPUT_STRIDES[output_stride]
    inputs = model_input(input_shape, (224, 224, 3), 32 if stem == "imagenet" else 8, where)
    x = _stem(inputs, stem, IMAGENET_WIDTHS[0])
    for i, (width, n, stride, dilation) in enumerate(zip(IMAGENET_WIDTHS, repeats, stage_strides, dilations), start=1):
        for j in range(1, n + 1):
            options = {"dilation": dilation, "deformable": i in deformable, "se": se, "se_position": se_position}
            strides = stride if j == 1 else 1
            block_name = f"stage{i}_block{j}"
            if block_type == "basic":
                x = basic_block(x, width, strides, block_name, **options)
            else:
                x = bottleneck_block(x, width, strides, block_name, downsample_in, **options,
                                     cardinality=cardinality, base_width=base_width)
    x = classifier_head(
        x, classes=classes, include_top=include_top, pooling=pooling,
        classifier_activation=classifier_activation, where=where,
    )
    return keras.Model(inputs, x, name=name or where)


def resnet(
    *,
    depth: int,
    input_shape: Sequence[int] | None = None,
    classes: int = 1000,
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation: str | None = "softmax",
    downsample_in: str = "1x1",
    stem: str = "imagenet",
    output_stride: int = 32,
    deformable_stages: Sequence[int] = (),
    se_position: str = "none",
    se_reduction: int = 16,
    name: str | None = None,
) -> keras.Model:
    """ImageNet ResNet-{18,34,50,101,152} of Table 1 (``se_position`` other than "none": an SE-ResNet)."""
    return _imagenet_resnet(
        depth, f"resnet{depth}", input_shape=input_shape, classes=classes, include_top=include_top, pooling=pooling,
        classifier_activation=classifier_activation, downsample_in=downsample_in, stem=stem,
        output_stride=output_stride, deformable_stages=deformable_stages, se_position=se_position,
        se_reduction=se_reduction, name=name,
    )


def se_resnet(
    *,
    depth: int,
    input_shape: Sequence[int] | None = None,
    classes: int = 1000,
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation: str | None = "softmax",
    downsample_in: str = "1x1",
    stem: str = "imagenet",
    output_stride: int = 32,
    deformable_stages: Sequence[int] = (),
    se_position: str = "standard",
    se_reduction: int = 16,
    name: str | None = None,
) -> keras.Model:
    """SE-ResNet-{50,101,152} of SENet Table 2: `resnet` with an SE unit (r = 16) in every block."""
    return _imagenet_resnet(
        depth, f"se_resnet{depth}", input_shape=input_shape, classes=classes, include_top=include_top,
        pooling=pooling, classifier_activation=classifier_activation, downsample_in=downsample_in, stem=stem,
        output_stride=output_stride, deformable_stages=deformable_stages, se_position=se_position,
        se_reduction=se_reduction, name=name,
    )


def _check_resnext_widths(cardinality, base_width, where: str) -> None:
    for field, value in (("cardinality", cardinality), ("base_width", base_width)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(
                f"{where}: {field}={value!r} is not valid; give a positive integer (ResNeXt Table 3's C×d: "
                "1×64d, 2×40d, 4×24d, 8×14d, 32×4d)."
            )


def resnext(
    depth: int,
    *,
    input_shape: Sequence[int] | None = None,
    classes: int = 1000,
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation: str | None = "softmax",
    cardinality: int = 32,
    base_width: int = 4,
    downsample_in: str = "3x3",
    stem: str = "imagenet",
    output_stride: int = 32,
    name: str | None = None,
) -> keras.Model:
    """ResNeXt-{50,101} (C×d) of ResNeXt Table 1: `resnet`'s bottleneck networks with a grouped 3×3 conv."""
    where = f"resnext{depth}_{cardinality}x{base_width}d"
    if depth not in RESNEXT_DEPTHS:
        raise ConfigError(f"{where}: depth={depth!r} is not valid; ResNeXt uses bottlenecks: {list(RESNEXT_DEPTHS)}.")
    _check_resnext_widths(cardinality, base_width, where)
    return _imagenet_resnet(
        depth, where, input_shape=input_shape, classes=classes, include_top=include_top, pooling=pooling,
        classifier_activation=classifier_activation, downsample_in=downsample_in, stem=stem,
        output_stride=output_stride, deformable_stages=(), se_position="none", se_reduction=16, name=name,
        cardinality=cardinality, base_width=base_width,
    )


def cifar_resnet(
    *,
    depth: int,
    input_shape: Sequence[int] | None = None,
    classes: int = 10,
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation: str | None = "softmax",
    shortcut: str = "A",
    se_position: str = "none",
    se_reduction: int = 16,
    name: str | None = None,
) -> keras.Model:
    """CIFAR ResNet-(6n+2) of §4.2 / Table 6: 3×3 stem with 16 filters, 3 stages of n basic blocks
    (``se_position``: the SE-ResNet-110/164 of SENet Tables 4–5 use "standard")."""
    where = f"resnet{depth}"
    if (depth - 2) % 6 or depth < 8:
        raise ConfigError(f"{where}: CIFAR ResNet depth must be 6n+2 (20, 32, 44, 56, 110, ...), got {depth}.")
    check_choice("shortcut", shortcut, ("A", "B"), where)
    se = _se_unit(se_position, se_reduction, where)
    n = (depth - 2) // 6
    inputs = model_input(input_shape, (32, 32, 3), 8, where)
    x = conv_bn(inputs, CIFAR_WIDTHS[0], 3, 1, name="stem")
    for i, width in enumerate(CIFAR_WIDTHS, start=1):
        for j in range(1, n + 1):
            strides = 2 if (j == 1 and i > 1) else 1
            x = basic_block(x, width, strides, f"stage{i}_block{j}", shortcut, se=se, se_position=se_position)
    x = classifier_head(
        x, classes=classes, include_top=include_top, pooling=pooling,
        classifier_activation=classifier_activation, where=where,
    )
    return keras.Model(inputs, x, name=name or where)


_IMAGENET_CHOICES = {
    "stem": ("imagenet", "small"),
    "output_stride": tuple(OUTPUT_STRIDES),
    "deformable_stages": DEFORMABLE_CHOICES,
}
_IMAGENET_CHOICES_NO_DEFORMABLE = {k: v for k, v in _IMAGENET_CHOICES.items() if k != "deformable_stages"}
for _depth, (_block, _) in IMAGENET_STAGES.items():
    # Basic blocks have no 1×1 conv to carry the stride: downsample_in is fixed, not a knob, there.
    # se_reduction is fixed too: with the plain names' se_position="none" it would change nothing.
    _fixed = {"depth": _depth, "se_reduction": 16}
    _choices = {**_IMAGENET_CHOICES, "se_position": SE_POSITIONS}
    if _block == "bottleneck":
        _choices["downsample_in"] = ("1x1", "3x3")
    else:
        _fixed["downsample_in"] = "1x1"
    register_model(
        f"resnet{_depth}", resnet, fixed=_fixed, family="resnet", paper=f"{PAPER}, Table 1",
        default_input_shape=(224, 224, 3), small_input_shape=(32, 32, 3), small_knobs={"stem": "small"},
        knob_choices=_choices,
    )
for _depth in SE_DEPTHS:
    register_model(
        f"se_resnet{_depth}", se_resnet, fixed={"depth": _depth}, family="se_resnet",
        paper=f"{SE_PAPER}, Table 2 (ablations: Tables 10, 14)", default_input_shape=(224, 224, 3),
        small_input_shape=(32, 32, 3), small_knobs={"stem": "small"},
        knob_choices={
            **_IMAGENET_CHOICES,
            "downsample_in": ("1x1", "3x3"),
            "se_position": ("standard", "pre", "post", "identity", "none"),
            "se_reduction": SE_REDUCTIONS,
        },
    )
for _depth in CIFAR_DEPTHS:
    register_model(
        f"resnet{_depth}", cifar_resnet, fixed={"depth": _depth}, family="resnet_cifar",
        paper=f"{PAPER}, §4.2 and Table 6", default_input_shape=(32, 32, 3), small_input_shape=(32, 32, 3),
        knob_choices={"shortcut": ("A", "B"), "se_position": SE_POSITIONS, "se_reduction": SE_REDUCTIONS},
        knob_context={"se_reduction": {"se_position": "standard"}},  # r acts only with an SE unit
    )
for _name, (_depth, _cardinality, _width) in RESNEXTS.items():
    register_model(
        _name, resnext, fixed={"depth": _depth}, family="resnext", paper=f"{RESNEXT_PAPER}, Table 1 and Fig. 3c",
        default_input_shape=(224, 224, 3), small_input_shape=(32, 32, 3), small_knobs={"stem": "small"},
        knob_defaults={"cardinality": _cardinality, "base_width": _width},
        knob_choices={
            # The knob test varies one at a time; C = 1 with d = 64 together is Table 3's ResNet-50 row.
            "cardinality": (_cardinality, 1 if _cardinality != 1 else 32),
            "base_width": (_width, 64 if _width != 64 else 4),
            "downsample_in": ("3x3", "1x1"),
            **_IMAGENET_CHOICES_NO_DEFORMABLE,
        },
    )
