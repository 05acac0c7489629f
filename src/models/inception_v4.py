"""Inception-v4 (Szegedy et al., "Inception-v4, Inception-ResNet and the Impact of Residual Connections
on Learning", AAAI 2017, arXiv:1602.07261, Figs. 3–9), and the pieces it shares with the
Inception-ResNet networks of `src.models.inception_resnet` (conv-BN helper, the Fig. 3 stem, the
Reduction-A block of Fig. 7 with its k, l, m, n table and the generic reduction block).

Network (Fig. 9), all at 299×299×3: stem (Fig. 3, 35×35×384) → 4 × Inception-A (Fig. 4, 384) →
Reduction-A (Fig. 7, k, l, m, n = 192, 224, 256, 384; 17×17×1024) → 7 × Inception-B (Fig. 5, 1024) →
Reduction-B (Fig. 8; 8×8×1536) → 3 × Inception-C (Fig. 6, 1536) → average pool → dropout (keep 0.8)
→ softmax. The block repeats and the Reduction-A filters are the data of `INCEPTION_V4` (read by one
builder loop). Convolutions marked "V" in the figures use 'valid' padding, the others 'same'.
Every convolution is conv (no bias) → BN → ReLU; BN has no γ (``scale=False``, as TF-slim and
keras.applications' Inception networks, whose Inception-ResNet-v2 count this family matches exactly).
The paper prints no parameter count; re-implementations (timm, affine BN) have ≈ 42.68 M; ours,
without the BN γ, has 42,658,648 (−0.05 %). About 12.27 G multiply-adds at 299.

Knob:
- ``stem``: ``"imagenet"`` (Fig. 3, strides 2 and 'valid' convs; input ≥ 75 px) or ``"small"``: the
  documented small-input variant: the same stem layers with stride 1 and 'same' padding everywhere
  (the max-pools of the stem too), so the stem keeps the input size; the two reduction blocks are
  unchanged, so a 32×32 input ends at 7×7 (28×28 → 6×6), enough for the 'valid' 3×3/2 reductions and
  ≥ 4×4 for the last stage (CPU convs collapse on tiny maps). Same parameters; about 10 G multiply-adds at 32×32.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import keras
from keras import layers

from src.models.common import CONV_INIT, bn_act, check_choice, classifier_head, model_input
from src.models.registry import register_model

PAPER = "Szegedy et al. 2017, arXiv:1602.07261"
STEMS = ("imagenet", "small")
#: Smallest input per stem: the 'valid' stride-2 convs of the ImageNet stems and reductions need 75 px
#: to end at 1×1 (as keras.applications' InceptionResNetV2); the small stem keeps the size, and the
#: two 'valid' 3×3/2 reductions need 7 px.
MIN_INPUT = {"imagenet": 75, "small": 7}

Kernel = int | tuple[int, int]
#: A conv of a branch: (filters, kernel) or (filters, kernel, strides); strides 2 convs are 'valid'.
ConvSpec = tuple[int, Kernel] | tuple[int, Kernel, int]


@dataclass(frozen=True)
class InceptionV4Arch:
    """One row of the network table: blocks per stage (A, B, C) and Reduction-A's k, l, m, n (Fig. 7)."""

    repeats: tuple[int, int, int]
    reduction_a: tuple[int, int, int, int]


#: Fig. 9 and the Reduction-A table (Table 1 of the paper: Inception-v4 k, l, m, n = 192, 224, 256, 384).
INCEPTION_V4 = InceptionV4Arch(repeats=(4, 7, 3), reduction_a=(192, 224, 256, 384))
#: Fig. 8 Reduction-B as branches of convs (each ends with a 3×3/2 'valid' conv), plus the 3×3/2 max-pool.
REDUCTION_B_V4: tuple[tuple[ConvSpec, ...], ...] = (
    ((192, 1), (192, 3, 2)),
    ((256, 1), (256, (1, 7)), (320, (7, 1)), (320, 3, 2)),
)
HEAD_DROPOUT = 0.2  # Fig. 9: dropout, keep 0.8


