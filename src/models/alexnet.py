"""AlexNet (Krizhevsky, Sutskever & Hinton, "ImageNet Classification with Deep Convolutional Neural
Networks", NIPS 2012; no arXiv id), the two-GPU network of the paper's Figure 2 and §3.

Five convolutions and three fully connected layers (§3.5, Figure 2): conv1 96×11×11/4 on a 227×227×3
input (the paper says 224, but 55×55 conv1 maps need 227, as in Caffe's bvlc_alexnet), conv2 256×5×5,
conv3 384×3×3, conv4 384×3×3, conv5 256×3×3, fc6 4096, fc7 4096, fc8 1000. The two GPU towers are
``groups=2`` on conv2, conv4 and conv5 (each sees only its own GPU's half of the previous maps; conv3
and the FC layers see everything), with `src.layers.GroupedConv2D`. ReLU after every layer; local
response normalisation (§3.3: k=2, n=5, α=1e-4, β=0.75, `src.layers.lrn`) after the ReLUs of conv1 and
conv2; overlapping 3×3 stride-2 max-pooling (§3.4) after the two LRNs and after conv5; dropout 0.5 on
fc6 and fc7 (§4.2). Every conv and FC layer has a bias. This is exactly 60,965,224 parameters (the
per-layer counts of Deep Compression's Table 4, Han et al. 2016, arXiv:1510.00149: conv1 35K, conv2
307K, conv3 885K, conv4 663K, conv5 442K, fc6 38M, fc7 17M, fc8 4M) and 724.4 M multiply-adds (the
"720 M" of MobileNet's Table 9). Initialisation is He-normal for the convolutions (not the paper's
N(0, 0.01) with unit biases), so that the network trains without hand-tuned learning rates.

Knobs (the paper's values are the defaults):

- ``groups``: 2 = the two-tower network; 1 = the same layers fully connected across channels (the
  single-tower variant, 62.4 M parameters; not torchvision's 64-192-384-256-256 "one weird trick" net).
- ``stem``: ``"imagenet"`` = conv1 11×11 stride 4 without padding (the paper); ``"small"`` = the
  small-input variant: conv1 3×3 stride 1 with "same" padding, i.e. without conv1's stride-4
  downsampling; everything else as in the paper. The FC head flattens whatever final map results
  (6×6 at 227, 3×3 at 32×32, 2×2 at 28×28), so fc6's input size adapts to the input.
- ``fc_width``: units of fc6 and fc7 (4096 in the paper; smaller widths shrink the head for small
  data and CPU training).
- ``lrn``: local response normalisation after conv1 and conv2 (True) or none (the §3.3 ablation).
- ``pool_size``: max-pool window z with stride 2: 3 = overlapping pooling (§3.4), 2 = the
  non-overlapping ablation (same map sizes: 55→27→13→6).
- ``width_multiplier``: scales the five conv widths (rounded to multiples of 8), for CPU-sized runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import keras
from keras import layers

from src.errors import ConfigError
from src.layers import GroupedConv2D
from src.layers.lrn import LocalResponseNormalization
from src.models.common import CONV_INIT, check_choice, check_width_multiplier, classifier_head, make_divisible, model_input
from src.models.registry import register_model

PAPER = "Krizhevsky et al. 2012, NIPS (no arXiv id), §3 and Figure 2"


class ConvRow(NamedTuple):
    """One convolution of Figure 2: width, kernel, stride, padding, split over the towers, LRN and pool after it."""

    filters: int
    kernel: int
    strides: int
    padding: str
    grouped: bool
    lrn: bool
    pool: bool


#: Figure 2 / §3.5, conv1..conv5 (padding as Caffe's bvlc_alexnet: none on conv1, "same" elsewhere).
CONV_LAYERS: tuple[ConvRow, ...] = (
    ConvRow(96, 11, 4, "valid", grouped=False, lrn=True, pool=True),
    ConvRow(256, 5, 1, "same", grouped=True, lrn=True, pool=True),
    ConvRow(384, 3, 1, "same", grouped=False, lrn=False, pool=False),
    ConvRow(384, 3, 1, "same", grouped=True, lrn=False, pool=False),
    ConvRow(256, 3, 1, "same", grouped=True, lrn=False, pool=True),
)
#: The small-input stem: conv1 as 3×3 stride 1, "same" padding.
SMALL_CONV1 = ConvRow(96, 3, 1, "same", grouped=False, lrn=True, pool=True)
#: §3.3: k, n, α, β.
LRN_K, LRN_SIZE, LRN_ALPHA, LRN_BETA = 2.0, 5, 1e-4, 0.75
POOL_STRIDE = 2
DROPOUT = 0.5  # §4.2, on fc6 and fc7
STEMS = ("imagenet", "small")
CHANNEL_DIVISOR = 8


def _rows(stem: str) -> tuple[ConvRow, ...]:
    return CONV_LAYERS if stem == "imagenet" else (SMALL_CONV1, *CONV_LAYERS[1:])


def _final_map_size(size: int, rows: Sequence[ConvRow], pool_size: int) -> int:
    """Side of the last pooled map for an input side ``size`` (0 when some layer would be empty)."""
    for row in rows:
        if row.padding == "valid":
            size = (size - row.kernel) // row.strides + 1 if size >= row.kernel else 0
        else:
            size = -(-size // row.strides)
        if row.pool:
            size = (size - pool_size) // POOL_STRIDE + 1 if size >= pool_size else 0
    return size


def _min_input_size(rows: Sequence[ConvRow], pool_size: int) -> int:
    """Smallest input side whose last pooled map is at least 1×1 (67 for the paper's net, 15 for the small stem)."""
    return next(s for s in range(1, 1024) if _final_map_size(s, rows, pool_size) >= 1)


def _conv(x, row: ConvRow, filters: int, groups: int, name: str):
    kwargs = dict(strides=row.strides, padding=row.padding, use_bias=True, kernel_initializer=CONV_INIT, name=name)
    if row.grouped and groups > 1:
        return GroupedConv2D(filters, row.kernel, groups=groups, **kwargs)(x)
    return layers.Conv2D(filters, row.kernel, **kwargs)(x)


def _touches_grouped_conv(index: int) -> bool:
    """Whether conv{index + 1}'s output is the output or the input of a grouped convolution."""
    nxt = CONV_LAYERS[index + 1] if index + 1 < len(CONV_LAYERS) else None
    return CONV_LAYERS[index].grouped or (nxt is not None and nxt.grouped)


def _check_knobs(groups, fc_width, lrn, width_multiplier, widths: Sequence[int], where: str) -> None:
    if not isinstance(lrn, bool):
        raise ConfigError(f"{where}: lrn={lrn!r} must be true or false.")
    if not isinstance(fc_width, int) or isinstance(fc_width, bool) or fc_width < 1:
        raise ConfigError(f"{where}: fc_width={fc_width!r} must be a positive integer (paper: 4096).")
    check_width_multiplier(width_multiplier, where)
    # A grouped conv needs groups to divide its input and output widths: conv2, conv4, conv5 and their
    # inputs conv1, conv3 (and conv4), i.e. every conv width.
    grouped_widths = [w for i, w in enumerate(widths) if _touches_grouped_conv(i)]
    if not isinstance(groups, int) or isinstance(groups, bool) or groups < 1 or any(w % groups for w in grouped_widths):
        valid = [g for g in range(1, max(grouped_widths) + 1) if all(w % g == 0 for w in grouped_widths)]
        raise ConfigError(
            f"{where}: groups={groups!r} must divide the widths of the grouped convs conv2, conv4, conv5 and "
            f"their inputs {sorted(set(grouped_widths))}; valid: {valid} (paper: 2)."
        )


def alexnet(
    *,
    input_shape: Sequence[int] | None = None,
    classes: int = 1000,
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation: str | None = "softmax",
    groups: int = 2,
    stem: str = "imagenet",
    fc_width: int = 4096,
    lrn: bool = True,
    pool_size: int = 3,
    width_multiplier: float = 1.0,
    name: str | None = None,
) -> keras.Model:
    """AlexNet of Figure 2 (two towers as ``groups=2``); see the module docstring for the knobs.

    Layer names are the paper's / Caffe's (conv1..conv5, pool1/2/5, fc6..fc8), as in Deep Compression's
    per-layer tables.
    """
    where = "alexnet"
    check_choice("stem", stem, STEMS, where)
    check_choice("pool_size", pool_size, (3, 2), where)
    rows = _rows(stem)
    widths = ([make_divisible(row.filters * width_multiplier, CHANNEL_DIVISOR) for row in rows]
              if isinstance(width_multiplier, (int, float)) else [])
    _check_knobs(groups, fc_width, lrn, width_multiplier, widths, where)
    if include_top and (not isinstance(classes, int) or classes < 1):
        raise ConfigError(f"{where}: classes must be a positive integer, got {classes!r}.")
    default_shape = (227, 227, 3) if stem == "imagenet" else (32, 32, 3)
    inputs = model_input(input_shape, default_shape, _min_input_size(rows, pool_size), where)

    x = inputs
    for i, (row, filters) in enumerate(zip(rows, widths), start=1):
        x = _conv(x, row, filters, groups, name=f"conv{i}")
        x = layers.Activation("relu", name=f"conv{i}_relu")(x)
        if row.lrn and lrn:
            x = LocalResponseNormalization(LRN_SIZE, LRN_ALPHA, LRN_BETA, LRN_K, name=f"conv{i}_lrn")(x)
        if row.pool:
            x = layers.MaxPooling2D(pool_size, POOL_STRIDE, name=f"pool{i}")(x)

    if not include_top:
        x = classifier_head(
            x, classes=classes, include_top=False, pooling=pooling,
            classifier_activation=classifier_activation, where=where,
        )
        return keras.Model(inputs, x, name=name or where)
    x = layers.Flatten(name="flatten")(x)
    for i in (6, 7):
        x = layers.Dense(fc_width, activation="relu", name=f"fc{i}")(x)
        x = layers.Dropout(DROPOUT, name=f"fc{i}_dropout")(x)
    x = layers.Dense(classes, activation=classifier_activation, name="fc8")(x)
    return keras.Model(inputs, x, name=name or where)


register_model(
    "alexnet", alexnet, fixed={}, family="alexnet", paper=PAPER,
    default_input_shape=(227, 227, 3), small_input_shape=(32, 32, 3), small_knobs={"stem": "small"},
    knob_choices={
        "groups": (2, 1),
        "stem": STEMS,
        "fc_width": (4096, 1024, 512),
        "lrn": (True, False),
        "pool_size": (3, 2),
        "width_multiplier": (1.0, 0.5, 0.25),
    },
)
