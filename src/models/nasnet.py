"""NASNet-A (Zoph et al., "Learning Transferable Architectures for Scalable Image Recognition", CVPR 2018,
arXiv:1707.07012, Fig. 2 and Fig. 4), the mobile network "NASNet-A (4 @ 1056)" of Table 2.

The two searched cells are data: `NORMAL_CELL` and `REDUCTION_CELL` list their five blocks, each
``(left input, left op, right input, right op)`` whose two results are added, and the hidden states the
cell concatenates; one builder loop (`nasnet_cell`) reads either table. A block's inputs are ``"cur"``
(h_i, the cell input after ReLU → 1×1 conv → BN to the cell's width), ``"prev"`` (h_{i-1}, the previous
cell's input; the first cell's own input, unchanged) or ``"b1"``… (an earlier block of the cell).
``"prev"`` is brought to the cell's size and width: by a factorized reduction (two 1×1-strided average
pools, the second on the map shifted by one pixel, 1×1 convs of half the width, concatenated, BN) when
its resolution differs, else by ReLU → 1×1 conv → BN when its width differs. The block order, the ops
and the concatenated states follow keras.applications' ``NASNetMobile`` (TF-slim's NASNet-A), which
the paper's Fig. 4 draws; in a reduction cell the ops on the cell inputs have stride 2.

Ops: ``sepKxK`` is ReLU → separable K×K conv → BN → ReLU → separable K×K conv (stride 1) → BN
(the paper's §4: separable convs applied twice; SeparableConv2D has no bias, depth multiplier 1);
``avg3x3`` / ``max3x3`` 3×3 pooling; ``identity`` (ReLU → 1×1 conv → BN where the state's width
differs, as TF-slim: only in the small variant's first cell, whose "prev" is the stem). Strided pools
zero-pad their input first, as TF-slim (pad (0, 1) on an even side, (1, 1) on an odd one, then
"valid"); stride-1 average pools use "same" padding, which does not count the padding. Strided
separable convs use "same" padding, the same zero padding TF-slim writes out. With keras.applications'
weights copied in (and its BN epsilon), the logits are those of its ``NASNetMobile``
(tests/models/test_nasnet.py). Every op converts to TFLite builtins (the small variant's file holds ADD,
AVERAGE_POOL_2D, CONCATENATION, CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, MAX_POOL_2D, MEAN, MUL,
PAD, RELU, STRIDED_SLICE; the shift of the factorized reduction is PAD + STRIDED_SLICE).

Network (ImageNet, Fig. 2 right): 3×3/2 conv (32, valid, BN; 224 → 111) → two reduction cells
(widths F/4, F/2: the "stem" cells) → N normal cells (F) → reduction (2F) → N normal (2F) → reduction
(4F) → N normal (4F) → ReLU → global average pool → classifier, with F = ``penultimate_filters`` / 24
(a normal cell concatenates 6 states of width 4F = P / 6 at the end). NASNet-A (4 @ 1056): N = 4,
F = 44: 5,289,978 trainable parameters (5,326,716 with the BN statistics), equal to keras.applications'
``NASNetMobile(weights=None)``, and 563.6 M multiply-adds at 224 px (Table 2: 5.3 M, 564 M).

Knobs:
- ``normal_cells``: N, normal cells per stage (the "4" of "4 @ 1056").
- ``penultimate_filters``: P, channels of the last cell's output (the "1056"); a multiple of 96 so that
  the stem cells' F/4 is whole (keras.applications' rule).
- ``stem``: ``"imagenet"`` (the above, ≥ 32 px) or ``"small"``, the small-input variant: the paper's
  CIFAR-10 layout (Fig. 2 left), a 3×3/1 conv (32, "same") and no stem reduction cells, so that a
  28–32 px input keeps ≥ 7×7 maps in the last stage (total stride 4).

BN uses the suite's momentum and epsilon (`src.models.common`), as every family; TF-slim's 0.9997 /
1e-3 change no parameter count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import keras
from keras import layers

from src.errors import ConfigError
from src.models.common import CONV_INIT, bn, check_choice, classifier_head, model_input
from src.models.registry import register_model

PAPER = "Zoph et al. 2018, arXiv:1707.07012"

#: A block: (left input, left op, right input, right op); the block's output is the sum of both.
Block = tuple[str, str, str, str]
CELL_INPUTS = ("cur", "prev")
OPS = ("sep3x3", "sep5x5", "sep7x7", "avg3x3", "max3x3", "identity")


@dataclass(frozen=True)
class Cell:
    """A NASNet cell: its five blocks, the states it concatenates, and whether it halves the resolution."""

    kind: str
    blocks: tuple[Block, ...]
    concat: tuple[str, ...]
    reduction: bool


#: Fig. 4 left, NASNet-A normal cell.
NORMAL_CELL = Cell(
    kind="normal",
    blocks=(
        ("cur", "sep5x5", "prev", "sep3x3"),
        ("prev", "sep5x5", "prev", "sep3x3"),
        ("cur", "avg3x3", "prev", "identity"),
        ("prev", "avg3x3", "prev", "avg3x3"),
        ("cur", "sep3x3", "cur", "identity"),
    ),
    concat=("prev", "b1", "b2", "b3", "b4", "b5"),
    reduction=False,
)
#: Fig. 4 right, NASNet-A reduction cell (ops on the cell inputs have stride 2).
REDUCTION_CELL = Cell(
    kind="reduce",
    blocks=(
        ("cur", "sep5x5", "prev", "sep7x7"),
        ("cur", "max3x3", "prev", "sep7x7"),
        ("cur", "avg3x3", "prev", "sep5x5"),
        ("b1", "avg3x3", "b2", "identity"),
        ("b1", "sep3x3", "cur", "max3x3"),
    ),
    concat=("b2", "b3", "b4", "b5"),
    reduction=True,
)
STEM_FILTERS = 32
STEMS = ("imagenet", "small")
NORMAL_CELLS_CHOICES = (4, 2, 6)
#: Table 2's mobile 1056; 768 is the CIFAR-10 NASNet-A (6 @ 768) width of Table 1.
PENULTIMATE_CHOICES = (1056, 768)
#: keras.applications: penultimate_filters must be a multiple of 24 · filter_multiplier² (= 96).
PENULTIMATE_DIVISOR = 96


def _check_cell(cell: Cell) -> None:
    """A cell table's inputs name cell inputs or earlier blocks, and its ops are known (at import)."""
    for b, block in enumerate(cell.blocks, start=1):
        earlier = CELL_INPUTS + tuple(f"b{i}" for i in range(1, b))
        for source, op in (block[:2], block[2:]):
            if source not in earlier or op not in OPS:
                raise ValueError(f"{cell.kind} cell block {b}: {source!r} / {op!r} is not an earlier state / known op")
            if op == "identity" and cell.reduction and source in CELL_INPUTS:
                raise ValueError(f"{cell.kind} cell block {b}: identity cannot halve the resolution of {source!r}")
    if not set(cell.concat) <= set(CELL_INPUTS) | {f"b{i}" for i in range(1, len(cell.blocks) + 1)}:
        raise ValueError(f"{cell.kind} cell concatenates an unknown state: {cell.concat}")


