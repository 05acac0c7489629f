"""BN-Inception / Inception-v2 (Ioffe & Szegedy, "Batch Normalization: Accelerating Deep Network Training
by Reducing Internal Covariate Shift", ICML 2015, arXiv:1502.03167, Appendix, Figure 5).

GoogLeNet (arXiv:1409.4842) with the changes listed in the paper's appendix: batch normalisation after
every convolution (convs without bias), each 5×5 conv replaced by two stacked 3×3 convs ("double 3×3"),
three 28×28 modules instead of two (3a, 3b, 3c),
average or max pooling inside the modules as the table says, and no pooling layer between the
stages: modules 3c and 4e reduce the grid themselves (stride-2 3×3 convs, 3×3/2 max-pool "pass
through" with no 1×1 projection, concatenated). The per-module filter numbers are the Figure 5 table,
kept as data in ``INCEPTION_TABLE``; its output sizes (256, 320, 576, 576, 576, 608, 608, 1056, 1024,
1024 channels) follow from the rows. The classifier is global average pooling and one FC layer (§4.2.1
removes dropout for the BN networks, so there is none).

Counts at 224×224×3: 11,285,224 trainable parameters and 2.03 G multiply-adds, the multiply-adds of the
SENet paper's BN-Inception re-implementation (Hu et al., arXiv:1709.01507, Table 2: 2.03 G). SENet's
reference network definition (hujie-frank/SENet, models/SE-BN-Inception.prototxt) has the same widths and,
without its SE layers, exactly these 11,285,224 learnable parameters. The BN paper's appendix states
13.6 M parameters for its network; its own Figure 5 table does not reach that figure under any counting
(11.2–11.3 M with conv biases, BN statistics or the separable stem; re-implementations agree).

Two readings of Figure 5 are ours to state: its output-size column prints 576 for 4c/4d and 1024 for 4e,
but the rows of 4c and 4d sum to 608 (4e then to 1056); we follow the rows, as SENet's and Caffe
BN-Inception's definitions do (TF-slim follows the sizes, with 96-wide pool projections). Its footnote makes
the first conv separable (depth multiplier 8); like SENet's definition we use a full 7×7 conv (9,408
weights against 2,712: 6,696 parameters more).

Knobs:
- ``stem``: ``"imagenet"`` (Figure 5: 7×7/2 conv 64, 3×3/2 max-pool, 1×1 conv 64, 3×3 conv 192,
  3×3/2 max-pool) or ``"small"``, the small-input variant: the first conv is 3×3/1 and neither stem
  max-pool is used ('same' padding throughout), so 32×32 / 28×28 inputs reach the 3x modules at 32 / 28 px,
  the 4x modules at 16 / 14 px and the 5x modules at 8 / 7 px.

The ``inception_module`` and ``stem`` helpers are public so that other Inception-style families can reuse them.

``se_inception_v2`` is SE-BN-Inception (Hu et al., "Squeeze-and-Excitation Networks", arXiv:1709.01507,
Fig. 2 and Table 2): this network with one SE unit (``src.layers.squeeze_excite``: global average pool →
1×1 conv C/r → ReLU → 1×1 conv C → sigmoid → channel rescale, biases on) on the output of every Inception
module, i.e. on the module's concatenation, before the next module (10 SE units, named
``inception<module>_se_*``). Knobs: ``stem`` as above and ``se_reduction`` (r, default 16; any positive
integer, registry choices 16, 8, 32). At 224×224×3: 11,285,224 + 646,398 = 11,931,622 trainable parameters
and 2.0332 G multiply-adds (+0.64 M, +0.03 %), vs SENet Table 2's 2.04 G (its BN-Inception: 2.03 G).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import keras
from keras import layers

from src.errors import ConfigError
from src.layers.squeeze_excite import squeeze_excite
from src.models.common import check_choice, classifier_head, conv_bn, model_input
from src.models.registry import register_model

PAPER = "Ioffe & Szegedy 2015, arXiv:1502.03167"
SE_PAPER = "Hu et al. 2018, arXiv:1709.01507"
STEMS = ("imagenet", "small")
#: ``se_reduction`` choices for the registry (default first); SENet Table 10 studies 2-32.
SE_REDUCTIONS = (16, 8, 32)


class ModuleRow(NamedTuple):
    """One row of Figure 5: filter counts per branch (0 = no 1×1 branch) and the pooling branch.

    ``proj`` is the pool projection's width, or ``None`` for "pass through" (no 1×1 after the pool).
    ``stride`` 2 marks the grid-reduction modules (3c, 4e): stride-2 last convs and pool.
    """

    n1x1: int
    r3x3: int
    n3x3: int
    rdouble: int
    ndouble: int
    pool: str
    proj: int | None
    stride: int = 1


#: Figure 5 table (#1×1, #3×3 reduce, #3×3, double #3×3 reduce, double #3×3, pool + proj), stride.
INCEPTION_TABLE: tuple[tuple[str, ModuleRow], ...] = (
    ("3a", ModuleRow(64, 64, 64, 64, 96, "avg", 32)),
    ("3b", ModuleRow(64, 64, 96, 64, 96, "avg", 64)),
    ("3c", ModuleRow(0, 128, 160, 64, 96, "max", None, stride=2)),
    ("4a", ModuleRow(224, 64, 96, 96, 128, "avg", 128)),
    ("4b", ModuleRow(192, 96, 128, 96, 128, "avg", 128)),
    ("4c", ModuleRow(160, 128, 160, 128, 160, "avg", 128)),
    ("4d", ModuleRow(96, 128, 192, 160, 192, "avg", 128)),
    ("4e", ModuleRow(0, 128, 192, 192, 256, "max", None, stride=2)),
    ("5a", ModuleRow(352, 192, 320, 160, 224, "avg", 128)),
    ("5b", ModuleRow(352, 192, 320, 192, 224, "max", 128)),
)
#: Figure 5 output sizes (channels) per module, at 224×224 input: 28×28 → 3c → 14×14 → 4e → 7×7.
MODULE_CHANNELS = {
    "3a": 256, "3b": 320, "3c": 576, "4a": 576, "4b": 576, "4c": 608, "4d": 608, "4e": 1056, "5a": 1024, "5b": 1024,
}


def module_output_channels(row: ModuleRow, in_channels: int) -> int:
    """Concatenated width of a module (pass-through pools keep ``in_channels``)."""
    return row.n1x1 + row.n3x3 + row.ndouble + (in_channels if row.proj is None else row.proj)


def check_se_reduction(se_reduction, where: str) -> int:
    """``se_reduction`` must be a positive integer (the SE ratio r); raise a ConfigError otherwise."""
    if isinstance(se_reduction, bool) or not isinstance(se_reduction, int) or se_reduction < 1:
        raise ConfigError(
            f"{where}: se_reduction={se_reduction!r} is not valid; the SE reduction ratio r must be a positive "
            f"integer (e.g. {list(SE_REDUCTIONS)}; SENet uses 16)."
        )
    return se_reduction


def inception_module(x, row: ModuleRow, name: str, se_reduction: int | None = None):
    """Figure 5 module: 1×1 | 1×1 → 3×3 | 1×1 → 3×3 → 3×3 | 3×3 pool (→ 1×1), concatenated; BN everywhere.

    With ``row.stride == 2`` the last conv of each 3×3 branch and the pool are stride 2 (3c, 4e).
    With ``se_reduction`` (SENet Fig. 2) an SE unit of ratio r rescales the concatenation (``{name}_se_*``).
    """
    s = row.stride
    branches = []
    if row.n1x1:
        branches.append(conv_bn(x, row.n1x1, 1, name=f"{name}_1x1"))
    b = conv_bn(x, row.r3x3, 1, name=f"{name}_3x3_reduce")
    branches.append(conv_bn(b, row.n3x3, 3, s, name=f"{name}_3x3"))
    b = conv_bn(x, row.rdouble, 1, name=f"{name}_double_3x3_reduce")
    b = conv_bn(b, row.ndouble, 3, name=f"{name}_double_3x3_1")
    branches.append(conv_bn(b, row.ndouble, 3, s, name=f"{name}_double_3x3_2"))
    pool = layers.AveragePooling2D if row.pool == "avg" else layers.MaxPooling2D
    b = pool(3, s, padding="same", name=f"{name}_pool")(x)
    if row.proj is not None:
        b = conv_bn(b, row.proj, 1, name=f"{name}_pool_proj")
    branches.append(b)
    x = layers.Concatenate(name=f"{name}_concat")(branches)
    if se_reduction is not None:
        x = squeeze_excite(x, name=f"{name}_se", reduction=se_reduction)
    return x


def stem(x, kind: str):
    """Figure 5 rows before inception 3a (see the module docstring for ``"small"``)."""
    if kind == "imagenet":
        x = conv_bn(x, 64, 7, 2, name="stem_conv1")
        x = layers.MaxPooling2D(3, 2, padding="same", name="stem_pool1")(x)
    else:
        x = conv_bn(x, 64, 3, 1, name="stem_conv1")
    x = conv_bn(x, 64, 1, name="stem_conv2_reduce")
    x = conv_bn(x, 192, 3, name="stem_conv2")
    if kind == "imagenet":
        x = layers.MaxPooling2D(3, 2, padding="same", name="stem_pool2")(x)
    return x


def inception_v2(
    *,
    input_shape: Sequence[int] | None = None,
    classes: int = 1000,
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation: str | None = "softmax",
    name: str | None = None,
    stem: str = "imagenet",
) -> keras.Model:
    """BN-Inception of Figure 5 (≈11.3 M parameters with BN and no conv biases, ≈2.0 G multiply-adds at 224)."""
    return _bn_inception(
        "inception_v2", input_shape=input_shape, classes=classes, include_top=include_top, pooling=pooling,
        classifier_activation=classifier_activation, name=name, stem=stem, se_reduction=None,
    )


def se_inception_v2(
    *,
    input_shape: Sequence[int] | None = None,
    classes: int = 1000,
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation: str | None = "softmax",
    name: str | None = None,
    stem: str = "imagenet",
    se_reduction: int = 16,
) -> keras.Model:
    """SE-BN-Inception (SENet Fig. 2, Table 2): Figure 5's network with an SE unit after every module's concat."""
    where = "se_inception_v2"
    check_se_reduction(se_reduction, where)
    return _bn_inception(
        where, input_shape=input_shape, classes=classes, include_top=include_top, pooling=pooling,
        classifier_activation=classifier_activation, name=name, stem=stem, se_reduction=se_reduction,
    )


def _bn_inception(
    where: str,
    *,
    input_shape: Sequence[int] | None,
    classes: int,
    include_top: bool,
    pooling: str | None,
    classifier_activation: str | None,
    name: str | None,
    stem: str,
    se_reduction: int | None,
) -> keras.Model:
    check_choice("stem", stem, STEMS, where)
    inputs = model_input(input_shape, (224, 224, 3), 32 if stem == "imagenet" else 4, where)
    x = _stem(inputs, stem)
    for module, row in INCEPTION_TABLE:
        x = inception_module(x, row, f"inception{module}", se_reduction=se_reduction)
    x = classifier_head(
        x, classes=classes, include_top=include_top, pooling=pooling,
        classifier_activation=classifier_activation, where=where,
    )
    return keras.Model(inputs, x, name=name or where)


_stem = stem  # the builders' ``stem`` argument shadows the function inside them

register_model(
    "inception_v2", inception_v2, fixed={}, family="inception", paper=f"{PAPER}, Figure 5",
    default_input_shape=(224, 224, 3), small_input_shape=(32, 32, 3), small_knobs={"stem": "small"},
    knob_choices={"stem": STEMS},
)
register_model(
    "se_inception_v2", se_inception_v2, fixed={}, family="se_inception", paper=f"{SE_PAPER}, Fig. 2, Table 2",
    default_input_shape=(224, 224, 3), small_input_shape=(32, 32, 3), small_knobs={"stem": "small"},
    knob_choices={"stem": STEMS, "se_reduction": SE_REDUCTIONS},
)