def inception_conv_bn(
    x,
    filters: int,
    kernel_size: Kernel,
    strides: int = 1,
    padding: str = "same",
    name: str = "",
    activation: str | None = "relu",
):
    """Conv (no bias, ``padding``) → BN (no γ, as TF-slim) → ReLU, named ``{name}_conv/_bn/_relu``."""
    x = layers.Conv2D(
        filters, kernel_size, strides=strides, padding=padding, use_bias=False,
        kernel_initializer=CONV_INIT, name=f"{name}_conv",
    )(x)
    return bn_act(x, name, activation, scale=False)


def conv_branch(x, convs: Sequence[ConvSpec], name: str, small: bool = False):
    """A chain of conv-BN-ReLU; stride-2 convs are 'valid' (the figures' "stride 2 V")."""
    for i, spec in enumerate(convs, start=1):
        filters, kernel = spec[0], spec[1]
        strides = spec[2] if len(spec) > 2 else 1
        padding = "valid" if strides > 1 else "same"
        if small:
            strides, padding = 1, "same"
        x = inception_conv_bn(x, filters, kernel, strides, padding, name=f"{name}_{i}")
    return x


def reduction_block(x, branches: Sequence[Sequence[ConvSpec]], name: str):
    """Reduction block (Figs. 7, 8, 12, 18): conv branches ending in 3×3/2 'valid' + a 3×3/2 max-pool."""
    outs = [conv_branch(x, convs, f"{name}_b{i}") for i, convs in enumerate(branches)]
    outs.append(layers.MaxPooling2D(3, 2, padding="valid", name=f"{name}_pool")(x))
    return layers.Concatenate(name=f"{name}_out")(outs)


def reduction_a(x, klmn: Sequence[int], name: str = "reduction_a"):
    """Reduction-A (Fig. 7): 3×3/2 n | 1×1 k → 3×3 l → 3×3/2 m | max-pool (k, l, m, n per network)."""
    k, l, m, n = klmn  # noqa: E741 — the paper's names (Table 1)
    return reduction_block(x, (((n, 3, 2),), ((k, 1), (l, 3), (m, 3, 2))), name)


def _stem_conv(x, filters: int, kernel: Kernel, strides: int, padding: str, small: bool, name: str):
    """A stem conv; the small variant runs it at stride 1, 'same'."""
    return inception_conv_bn(x, filters, kernel, 1 if small else strides, "same" if small else padding, name=name)


def _stem_pool(x, small: bool, name: str):
    """The stems' 3×3/2 'valid' max-pool; 3×3/1 'same' in the small variant."""
    return layers.MaxPooling2D(3, 1 if small else 2, padding="same" if small else "valid", name=name)(x)


def stem_v4(x, small: bool = False):
    """Fig. 3, the stem of Inception-v4 and Inception-ResNet-v2: 299×299×3 → 35×35×384."""
    x = _stem_conv(x, 32, 3, 2, "valid", small, "stem_conv1")
    x = _stem_conv(x, 32, 3, 1, "valid", small, "stem_conv2")
    x = _stem_conv(x, 64, 3, 1, "same", small, "stem_conv3")
    x = layers.Concatenate(name="stem_mixed1")(
        [_stem_pool(x, small, "stem_mixed1_pool"), _stem_conv(x, 96, 3, 2, "valid", small, "stem_mixed1_conv")]
    )
    a = _stem_conv(x, 64, 1, 1, "same", small, "stem_mixed2_b0_1")
    a = _stem_conv(a, 96, 3, 1, "valid", small, "stem_mixed2_b0_2")
    b = _stem_conv(x, 64, 1, 1, "same", small, "stem_mixed2_b1_1")
    b = _stem_conv(b, 64, (7, 1), 1, "same", small, "stem_mixed2_b1_2")
    b = _stem_conv(b, 64, (1, 7), 1, "same", small, "stem_mixed2_b1_3")
    b = _stem_conv(b, 96, 3, 1, "valid", small, "stem_mixed2_b1_4")
    x = layers.Concatenate(name="stem_mixed2")([a, b])
    return layers.Concatenate(name="stem_mixed3")(
        [_stem_conv(x, 192, 3, 2, "valid", small, "stem_mixed3_conv"), _stem_pool(x, small, "stem_mixed3_pool")]
    )


def _avg_pool_branch(x, filters: int, name: str):
    x = layers.AveragePooling2D(3, 1, padding="same", name=f"{name}_pool")(x)
    return inception_conv_bn(x, filters, 1, name=f"{name}_1")