for _cell in (NORMAL_CELL, REDUCTION_CELL):
    _check_cell(_cell)


def _bn(x, name: str):
    return bn(x, f"{name}_bn")


def _relu_conv1x1_bn(x, filters: int, name: str):
    x = layers.Activation("relu", name=f"{name}_relu")(x)
    x = layers.Conv2D(filters, 1, use_bias=False, kernel_initializer=CONV_INIT, name=f"{name}_conv")(x)
    return _bn(x, name)


def _stride2_padding(size: int | None, kernel: int) -> tuple[int, int]:
    """TF-slim's explicit padding before a "valid" stride-2 op: (k//2 - 1, k//2) on an even side."""
    even = size is None or size % 2 == 0
    return (kernel // 2 - 1 if even else kernel // 2, kernel // 2)


def _separable(x, filters: int, kernel: int, strides: int, name: str):
    """[ReLU → SeparableConv2D → BN] twice; only the first is strided."""
    for i, s in ((1, strides), (2, 1)):
        x = layers.Activation("relu", name=f"{name}_sep{i}_relu")(x)
        x = layers.SeparableConv2D(
            filters, kernel, strides=s, padding="same", use_bias=False, depthwise_initializer=CONV_INIT,
            pointwise_initializer=CONV_INIT, name=f"{name}_sep{i}",
        )(x)
        x = _bn(x, f"{name}_sep{i}")
    return x


def _pool(x, kind: str, strides: int, name: str):
    pool = layers.AveragePooling2D if kind == "avg" else layers.MaxPooling2D
    if strides == 1:
        return pool(3, strides=1, padding="same", name=f"{name}_{kind}pool")(x)
    pads = tuple(_stride2_padding(d, 3) for d in x.shape[1:3])
    x = layers.ZeroPadding2D(pads, name=f"{name}_pad")(x)
    return pool(3, strides=2, padding="valid", name=f"{name}_{kind}pool")(x)


def _op(x, op: str, filters: int, strides: int, name: str):
    """One block input's op (`OPS`)."""
    if op.startswith("sep"):
        return _separable(x, filters, int(op[3]), strides, name)
    if op in ("avg3x3", "max3x3"):
        return _pool(x, op[:3], strides, name)
    if x.shape[-1] != filters:  # TF-slim's identity on a state of another width (the small variant's first cell)
        return _relu_conv1x1_bn(x, filters, f"{name}_proj")
    return x  # identity (never strided: _check_cell)


def _adjust_prev(prev, cur, filters: int, name: str):
    """h_{i-1} at h_i's resolution and ``filters`` channels: the factorized reduction (§4 / TF-slim)
    when the resolution differs, a ReLU → 1×1 conv → BN when only the width does."""
    if prev.shape[1] != cur.shape[1]:
        prev = layers.Activation("relu", name=f"{name}_relu")(prev)
        path1 = layers.AveragePooling2D(1, strides=2, padding="valid", name=f"{name}_path1_pool")(prev)
        path1 = layers.Conv2D(filters // 2, 1, use_bias=False, kernel_initializer=CONV_INIT, name=f"{name}_path1_conv")(path1)
        # The second path sees the map shifted by one pixel (pad right/bottom, crop left/top).
        path2 = layers.ZeroPadding2D(((0, 1), (0, 1)), name=f"{name}_path2_pad")(prev)
        path2 = layers.Cropping2D(((1, 0), (1, 0)), name=f"{name}_path2_crop")(path2)
        path2 = layers.AveragePooling2D(1, strides=2, padding="valid", name=f"{name}_path2_pool")(path2)
        path2 = layers.Conv2D(filters // 2, 1, use_bias=False, kernel_initializer=CONV_INIT, name=f"{name}_path2_conv")(path2)
        return _bn(layers.Concatenate(name=f"{name}_concat")([path1, path2]), name)
    if prev.shape[-1] != filters:
        return _relu_conv1x1_bn(prev, filters, name)
    return prev


def nasnet_cell(cell: Cell, x, prev, filters: int, name: str):
    """One cell of ``cell``'s table on the current input ``x`` and the previous cell's input ``prev``
    (None for the first cell: ``x`` itself, not adjusted, as TF-slim and keras.applications); returns the
    cell's output."""
    states = {
        "prev": x if prev is None else _adjust_prev(prev, x, filters, f"{name}_adjust"),
        "cur": _relu_conv1x1_bn(x, filters, f"{name}_1x1"),
    }
    for b, (left, left_op, right, right_op) in enumerate(cell.blocks, start=1):
        outputs = []
        for side, source, op in (("left", left, left_op), ("right", right, right_op)):
            strides = 2 if cell.reduction and source in CELL_INPUTS else 1
            outputs.append(_op(states[source], op, filters, strides, f"{name}_block{b}_{side}"))
        states[f"b{b}"] = layers.Add(name=f"{name}_block{b}_add")(outputs)
    return layers.Concatenate(name=f"{name}_concat")([states[s] for s in cell.concat])


def cell_plan(normal_cells: int, penultimate_filters: int, stem: str) -> list[tuple[str, Cell, int]]:
    """The network as data: (name, cell, width) per cell, in order (Fig. 2; F = P / 24)."""
    f = penultimate_filters // 24
    plan = [("stem_reduce1", REDUCTION_CELL, f // 4), ("stem_reduce2", REDUCTION_CELL, f // 2)] if stem == "imagenet" else []
    for stage, width in enumerate((f, 2 * f, 4 * f), start=1):
        if stage > 1:
            plan.append((f"stage{stage}_reduce", REDUCTION_CELL, width))
        plan += [(f"stage{stage}_normal{j}", NORMAL_CELL, width) for j in range(1, normal_cells + 1)]
    return plan


def _check_knobs(normal_cells, penultimate_filters, stem: str, where: str) -> None:
    check_choice("stem", stem, STEMS, where)
    if isinstance(normal_cells, bool) or not isinstance(normal_cells, int) or normal_cells < 1:
        raise ConfigError(f"{where}: normal_cells={normal_cells!r} is not valid; give N ≥ 1 (Table 2's mobile N = 4).")
    if (isinstance(penultimate_filters, bool) or not isinstance(penultimate_filters, int) or penultimate_filters < 1
            or penultimate_filters % PENULTIMATE_DIVISOR):
        raise ConfigError(
            f"{where}: penultimate_filters={penultimate_filters!r} is not valid; give a positive multiple of "
            f"{PENULTIMATE_DIVISOR} (so that the stem cells' width P/96 is whole), e.g. 1056 (4 @ 1056) or 768."
        )


def nasnet_a(
    *,
    input_shape: Sequence[int] | None = None,
    classes: int = 1000,
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation: str | None = "softmax",
    name: str | None = None,
    normal_cells: int = 4,
    penultimate_filters: int = 1056,
    stem: str = "imagenet",
) -> keras.Model:
    """NASNet-A (N @ P) of Fig. 2 / Table 2 (default: the mobile 4 @ 1056)."""
    where = "nasnet_mobile"
    _check_knobs(normal_cells, penultimate_filters, stem, where)
    inputs = model_input(input_shape, (224, 224, 3), 32 if stem == "imagenet" else 8, where)
    x = layers.Conv2D(
        STEM_FILTERS, 3, strides=2 if stem == "imagenet" else 1, padding="valid" if stem == "imagenet" else "same",
        use_bias=False, kernel_initializer=CONV_INIT, name="stem_conv",
    )(inputs)
    x, prev = _bn(x, "stem"), None
    for cell_name, cell, width in cell_plan(normal_cells, penultimate_filters, stem):
        x, prev = nasnet_cell(cell, x, prev, width, cell_name), x
    x = layers.Activation("relu", name="head_relu")(x)
    x = classifier_head(
        x, classes=classes, include_top=include_top, pooling=pooling,
        classifier_activation=classifier_activation, where=where,
    )
    return keras.Model(inputs, x, name=name or where)


register_model(
    "nasnet_mobile", nasnet_a, family="nasnet", paper=f"{PAPER}, Fig. 2, Fig. 4 and Table 2 (NASNet-A 4 @ 1056)",
    default_input_shape=(224, 224, 3), small_input_shape=(32, 32, 3), small_knobs={"stem": "small"},
    knob_choices={"normal_cells": NORMAL_CELLS_CHOICES, "penultimate_filters": PENULTIMATE_CHOICES, "stem": STEMS},
)
