"""IGC — Interleaved Group Convolutions (Zhang, Qi, Xiao & Wang, ICCV 2017, arXiv:1707.02725).

The IGC block (§3, Fig. 1) replaces a regular convolution by two complementary group convolutions:

    primary group conv: L partitions, 3×3 (spatial), each partition M channels in and out
    → permutation P: the m-th secondary partition takes the m-th channel of every primary partition
    → secondary group conv: M partitions, 1×1, each partition L channels
    → permutation back Pᵀ → BN → ReLU

There is no BN or ReLU between the two group convolutions: together they are one regular convolution
with a structured-sparse kernel W = Pᵀ W_d P W_p (§3.2), with ``G²(S/L + 1/M)`` weights for G = L·M
channels and S = 3·3. Special cases (§3.3): L = 1 is a regular 3×3 conv followed by a channel-wise
1×1 scaling (M = G, secondary conv depthwise); L = G (M = 1) is the Xception-like depthwise 3×3 conv
followed by a dense 1×1 conv. The permutation P is the channel shuffle with L groups
(`src.layers.ChannelShuffle`; the authors' MXNet ``Reorder(branch_factor=L)`` is the same map), Pᵀ the
shuffle with the secondary group count; both are left out where they are the identity (1 or G groups).

Registered networks (the authors' code, hellozting/InterleavedGroupConvolutions, is the reference):

- ``igc``: the CIFAR IGC-L?M?+Ident. network (``network/resnet_igc.py``): a 3×3 conv stem with G = L·M
  channels, three stages of (depth − 2)/6 residual blocks at widths G, 2G, 4G (stride 2 at stages
  2 and 3), each block two IGC blocks (ReLU after the first) plus an identity shortcut, or a grouped
  1×1/2 projection (L groups) + BN where the width doubles; global average pooling and FC. L stays
  fixed and M doubles with the width ("double the channel number by doubling M", README). As in the
  authors' code, the secondary group count of an IGC block is (its input channels)/L, so the first
  block of stages 2–3 uses M' = M in its first IGC. Default L = 24, M = 2, depth 20 (IGC-L24M2+Ident.;
  164,410 parameters, 29.7 M MACs at 32×32). It is native to 32×32 input (and 28×28: maps 28/14/7).
- ``igc_l100m2``: the ImageNet IGC-L100M2+Ident. of the README table (depth 18), the released model
  ``models/IGC-L100M2_ImageNet`` / ``network/resnet_igc_imgnet_d18.py``: a 7×7/2 conv with L
  channels and a 3×3/2 max-pool, four stages of two blocks at widths 2L·... = L·M·(1, 2, 4, 8)
  (200 → 1600), where L doubles per stage (100, 200, 400, 800) and M stays 2, projection shortcuts
  (1×1 group conv with the stage's L groups + BN) where the width changes (also in stage 1, 100 → 200).
  8,637,900 trainable parameters (the README prints 8.61 M; the released symbol, counted here, has
  8,637,900 with its BN scales/offsets and FC) and 1.26 G MACs (README: 1.3 G "FLOPs", multiply-add
  scale). ``stem="small"`` (3×3/1 conv, no max-pool) is its documented
  small-input variant: 32×32 input reaches stage 4 at 4×4.

Knobs: ``primary_partitions`` (L) and ``secondary_partitions`` (M) at stage 1 — any positive integers;
the extremes of §3.3 at a fixed width G are (L, M) = (1, G) and (G, 1) — ``depth`` (CIFAR, 6n + 2)
and ``stem`` (ImageNet).

Implementation note: a group convolution with many narrow groups (IGC's primary conv: 2 input
channels per group for L24M2 and L100M2) becomes, on the split path of `GroupedConv2D`, one small
convolution per group (100–800 ops per layer for L100M2). `NarrowGroupedConv2D` (a `GroupedConv2D`
with the same kernel, config and native switch) computes groups of ≤ 4 input channels instead as one
depthwise convolution (multiplier = outputs per group) and a sum over each group's inputs — the same
weights, outputs and multiply-adds in 3 ops (2–3× faster measured on this CPU for 2-channel groups).
That holds on TensorFlow without XLA only: under JAX the depthwise conv with a channel multiplier is
~140× slower than the split path, so JAX takes the split path (`DEPTHWISE_PATH_BACKENDS`); with XLA on
TensorFlow a whole IGC training step is ~120× slower, so train IGC with ``train.jit_compile=false``.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers, ops

from src.errors import ConfigError
from src.layers import ChannelShuffle, GroupedConv2D
from src.models.common import bn, check_choice, classifier_head, conv_bn, model_input
from src.models.registry import register_model

PAPER = "Zhang et al. 2017, arXiv:1707.02725"
#: He-normal on the fan-in (the authors' MXNet init: Gaussian, factor "in", magnitude 2). Keras' fan-out
#: of a group-conv kernel (kh, kw, C_in/g, C_out) is kh·kw·C_out, g times the true fan-out, which would
#: shrink every IGC block's output g-fold at initialisation (the zoo's CONV_INIT is fan-out).
IGC_INIT = {"class_name": "VarianceScaling", "config": {"scale": 2.0, "mode": "fan_in", "distribution": "normal"}}
#: Groups with at most this many input channels take the depthwise + group-sum path (see docstring).
NARROW_GROUP_CHANNELS = 4
#: Backends where that path is the fast one. Under JAX (jax.jit, CPU) the depthwise conv with a channel
#: multiplier is ~140x slower than the split path (experiments/bench/README.md, grouped convolution).
DEPTHWISE_PATH_BACKENDS = ("tensorflow",)
#: CIFAR widths per stage, as multiples of G = L·M (``resnet_igc.py``: G, 2G, 4G).
CIFAR_STAGE_WIDTHS = (1, 2, 4)
#: ImageNet IGC-L100M2 (depth 18): blocks per stage; width = L·M·2^(stage−1), L doubles per stage.
IMAGENET_BLOCKS = (2, 2, 2, 2)
STEMS = ("imagenet", "small")


@keras.saving.register_keras_serializable(package="cnnzoo")
class NarrowGroupedConv2D(GroupedConv2D):
    """`GroupedConv2D` whose split (training) path computes narrow groups (≤ 4 input channels each) as
    a depthwise convolution with multiplier ``filters / groups`` followed by a sum over each group's
    inputs, with every tensor at rank ≤ 4, on TensorFlow (under JAX the split path is faster). Kernel,
    config, MAC count and the ``"native"`` path are those of `GroupedConv2D`;
    `set_grouped_conv_implementation` switches it as well."""

    def takes_depthwise_path(self, channels: int) -> bool:
        """Whether a ``channels``-wide input runs as depthwise + group sum (else as `GroupedConv2D`)."""
        g = self.groups
        return (self.implementation == "split" and g not in (1, channels) and channels // g <= NARROW_GROUP_CHANNELS
                and keras.backend.backend() in DEPTHWISE_PATH_BACKENDS)

    def call(self, x):
        g, channels = self.groups, x.shape[-1]
        if not self.takes_depthwise_path(channels):
            return super().call(x)
        a, b = channels // g, self.filters // g  # inputs and outputs per group
        kh, kw = self.kernel_size
        # (kh, kw, a, g·b) -> (kh·kw, g, a, b) -> depthwise layout (kh, kw, g·a, b): input i·a+t, output j.
        kernel = ops.reshape(self.kernel, (kh * kw, a, g, b))
        kernel = ops.reshape(ops.transpose(kernel, (0, 2, 1, 3)), (kh, kw, channels, b))
        y = ops.depthwise_conv(x, kernel, strides=self.strides, padding=self.padding, dilation_rate=self.dilation_rate)
        _, h, w, _ = y.shape  # channel (i·a + t)·b + j -> sum over t -> i·b + j
        y = ops.sum(ops.reshape(y, (-1, h * w * g, a, b)), axis=2)
        y = ops.reshape(y, (-1, h, w, self.filters))
        if self.bias is not None:
            y = y + self.bias
        return y


def _group_conv(x, filters: int, kernel_size: int, groups: int, strides: int, name: str):
    return NarrowGroupedConv2D(
        filters, kernel_size, groups=groups, strides=strides, use_bias=False, kernel_initializer=IGC_INIT,
        name=f"{name}_gconv",
    )(x)


def _bn(x, name: str):
    return bn(x, f"{name}_bn")


def igc_block(x, filters: int, strides: int, primary: int, secondary: int, name: str, relu: bool = True):
    """Interleaved group convolution (§3, Fig. 1): primary 3×3 group conv (``primary`` = L partitions)
    → P → secondary 1×1 group conv (``secondary`` partitions) → Pᵀ → BN → (ReLU)."""
    y = _group_conv(x, filters, 3, primary, strides, f"{name}_primary")
    if primary not in (1, filters):
        y = ChannelShuffle(primary, name=f"{name}_permute")(y)
    y = _group_conv(y, filters, 1, secondary, 1, f"{name}_secondary")
    if secondary not in (1, filters):
        y = ChannelShuffle(secondary, name=f"{name}_permute_back")(y)
    y = _bn(y, name)
    return layers.Activation("relu", name=f"{name}_relu")(y) if relu else y


def igc_residual_block(
    x, filters: int, strides: int, primary: int, secondary: tuple[int, int], name: str
):
    """Two IGC blocks + identity ("+Ident."), or a 1×1 group-conv projection (``primary`` groups) + BN
    where the shape changes (``get_fusion`` of the authors' ``resnet_igc*.py``)."""
    shortcut = x
    if strides != 1 or x.shape[-1] != filters:
        shortcut = _bn(_group_conv(x, filters, 1, primary, strides, f"{name}_shortcut"), f"{name}_shortcut")
    y = igc_block(x, filters, strides, primary, secondary[0], f"{name}_igc1")
    y = igc_block(y, filters, 1, primary, secondary[1], f"{name}_igc2", relu=False)
    y = layers.Add(name=f"{name}_add")([shortcut, y])
    return layers.Activation("relu", name=f"{name}_out")(y)


def _check_partitions(where: str, **values: int) -> None:
    for field, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{where}: {field} must be a positive integer, got {value!r}.")


def igc_cifar(
    *,
    input_shape: Sequence[int] | None = None,
    classes: int = 10,
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation: str | None = "softmax",
    primary_partitions: int = 24,
    secondary_partitions: int = 2,
    depth: int = 20,
    name: str | None = None,
) -> keras.Model:
    """CIFAR IGC-L{L}M{M}+Ident. of depth 6n+2 (authors' ``resnet_igc.py``; paper §5.1)."""
    where = "igc"
    _check_partitions(where, primary_partitions=primary_partitions, secondary_partitions=secondary_partitions)
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
        raise ConfigError(f"{where}: depth must be 6n+2 with n ≥ 1 (8, 14, 20, 26, 32, 38, ...), got {depth!r}.")
    n = (depth - 2) // 6
    base = primary_partitions * secondary_partitions
    inputs = model_input(input_shape, (32, 32, 3), 8, where)
    x = conv_bn(inputs, base, 3, 1, name="stem")
    for i, scale in enumerate(CIFAR_STAGE_WIDTHS, start=1):
        filters = base * scale
        for j in range(1, n + 1):
            strides = 2 if (j == 1 and i > 1) else 1
            secondary = (x.shape[-1] // primary_partitions, filters // primary_partitions)
            x = igc_residual_block(x, filters, strides, primary_partitions, secondary, f"stage{i}_block{j}")
    x = classifier_head(
        x, classes=classes, include_top=include_top, pooling=pooling,
        classifier_activation=classifier_activation, where=where,
    )
    return keras.Model(inputs, x, name=name or where)


def igc_imagenet(
    *,
    input_shape: Sequence[int] | None = None,
    classes: int = 1000,
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation: str | None = "softmax",
    primary_partitions: int = 100,
    secondary_partitions: int = 2,
    stem: str = "imagenet",
    name: str | None = None,
) -> keras.Model:
    """ImageNet IGC-L{L}M{M}+Ident., depth 18, L doubling per stage (the released IGC-L100M2 model)."""
    where = "igc_l100m2"
    _check_partitions(where, primary_partitions=primary_partitions, secondary_partitions=secondary_partitions)
    check_choice("stem", stem, STEMS, where)
    inputs = model_input(input_shape, (224, 224, 3), 32 if stem == "imagenet" else 8, where)
    if stem == "imagenet":
        x = conv_bn(inputs, primary_partitions, 7, 2, name="stem")
        x = layers.MaxPooling2D(3, strides=2, padding="same", name="stem_pool")(x)
    else:
        x = conv_bn(inputs, primary_partitions, 3, 1, name="stem")
    for i, blocks in enumerate(IMAGENET_BLOCKS, start=1):
        primary = primary_partitions * 2 ** (i - 1)
        filters = primary * secondary_partitions
        for j in range(1, blocks + 1):
            strides = 2 if (j == 1 and i > 1) else 1
            secondary = (secondary_partitions, secondary_partitions)
            x = igc_residual_block(x, filters, strides, primary, secondary, f"stage{i}_block{j}")
    x = classifier_head(
        x, classes=classes, include_top=include_top, pooling=pooling,
        classifier_activation=classifier_activation, where=where,
    )
    return keras.Model(inputs, x, name=name or where)


register_model(
    "igc", igc_cifar, family="igc", paper=f"{PAPER}, §3 and §5.1 (CIFAR IGC-L24M2+Ident.)",
    default_input_shape=(32, 32, 3), small_input_shape=(32, 32, 3),
    knob_choices={
        "primary_partitions": (24, 1, 4, 8, 12, 48),
        "secondary_partitions": (2, 1, 4, 8),
        "depth": (20, 8, 38),
    },
)
register_model(
    "igc_l100m2", igc_imagenet, family="igc",
    paper=f"{PAPER}, §5.2 ImageNet (IGC-L100M2+Ident., authors' README table and released model)",
    default_input_shape=(224, 224, 3), small_input_shape=(32, 32, 3), small_knobs={"stem": "small"},
    knob_choices={"primary_partitions": (100, 25, 50), "secondary_partitions": (2, 4), "stem": STEMS},
)
