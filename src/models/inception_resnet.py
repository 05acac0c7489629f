"""Inception-ResNet-v1 and -v2 (Szegedy et al., "Inception-v4, Inception-ResNet and the Impact of
Residual Connections on Learning", AAAI 2017, arXiv:1602.07261, Figs. 10–20 and Table 1).

Fig. 15 schema: stem → n_A × Inception-ResNet-A → Reduction-A (Fig. 7, k, l, m, n from Table 1) →
n_B × Inception-ResNet-B → Reduction-B → n_C × Inception-ResNet-C → average pool → (dropout) → softmax.
Each Inception-ResNet block: parallel conv branches → concatenation → 1×1 "linear" conv (bias, no BN,
no activation) back to the block's input width → × residual scale → + input → ReLU (Fig. 10; §3.3).
The per-network data (stem, block repeats, Reduction-A k, l, m, n, the branches of every block) are rows of
`IR_ARCHS`, read by one builder loop. Conv-BN as in `src.models.inception_v4` (BN without γ, TF-slim).

- ``inception_resnet_v1``: Fig. 14 stem (35×35×256), 5 × A (Fig. 10), Reduction-A 192, 192, 256, 384,
  10 × B (Fig. 11), Reduction-B (Fig. 12), 5 × C (Fig. 13); widths 256 / 896 / 1792; dropout 0.2
  (keep 0.8). The paper prints no size; 22.74 M parameters (22,742,808), 6.21 G multiply-adds here.
- ``inception_resnet_v2``, ``layout="keras"`` (default): keras.applications' ``InceptionResNetV2`` (the
  TF-slim model behind the released checkpoint): its stem (Fig. 14's first layers to 35×35×192, then
  an Inception-A-like "mixed_5b", 320 maps), 10 × A (Fig. 16), Reduction-A 256, 256, 384, 384, 20 × B
  (Fig. 17), Reduction-B (Fig. 18), 10 × C (Fig. 19; the last one unscaled and without the ReLU), a
  final 1×1 conv-BN-ReLU to 1536 ("conv_7b"), no dropout. Trainable parameters 55,813,192, equal to
  keras.applications; 13.16 G multiply-adds at 299 (SENet's re-implementation prints 11.75 G).
- ``inception_resnet_v2``, ``layout="paper"``: Fig. 15 literally: the Inception-v4 stem (Fig. 3, 384
  maps), 5 × A, Reduction-A 256, 256, 384, 384, 10 × B, Reduction-B, 5 × C, no final conv, dropout 0.2.
  The paper's figures print 1×1 "1154" (Fig. 17) and "2048" (Fig. 19) widths that cannot be added to
  their 1152- and 2144-map inputs; as every residual up-projection here, they are the input width.

Knobs:
- ``residual_scale`` (§3.3, Fig. 20: residuals scaled by 0.1–0.3 before the addition): ``None`` (default)
  keeps keras.applications' per-block factors, 0.17 for A, 0.10 for B, 0.20 for C; a float in (0, 1]
  scales every block's residual by that factor (1.0: unscaled, no scaling layer at all).
  keras.applications' last Inception-ResNet-C block (``layout="keras"``) stays unscaled either way.
- ``stem``: ``"imagenet"`` (the paper's strides and 'valid' convs; input ≥ 75 px) or ``"small"``, the
  documented small-input variant: the same stem layers at stride 1 with 'same' padding (max-pools
  included), so the stem keeps the input size; the two 'valid' 3×3/2 reductions then take a 32×32
  input to 7×7 (28×28 → 6×6), ≥ 4×4 in the last stage (CPU convs are slow on tiny maps). Same parameters.
- ``layout`` (``inception_resnet_v2`` only): ``"keras"`` or ``"paper"``, above.

``se_inception_resnet_v2`` is SE-Inception-ResNet-v2 (Hu et al., "Squeeze-and-Excitation Networks",
arXiv:1709.01507, Fig. 3 and Table 2): ``inception_resnet_v2`` (same ``stem``, ``residual_scale`` and
``layout`` knobs) with one SE unit (``src.layers.squeeze_excite``, biases on) on the residual branch of
every Inception-ResNet block: it rescales the output of the 1×1 linear up-projection, BEFORE the residual
scaling (× 0.17 / 0.10 / 0.20; one constant for all channels, so the order does not change the function)
and before the addition to the identity (layers ``<block>_se_*``; 40 units in the keras layout, 20 in the
paper's). The stem's "mixed_5b" and the reduction modules are not Inception-ResNet blocks and get no SE.
Extra knob ``se_reduction`` (r, default 16; any positive integer, registry choices 16, 8, 32). At 299×299×3
(keras layout): 55,813,192 + 8,543,980 = 64,357,172 trainable parameters and 13.164 G multiply-adds;
SE adds 8.50 M (+0.06 %), the ≈ 0.01 G between SENet Table 2's 11.76 G and its re-implementation's 11.75 G.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import keras
from keras import layers

from src.errors import ConfigError
from src.layers.squeeze_excite import squeeze_excite
from src.models.common import CONV_INIT, check_choice, classifier_head, model_input
from src.models.inception_v2 import SE_PAPER, SE_REDUCTIONS, check_se_reduction
from src.models.inception_v4 import (
    MIN_INPUT,
    PAPER,
    STEMS,
    ConvSpec,
    conv_branch,
    inception_conv_bn,
    reduction_a,
    reduction_block,
    stem_v4,
)
from src.models.registry import register_model

Branches = tuple[tuple[ConvSpec, ...], ...]
#: keras.applications' InceptionResNetV2 residual scales for the A, B and C blocks.
DEFAULT_RESIDUAL_SCALES = (0.17, 0.10, 0.20)
LAYOUTS = ("keras", "paper")
#: ``residual_scale`` alternatives for the registry (paper §3.3: 0.1–0.3; 1.0 = unscaled).
RESIDUAL_SCALE_CHOICES = (None, 0.1, 0.3, 1.0)
#: A sequential stem: ("conv", filters, kernel, strides, padding) or ("pool",) = 3×3/2 'valid' max-pool.
StemSpec = tuple


@dataclass(frozen=True)
class InceptionResNetArch:
    """One network of Fig. 15: stem, blocks per stage, Table 1's Reduction-A and every block's branches."""

    stem: str  # "v1" (Fig. 14), "v4" (Fig. 3) or "slim" (keras.applications / TF-slim)
    repeats: tuple[int, int, int]  # Inception-ResNet-A, -B, -C
    reduction_a: tuple[int, int, int, int]  # k, l, m, n (Table 1)
    blocks: tuple[Branches, Branches, Branches]  # conv branches of A, B, C
    reduction_b: Branches  # conv branches of Reduction-B (plus its max-pool)
    last_block_linear: bool = False  # keras.applications: last C block unscaled, no ReLU
    final_conv: int | None = None  # keras.applications' "conv_7b" 1×1 conv-BN-ReLU
    dropout: float = 0.2  # Fig. 15: dropout, keep 0.8


#: Fig. 14: the Inception-ResNet-v1 stem, 299×299×3 → 35×35×256.
STEM_V1: tuple[StemSpec, ...] = (
    ("conv", 32, 3, 2, "valid"), ("conv", 32, 3, 1, "valid"), ("conv", 64, 3, 1, "same"), ("pool",),
    ("conv", 80, 1, 1, "same"), ("conv", 192, 3, 1, "valid"), ("conv", 256, 3, 2, "valid"),
)
#: keras.applications / TF-slim Inception-ResNet-v2 stem up to 35×35×192 (then "mixed_5b", 320 maps).
STEM_SLIM: tuple[StemSpec, ...] = (
    ("conv", 32, 3, 2, "valid"), ("conv", 32, 3, 1, "valid"), ("conv", 64, 3, 1, "same"), ("pool",),
    ("conv", 80, 1, 1, "valid"), ("conv", 192, 3, 1, "valid"), ("pool",),
)

#: Figs. 10, 11, 13 (Inception-ResNet-v1) and 12 (its Reduction-B).
IR_V1_BLOCKS: tuple[Branches, Branches, Branches] = (
    (((32, 1),), ((32, 1), (32, 3)), ((32, 1), (32, 3), (32, 3))),
    (((128, 1),), ((128, 1), (128, (1, 7)), (128, (7, 1)))),
    (((192, 1),), ((192, 1), (192, (1, 3)), (192, (3, 1)))),
)
IR_V1_REDUCTION_B: Branches = (((256, 1), (384, 3, 2)), ((256, 1), (256, 3, 2)), ((256, 1), (256, 3), (256, 3, 2)))
#: Figs. 16, 17, 19 (Inception-ResNet-v2) and 18 (its Reduction-B); the same in keras.applications.
IR_V2_BLOCKS: tuple[Branches, Branches, Branches] = (
    (((32, 1),), ((32, 1), (32, 3)), ((32, 1), (48, 3), (64, 3))),
    (((192, 1),), ((128, 1), (160, (1, 7)), (192, (7, 1)))),
    (((192, 1),), ((192, 1), (224, (1, 3)), (256, (3, 1)))),
)
IR_V2_REDUCTION_B: Branches = (((256, 1), (384, 3, 2)), ((256, 1), (288, 3, 2)), ((256, 1), (288, 3), (320, 3, 2)))

#: The network table (Fig. 15 and Table 1; the keras.applications row for the exact parameter count).
IR_ARCHS: dict[str, InceptionResNetArch] = {
    "v1": InceptionResNetArch("v1", (5, 10, 5), (192, 192, 256, 384), IR_V1_BLOCKS, IR_V1_REDUCTION_B),
    "v2_paper": InceptionResNetArch("v4", (5, 10, 5), (256, 256, 384, 384), IR_V2_BLOCKS, IR_V2_REDUCTION_B),
    "v2_keras": InceptionResNetArch(
        "slim", (10, 20, 10), (256, 256, 384, 384), IR_V2_BLOCKS, IR_V2_REDUCTION_B,
        last_block_linear=True, final_conv=1536, dropout=0.0,
    ),
}


def _sequential_stem(x, specs: Sequence[StemSpec], small: bool):
    """A stem of convs and 3×3/2 max-pools; the small variant: stride 1, 'same' padding throughout."""
    for i, spec in enumerate(specs, start=1):
        if spec[0] == "pool":
            x = layers.MaxPooling2D(3, 1 if small else 2, padding="same" if small else "valid", name=f"stem_pool{i}")(x)
        else:
            _, filters, kernel, strides, padding = spec
            if small:
                strides, padding = 1, "same"
            x = inception_conv_bn(x, filters, kernel, strides, padding, name=f"stem_conv{i}")
    return x


def _mixed_5b(x):
    """keras.applications' "mixed_5b": 1×1 96 | 1×1 48 → 5×5 64 | 1×1 64 → 3×3 96 → 3×3 96 | avg-pool → 1×1 64."""
    pool = layers.AveragePooling2D(3, 1, padding="same", name="stem_mixed5b_b3_pool")(x)
    outs = [
        conv_branch(x, ((96, 1),), "stem_mixed5b_b0"),
        conv_branch(x, ((48, 1), (64, 5)), "stem_mixed5b_b1"),
        conv_branch(x, ((64, 1), (96, 3), (96, 3)), "stem_mixed5b_b2"),
        inception_conv_bn(pool, 64, 1, name="stem_mixed5b_b3_1"),
    ]
    return layers.Concatenate(name="stem_mixed5b")(outs)


