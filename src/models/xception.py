"""Xception (Chollet, "Xception: Deep Learning with Depthwise Separable Convolutions", CVPR 2017,
arXiv:1610.02357, Fig. 5).

Entry flow (two 3×3 convs, then three residual modules of depthwise-separable convs ending in a
3×3/2 max-pool, with a strided 1×1 conv + BN on the shortcut), middle flow (8 identical residual
modules of three 728-wide separable convs, identity shortcut), exit flow (one residual module
728 → 1024 with a max-pool, then separable convs 1536 and 2048, each followed by ReLU), global
average pool and the classifier. Every conv and separable conv carries no bias and is followed by
BN, as the paper's Fig. 5 ("all Convolution and SeparableConvolution layers are followed by batch
normalization") and keras.applications: 22,855,952 trainable parameters (Table 3), equal to
keras.applications' ``Xception``. Separable convs are ``SeparableConv2D`` (depthwise 3×3, depth
multiplier 1, then pointwise 1×1, no non-linearity between them, §4.1/§4.7); in TFLite they
become DEPTHWISE_CONV_2D + CONV_2D.

The flows are data: ``FLOWS`` holds one row per module kind, (flow, separable-conv filters,
repeats, stride), read by one builder loop; ``EXIT_CONVS`` the widths of the exit flow's tail.
Inside a module every separable conv is preceded by a ReLU, except the first conv of the first
entry module, which follows the stem's ReLU directly (Fig. 5).

Knobs:
- ``middle_repeats``: how many times the middle-flow module is repeated (Fig. 5: 8). Every extra
  module adds 3 × (9·728 + 728² + 2·728) = 1,613,976 parameters.
- ``residual``: ``True`` (Fig. 5) or ``False`` — the no-residual ablation of §4.7 / Fig. 7 (and
  Fig. 8): the same network without shortcuts, so the projection 1×1 convs of the entry and exit
  modules disappear with their BNs (−977,072 parameters: 21,878,880 in all).
- ``stem``: ``"imagenet"`` (Fig. 5: 3×3/2 and 3×3/1 convs with valid padding; total stride 32,
  10×10 final map at 299 px; inputs below 71 px are refused, keras.applications' minimum) or
  ``"small"``, the small-input variant for 28–32 px inputs (CIFAR / Fashion-MNIST): both stem convs
  at stride 1 with "same" padding, and the first entry-flow module at stride 1 (no max-pool, its
  shortcut a 1×1 conv at stride 1). Total stride 8: a 32×32 or 28×28 input ends in a 4×4 map
  (the exit flow's 2048-wide convs on ≥ 4×4 maps: CPU convs are slow on tiny ones). Same parameters as ``"imagenet"``.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from src.errors import ConfigError
from src.models.common import CONV_INIT, bn, bn_act, check_choice, classifier_head, conv_bn, model_input
from src.models.registry import register_model

PAPER = "Chollet 2017, arXiv:1610.02357"

#: Fig. 5, one row per module kind: (flow, filters of its separable convs, repeats, stride).
#: The middle flow's repeats are the ``middle_repeats`` knob (8 in the paper).
FLOWS: tuple[tuple[str, tuple[int, ...], int, int], ...] = (
    ("entry", (128, 128), 1, 2),
    ("entry", (256, 256), 1, 2),
    ("entry", (728, 728), 1, 2),
    ("middle", (728, 728, 728), 8, 1),
    ("exit", (728, 1024), 1, 2),
)
#: Fig. 5, stem: two 3×3 convs, (filters, stride with stem="imagenet").
STEM_CONVS: tuple[tuple[int, int], ...] = ((32, 2), (64, 1))
#: Fig. 5, end of the exit flow: separable convs, each followed by BN and ReLU.
EXIT_CONVS: tuple[int, ...] = (1536, 2048)
STEMS = ("imagenet", "small")
MIDDLE_REPEATS_CHOICES = (8, 4, 16)
#: Smallest input side per stem (imagenet: keras.applications' 71 px).
MIN_SIZE = {"imagenet": 71, "small": 8}


def _sepconv_bn(x, filters: int, name: str):
    """3×3 depthwise-separable conv (no bias, no activation between depthwise and pointwise) + BN."""
    x = layers.SeparableConv2D(
        filters, 3, padding="same", use_bias=False, depthwise_initializer=CONV_INIT,
        pointwise_initializer=CONV_INIT, name=f"{name}_sepconv",
    )(x)
    return bn(x, f"{name}_bn")


def xception_module(
    x, filters: Sequence[int], strides: int, name: str, *, first_relu: bool = True, residual: bool = True
):
    """One residual module of Fig. 5: [ReLU → SeparableConv → BN] × len(filters), a 3×3/2 max-pool
    when strided, plus the shortcut (identity, or 1×1 conv + BN when the shape changes)."""
    y = x
    for k, f in enumerate(filters, start=1):
        if k > 1 or first_relu:
            y = layers.Activation("relu", name=f"{name}_relu{k}")(y)
        y = _sepconv_bn(y, f, name=f"{name}_{k}")
    if strides > 1:
        y = layers.MaxPooling2D(3, strides, padding="same", name=f"{name}_pool")(y)
    if not residual:
        return y
    if strides == 1 and x.shape[-1] == filters[-1]:
        shortcut = x
    else:
        shortcut = conv_bn(x, filters[-1], 1, strides, name=f"{name}_shortcut", activation=None)
    return layers.Add(name=f"{name}_add")([y, shortcut])


def _stem(x, stem: str):
    """Fig. 5's two 3×3 convs (valid padding, first stride 2); ``"small"``: stride 1, same padding."""
    for i, (filters, stride) in enumerate(STEM_CONVS, start=1):
        if stem == "imagenet":
            x = layers.Conv2D(
                filters, 3, strides=stride, padding="valid", use_bias=False, kernel_initializer=CONV_INIT,
                name=f"stem{i}_conv",
            )(x)
            x = bn_act(x, f"stem{i}")
        else:
            x = conv_bn(x, filters, 3, 1, name=f"stem{i}")
    return x


