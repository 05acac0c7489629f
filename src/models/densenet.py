"""DenseNet (Huang et al., "Densely Connected Convolutional Networks", CVPR 2017, arXiv:1608.06993).

ImageNet DenseNet-BC-121/169/201 of Table 1 and the CIFAR DenseNet-BC (L=100, k=12) of Table 2.

A dense block of Table 1 stacks "composite functions": BN -> ReLU -> 1×1 conv (4k filters, the
bottleneck "B") -> BN -> ReLU -> 3×3 conv (k filters), each layer's k maps concatenated to its input
(§3, "Dense connectivity", "Bottleneck layers"). Between blocks a transition layer BN -> ReLU ->
1×1 conv to ⌊θ·m⌋ maps (the compression "C", θ = 0.5) -> 2×2 average pool, stride 2. After the last
block: BN -> ReLU -> global average pool -> FC. Convolutions carry no bias (the released Torch code
removes them), so the ImageNet nets have exactly keras.applications' / torchvision's trainable
parameters (7,978,856 / 14,149,480 / 20,013,928; keras.applications, torchvision) and torchvision's
multiply-adds (2.83 / 3.36 / 4.29 G at 224×224). BN uses the zoo's epsilon 1e-5 (keras.applications
uses 1.001e-5; parameters are the same).

- ImageNet (Table 1): stem 7×7/2 conv with 2k filters -> BN -> ReLU -> 3×3/2 max-pool; four dense
  blocks (6, 12, 24, 16) / (6, 12, 32, 32) / (6, 12, 48, 32) with k = 32 and three transitions.
- CIFAR (§4 "Implementation Details", Table 2): 3×3 conv with 2k filters (16 without the bottleneck,
  as §4; no BN/ReLU: the first dense layer starts with them), three dense blocks of (L − 4) / 6 bottleneck layers each at 32×32, 16×16 and
  8×8 maps. DenseNet-BC (L=100, k=12) has 16 layers per block and 0.77 M parameters ("0.8 M").

Knobs (the paper's values are the defaults):

- ``growth_rate`` (k): maps each layer adds; the stem has 2k and the bottleneck 4k filters.
- ``compression`` (θ ∈ (0, 1]): transition output = ⌊θ·m⌋; 1.0 = no compression (DenseNet-B / plain).
- ``bottleneck`` (CIFAR only): ``True`` = 1×1 bottleneck before each 3×3 conv ("B"). At fixed depth L
  a bottleneck layer counts two convolutions, so without it each block has (L − 4) / 3 layers (the
  paper's convention and the released code's): ``densenet_bc_100_12`` with ``bottleneck=False,
  compression=1.0`` is Table 2's DenseNet (L=100, k=12), 7.0 M parameters (its stem has 16 filters:
  with the released code's 2k it would be 7.1 M, and DenseNet L=40 1.1 M instead of Table 2's 1.0 M).
- ``dropout_rate`` (CIFAR only): dropout after every convolution of the dense and transition layers;
  the paper uses 0.2 for its runs without data augmentation (C10, C100, SVHN), 0 with augmentation.
- ``stem`` (ImageNet only): ``"imagenet"`` = the 7×7/2 conv + max-pool above; ``"small"`` = the CIFAR
  network's stem, a single 3×3/1 conv with 2k filters and no pooling. This is the documented
  small-input variant (registry ``small_knobs``): a 32×32 input leaves 4×4 maps in the last dense
  block (28×28: 3×3), instead of vanishing after the stem's and transitions' 32× downsampling.

Layer names follow keras.applications' DenseNet with our stage numbering: ``stem_conv``,
``stage{i}_block{j}_0_bn/_0_relu/_1_conv/_1_bn/_1_relu/_2_conv/_concat`` (``_1_*`` only with the
bottleneck), ``transition{i}_bn/_relu/_conv/_pool``, ``final_bn/_relu``, ``head_pool``, ``head_fc``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import keras
from keras import layers

from src.errors import ConfigError
from src.models.common import CONV_INIT, bn_act, check_choice, classifier_head, model_input
from src.models.registry import register_model

PAPER = "Huang et al. 2017, arXiv:1608.06993"

#: Table 1: depth -> dense layers per block (DenseNet-BC, k = 32).
IMAGENET_BLOCKS: dict[int, tuple[int, ...]] = {
    121: (6, 12, 24, 16),
    169: (6, 12, 32, 32),
    201: (6, 12, 48, 32),
}
IMAGENET_GROWTH_RATE = 32
CIFAR_GROWTH_RATE = 12
CIFAR_BLOCKS = 3
COMPRESSION = 0.5  # θ of DenseNet-C / -BC
BOTTLENECK_FACTOR = 4  # the bottleneck 1×1 conv has 4k filters
STEM_FACTOR = 2  # the stem has 2k filters (DenseNet-BC, both datasets)
PLAIN_CIFAR_STEM = 16  # §4: 16 filters before the first block of a DenseNet without bottleneck
STEMS = ("imagenet", "small")


def _bn_relu(x, name: str):
    return bn_act(x, name)


def _conv(x, filters: int, kernel_size: int, name: str, dropout_rate: float = 0.0, strides: int = 1):
    """Bias-free conv named ``{name}_conv``, then the optional dropout ``{name}_dropout``."""
    x = layers.Conv2D(
        filters, kernel_size, strides=strides, padding="same", use_bias=False,
        kernel_initializer=CONV_INIT, name=f"{name}_conv",
    )(x)
    if dropout_rate:
        x = layers.Dropout(dropout_rate, name=f"{name}_dropout")(x)
    return x


def dense_layer(x, growth_rate: int, name: str, bottleneck: bool = True, dropout_rate: float = 0.0):
    """One composite function H_l (§3): [BN-ReLU-1×1 conv (4k)] BN-ReLU-3×3 conv (k), concatenated to x."""
    y = _bn_relu(x, f"{name}_0")
    if bottleneck:
        y = _conv(y, BOTTLENECK_FACTOR * growth_rate, 1, f"{name}_1", dropout_rate)
        y = _bn_relu(y, f"{name}_1")
    y = _conv(y, growth_rate, 3, f"{name}_2", dropout_rate)
    return layers.Concatenate(name=f"{name}_concat")([x, y])


def transition(x, compression: float, name: str, dropout_rate: float = 0.0):
    """Transition layer (§3 "Pooling layers", "Compression"): BN-ReLU-1×1 conv (⌊θ·m⌋)-2×2 avg pool /2."""
    filters = int(math.floor(x.shape[-1] * compression))
    y = _bn_relu(x, name)
    y = _conv(y, filters, 1, name, dropout_rate)
    return layers.AveragePooling2D(2, strides=2, name=f"{name}_pool")(y)


def dense_features(
    x, blocks: Sequence[int], growth_rate: int, compression: float, bottleneck: bool = True,
    dropout_rate: float = 0.0,
):
    """Dense blocks (``blocks[i]`` layers each) with a transition between consecutive ones, final BN-ReLU."""
    for i, n in enumerate(blocks, start=1):
        for j in range(1, n + 1):
            x = dense_layer(x, growth_rate, f"stage{i}_block{j}", bottleneck, dropout_rate)
        if i < len(blocks):
            x = transition(x, compression, f"transition{i}", dropout_rate)
    return _bn_relu(x, "final")


def _check_rates(where: str, growth_rate, compression, dropout_rate=0.0) -> None:
    if isinstance(growth_rate, bool) or not isinstance(growth_rate, int) or growth_rate < 1:
        raise ConfigError(f"{where}: growth_rate={growth_rate!r} must be a positive integer (k; paper 32 / 12).")
    if isinstance(compression, bool) or not isinstance(compression, (int, float)) or not 0 < compression <= 1:
        raise ConfigError(f"{where}: compression={compression!r} must be in (0, 1] (θ; paper 0.5, 1.0 = none).")
    if isinstance(dropout_rate, bool) or not isinstance(dropout_rate, (int, float)) or not 0 <= dropout_rate < 1:
        raise ConfigError(f"{where}: dropout_rate={dropout_rate!r} must be in [0, 1) (paper: 0, or 0.2 without augmentation).")


def densenet(
    *,
    depth: int,
    input_shape: Sequence[int] | None = None,
    classes: int = 1000,
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation: str | None = "softmax",
    growth_rate: int = IMAGENET_GROWTH_RATE,
    compression: float = COMPRESSION,
    stem: str = "imagenet",
    name: str | None = None,
) -> keras.Model:
    """ImageNet DenseNet-BC-{121,169,201} of Table 1 (``stem="small"``: the CIFAR stem, for 28–32 px inputs)."""
    where = f"densenet{depth}"
    check_choice("depth", depth, tuple(IMAGENET_BLOCKS), where)
    check_choice("stem", stem, STEMS, where)
    _check_rates(where, growth_rate, compression)
    # Total downsampling: stem 4× (imagenet) or 1× (small), then 2× per transition (three).
    inputs = model_input(input_shape, (224, 224, 3), 32 if stem == "imagenet" else 8, where)
    stem_filters = STEM_FACTOR * growth_rate
    if stem == "imagenet":
        x = _conv(inputs, stem_filters, 7, "stem", strides=2)
        x = _bn_relu(x, "stem")
        x = layers.MaxPooling2D(3, strides=2, padding="same", name="stem_pool")(x)
    else:
        x = _conv(inputs, stem_filters, 3, "stem")
    x = dense_features(x, IMAGENET_BLOCKS[depth], growth_rate, compression)
    x = classifier_head(
        x, classes=classes, include_top=include_top, pooling=pooling,
        classifier_activation=classifier_activation, where=where,
    )
    return keras.Model(inputs, x, name=name or where)


def cifar_layers_per_block(depth: int, bottleneck: bool, where: str = "densenet") -> int:
    """(L − 4) / 6 bottleneck layers (two convs each) or (L − 4) / 3 plain layers per block (§4, Table 2)."""
    convs_per_layer = 2 if bottleneck else 1
    valid = isinstance(depth, int) and not isinstance(depth, bool)
    per_block, rest = divmod(depth - 4, CIFAR_BLOCKS * convs_per_layer) if valid else (0, 1)
    if rest or per_block < 1:
        form = "6n+4 (e.g. 100, 190, 250)" if bottleneck else "3n+4 (e.g. 40, 100)"
        raise ConfigError(f"{where}: CIFAR DenseNet depth with bottleneck={bottleneck} must be {form}, got {depth!r}.")
    return per_block


def cifar_densenet(
    *,
    depth: int,
    input_shape: Sequence[int] | None = None,
    classes: int = 10,
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation: str | None = "softmax",
    growth_rate: int = CIFAR_GROWTH_RATE,
    compression: float = COMPRESSION,
    bottleneck: bool = True,
    dropout_rate: float = 0.0,
    name: str | None = None,
) -> keras.Model:
    """CIFAR DenseNet(-BC) of depth L (§4, Table 2): 3×3 stem conv, three dense blocks, two transitions."""
    where = f"densenet_bc_{depth}_{growth_rate}"
    check_choice("bottleneck", bottleneck, (True, False), where)
    _check_rates(where, growth_rate, compression, dropout_rate)
    per_block = cifar_layers_per_block(depth, bottleneck, where)
    inputs = model_input(input_shape, (32, 32, 3), 4, where)
    x = _conv(inputs, STEM_FACTOR * growth_rate if bottleneck else PLAIN_CIFAR_STEM, 3, "stem")
    x = dense_features(x, (per_block,) * CIFAR_BLOCKS, growth_rate, compression, bottleneck, dropout_rate)
    x = classifier_head(
        x, classes=classes, include_top=include_top, pooling=pooling,
        classifier_activation=classifier_activation, where=where,
    )
    return keras.Model(inputs, x, name=name or where)


for _depth in IMAGENET_BLOCKS:
    register_model(
        f"densenet{_depth}", densenet, fixed={"depth": _depth}, family="densenet",
        paper=f"{PAPER}, Table 1 (DenseNet-BC-{_depth}, k=32)",
        default_input_shape=(224, 224, 3), small_input_shape=(32, 32, 3), small_knobs={"stem": "small"},
        knob_choices={"growth_rate": (32, 12, 48), "compression": (0.5, 1.0), "stem": STEMS},
    )
register_model(
    "densenet_bc_100_12", cifar_densenet, fixed={"depth": 100}, family="densenet_cifar",
    paper=f"{PAPER}, Table 2 (DenseNet-BC, L=100, k=12)",
    default_input_shape=(32, 32, 3), small_input_shape=(32, 32, 3),
    knob_choices={
        "growth_rate": (12, 24, 40), "compression": (0.5, 1.0), "bottleneck": (True, False),
        "dropout_rate": (0.0, 0.2),
    },
)