def _stem(x, kind: str, small: bool):
    if kind == "v4":
        return stem_v4(x, small=small)
    if kind == "v1":
        return _sequential_stem(x, STEM_V1, small)
    return _mixed_5b(_sequential_stem(x, STEM_SLIM, small))


def inception_resnet_block(
    x,
    branches: Branches,
    scale: float,
    name: str,
    activation: str | None = "relu",
    se_reduction: int | None = None,
):
    """Inception-ResNet block (Figs. 10–13, 16, 17, 19): conv branches → concat → 1×1 linear conv back
    to the input width (bias, no BN) → [SE, SENet Fig. 3, when ``se_reduction`` is given] → × ``scale``
    (§3.3; no layer at 1.0) → + input → ReLU."""
    outs = [conv_branch(x, convs, f"{name}_b{i}") for i, convs in enumerate(branches)]
    mixed = layers.Concatenate(name=f"{name}_mixed")(outs) if len(outs) > 1 else outs[0]
    up = layers.Conv2D(x.shape[-1], 1, use_bias=True, kernel_initializer=CONV_INIT, name=f"{name}_up_conv")(mixed)
    if se_reduction is not None:
        up = squeeze_excite(up, name=f"{name}_se", reduction=se_reduction)
    if scale != 1.0:
        up = layers.Rescaling(scale, name=f"{name}_scale")(up)
    if activation is None:
        return layers.Add(name=f"{name}_out")([x, up])
    x = layers.Add(name=f"{name}_add")([x, up])
    return layers.Activation(activation, name=f"{name}_out")(x)