def inception_a(x, name: str):
    """Inception-A (Fig. 4): avg-pool → 1×1 96 | 1×1 96 | 1×1 64 → 3×3 96 | 1×1 64 → 3×3 96 → 3×3 96."""
    outs = [
        _avg_pool_branch(x, 96, f"{name}_b0"),
        conv_branch(x, ((96, 1),), f"{name}_b1"),
        conv_branch(x, ((64, 1), (96, 3)), f"{name}_b2"),
        conv_branch(x, ((64, 1), (96, 3), (96, 3)), f"{name}_b3"),
    ]
    return layers.Concatenate(name=f"{name}_out")(outs)


def inception_b(x, name: str):
    """Inception-B (Fig. 5): avg-pool → 1×1 128 | 1×1 384 | 1×1 192 → 1×7 224 → 7×1 256 |
    1×1 192 → 1×7 192 → 7×1 224 → 1×7 224 → 7×1 256."""
    outs = [
        _avg_pool_branch(x, 128, f"{name}_b0"),
        conv_branch(x, ((384, 1),), f"{name}_b1"),
        conv_branch(x, ((192, 1), (224, (1, 7)), (256, (7, 1))), f"{name}_b2"),
        conv_branch(x, ((192, 1), (192, (1, 7)), (224, (7, 1)), (224, (1, 7)), (256, (7, 1))), f"{name}_b3"),
    ]
    return layers.Concatenate(name=f"{name}_out")(outs)


def _split_1x3_3x1(x, filters: int, name: str):
    return [inception_conv_bn(x, filters, (1, 3), name=f"{name}_1x3"), inception_conv_bn(x, filters, (3, 1), name=f"{name}_3x1")]


def inception_c(x, name: str):
    """Inception-C (Fig. 6): avg-pool → 1×1 256 | 1×1 256 | 1×1 384 → (1×3 256, 3×1 256) |
    1×1 384 → 1×3 448 → 3×1 512 → (1×3 256, 3×1 256)."""
    b2 = inception_conv_bn(x, 384, 1, name=f"{name}_b2_1")
    b3 = conv_branch(x, ((384, 1), (448, (1, 3)), (512, (3, 1))), f"{name}_b3")
    outs = [
        _avg_pool_branch(x, 256, f"{name}_b0"),
        inception_conv_bn(x, 256, 1, name=f"{name}_b1_1"),
        *_split_1x3_3x1(b2, 256, f"{name}_b2_2"),
        *_split_1x3_3x1(b3, 256, f"{name}_b3_4"),
    ]
    return layers.Concatenate(name=f"{name}_out")(outs)


def inception_v4(
    *,
    input_shape: Sequence[int] | None = None,
    classes: int = 1000,
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation: str | None = "softmax",
    stem: str = "imagenet",
    name: str | None = None,
) -> keras.Model:
    """Inception-v4 of Fig. 9 (``stem="small"``: the stride-1 small-input variant, module docstring)."""
    where = "inception_v4"
    check_choice("stem", stem, STEMS, where)
    arch = INCEPTION_V4
    inputs = model_input(input_shape, (299, 299, 3), MIN_INPUT[stem], where)
    x = stem_v4(inputs, small=stem == "small")
    blocks = (inception_a, inception_b, inception_c)
    reductions = (lambda t: reduction_a(t, arch.reduction_a), lambda t: reduction_block(t, REDUCTION_B_V4, "reduction_b"))
    for i, (block, n) in enumerate(zip(blocks, arch.repeats), start=1):
        for j in range(1, n + 1):
            x = block(x, f"stage{i}_block{j}")
        if i <= len(reductions):
            x = reductions[i - 1](x)
    x = classifier_head(
        x, classes=classes, include_top=include_top, pooling=pooling,
        classifier_activation=classifier_activation, where=where, dropout=HEAD_DROPOUT,
    )
    return keras.Model(inputs, x, name=name or where)


register_model(
    "inception_v4", inception_v4, family="inception_v4", paper=f"{PAPER}, Figs. 3-9",
    default_input_shape=(299, 299, 3), small_input_shape=(32, 32, 3), small_knobs={"stem": "small"},
    knob_choices={"stem": STEMS},
)