def xception(
    *,
    input_shape: Sequence[int] | None = None,
    classes: int = 1000,
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation: str | None = "softmax",
    middle_repeats: int = 8,
    residual: bool = True,
    stem: str = "imagenet",
    name: str | None = None,
) -> keras.Model:
    """Xception of Fig. 5 (22,855,952 trainable parameters at the defaults, Table 3).

    ``middle_repeats``: number of middle-flow modules (8); ``residual``: False is the Fig. 7
    no-residual ablation; ``stem``: "imagenet" (Fig. 5) or "small" (stride-1 stem, first entry
    module unstrided: total stride 8, for 28–32 px inputs).
    """
    where = "xception"
    if isinstance(middle_repeats, bool) or not isinstance(middle_repeats, int) or middle_repeats < 0:
        raise ConfigError(
            f"{where}: middle_repeats={middle_repeats!r} is not valid; give a non-negative integer number of "
            f"middle-flow modules (Fig. 5: 8; e.g. {list(MIDDLE_REPEATS_CHOICES)})."
        )
    check_choice("residual", residual, (True, False), where)
    if not isinstance(residual, bool):
        raise ConfigError(f"{where}: residual={residual!r} is not valid; choose one of [True, False].")
    check_choice("stem", stem, STEMS, where)
    inputs = model_input(input_shape, (299, 299, 3), MIN_SIZE[stem], where)
    x = _stem(inputs, stem)
    first = True
    counts: dict[str, int] = {}  # blocks numbered within their flow: entry_block1..3, middle_block1..8, exit_block1
    for flow, filters, repeats, stride in FLOWS:
        n = middle_repeats if flow == "middle" else repeats
        if first and stem == "small":
            stride = 1  # the small-input variant: the first entry module is unstrided
        for j in range(n):
            counts[flow] = counts.get(flow, 0) + 1
            x = xception_module(
                x, filters, stride if j == 0 else 1, f"{flow}_block{counts[flow]}", first_relu=not first,
                residual=residual,
            )
            first = False
    for k, f in enumerate(EXIT_CONVS, start=1):
        x = _sepconv_bn(x, f, name=f"exit_tail{k}")
        x = layers.Activation("relu", name=f"exit_tail{k}_relu")(x)
    x = classifier_head(
        x, classes=classes, include_top=include_top, pooling=pooling,
        classifier_activation=classifier_activation, where=where,
    )
    return keras.Model(inputs, x, name=name or where)


register_model(
    "xception", xception, family="xception", paper=f"{PAPER}, Fig. 5 and Table 3 (ablation: Fig. 7)",
    default_input_shape=(299, 299, 3), small_input_shape=(32, 32, 3), small_knobs={"stem": "small"},
    knob_choices={"middle_repeats": MIDDLE_REPEATS_CHOICES, "residual": (True, False), "stem": STEMS},
)