def _residual_scales(value, where: str) -> tuple[float, float, float]:
    if value is None:
        return DEFAULT_RESIDUAL_SCALES
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 < float(value) <= 1.0:
        raise ConfigError(
            f"{where}: residual_scale={value!r} is not valid; give null/None (keras.applications' 0.17 / 0.10 / "
            "0.20 for blocks A / B / C) or one number in (0, 1] for every block (paper §3.3: 0.1-0.3; 1.0 = unscaled)."
        )
    return (float(value),) * 3


def _inception_resnet(
    arch_key: str,
    where: str,
    *,
    input_shape: Sequence[int] | None,
    classes: int,
    include_top: bool,
    pooling: str | None,
    classifier_activation: str | None,
    stem: str,
    residual_scale: float | None,
    name: str | None,
    se_reduction: int | None = None,
) -> keras.Model:
    check_choice("stem", stem, STEMS, where)
    scales = _residual_scales(residual_scale, where)
    arch = IR_ARCHS[arch_key]
    inputs = model_input(input_shape, (299, 299, 3), MIN_INPUT[stem], where)
    x = _stem(inputs, arch.stem, small=stem == "small")
    reductions = (
        lambda t: reduction_a(t, arch.reduction_a),
        lambda t: reduction_block(t, arch.reduction_b, "reduction_b"),
    )
    for i, (branches, n, scale) in enumerate(zip(arch.blocks, arch.repeats, scales), start=1):
        for j in range(1, n + 1):
            linear = arch.last_block_linear and i == len(arch.repeats) and j == n
            x = inception_resnet_block(
                x, branches, 1.0 if linear else scale, f"stage{i}_block{j}", activation=None if linear else "relu",
                se_reduction=se_reduction,
            )
        if i <= len(reductions):
            x = reductions[i - 1](x)
    if arch.final_conv:
        x = inception_conv_bn(x, arch.final_conv, 1, name="top")
    x = classifier_head(
        x, classes=classes, include_top=include_top, pooling=pooling,
        classifier_activation=classifier_activation, where=where, dropout=arch.dropout,
    )
    return keras.Model(inputs, x, name=name or where)


def inception_resnet_v1(
    *,
    input_shape: Sequence[int] | None = None,
    classes: int = 1000,
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation: str | None = "softmax",
    stem: str = "imagenet",
    residual_scale: float | None = None,
    name: str | None = None,
) -> keras.Model:
    """Inception-ResNet-v1 (Fig. 15 with the Fig. 14 stem; Figs. 10–13; Table 1)."""
    return _inception_resnet(
        "v1", "inception_resnet_v1", input_shape=input_shape, classes=classes, include_top=include_top,
        pooling=pooling, classifier_activation=classifier_activation, stem=stem, residual_scale=residual_scale,
        name=name,
    )


def inception_resnet_v2(
    *,
    input_shape: Sequence[int] | None = None,
    classes: int = 1000,
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation: str | None = "softmax",
    stem: str = "imagenet",
    residual_scale: float | None = None,
    layout: str = "keras",
    name: str | None = None,
) -> keras.Model:
    """Inception-ResNet-v2: keras.applications' layout (default) or Fig. 15's (Figs. 3, 16–19; Table 1)."""
    where = "inception_resnet_v2"
    check_choice("layout", layout, LAYOUTS, where)
    return _inception_resnet(
        f"v2_{layout}", where, input_shape=input_shape, classes=classes, include_top=include_top,
        pooling=pooling, classifier_activation=classifier_activation, stem=stem, residual_scale=residual_scale,
        name=name,
    )


def se_inception_resnet_v2(
    *,
    input_shape: Sequence[int] | None = None,
    classes: int = 1000,
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation: str | None = "softmax",
    stem: str = "imagenet",
    residual_scale: float | None = None,
    layout: str = "keras",
    se_reduction: int = 16,
    name: str | None = None,
) -> keras.Model:
    """SE-Inception-ResNet-v2 (SENet Fig. 3, Table 2): an SE unit on every block's up-projection, before the add."""
    where = "se_inception_resnet_v2"
    check_choice("layout", layout, LAYOUTS, where)
    check_se_reduction(se_reduction, where)
    return _inception_resnet(
        f"v2_{layout}", where, input_shape=input_shape, classes=classes, include_top=include_top,
        pooling=pooling, classifier_activation=classifier_activation, stem=stem, residual_scale=residual_scale,
        name=name, se_reduction=se_reduction,
    )


_COMMON = {
    "family": "inception_resnet", "default_input_shape": (299, 299, 3), "small_input_shape": (32, 32, 3),
    "small_knobs": {"stem": "small"},
}
register_model(
    "inception_resnet_v1", inception_resnet_v1, paper=f"{PAPER}, Figs. 10-15, Table 1",
    knob_choices={"stem": STEMS, "residual_scale": RESIDUAL_SCALE_CHOICES}, **_COMMON,
)
register_model(
    "inception_resnet_v2", inception_resnet_v2, paper=f"{PAPER}, Figs. 3, 7, 15-19, Table 1",
    knob_choices={"stem": STEMS, "residual_scale": RESIDUAL_SCALE_CHOICES, "layout": LAYOUTS}, **_COMMON,
)
register_model(
    "se_inception_resnet_v2", se_inception_resnet_v2, paper=f"{SE_PAPER}, Fig. 3, Table 2",
    knob_choices={
        "stem": STEMS, "residual_scale": RESIDUAL_SCALE_CHOICES, "layout": LAYOUTS, "se_reduction": SE_REDUCTIONS,
    },
    **{**_COMMON, "family": "se_inception"},
)
