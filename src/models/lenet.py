"""LeNet-300-100 and LeNet-5 as Deep Compression uses them (Han et al., ICLR 2016, Table 2 and Table 3;
the Caffe model definitions of Han et al., NIPS 2015, "Learning both weights and connections").

- ``lenet_300_100``: a fully connected network, 784 → 300 → 100 → 10 with ReLU (LeCun et al. 1998's
  300-100 net): 266,610 parameters at 28×28×1 (Table 2: 266 K).
- ``lenet5``: Caffe's LeNet-5: conv 5×5 ×20 (valid) → max-pool 2×2/2 → conv 5×5 ×50 (valid) → max-pool
  2×2/2 → FC 500 + ReLU → FC 10: 431,080 parameters at 28×28×1 (Table 3: 431 K). As in Caffe's
  definition, the convolutions have no activation.

Both are native to 28×28×1 (MNIST, Fashion-MNIST); no knobs (the papers vary none). Without the top,
the output is the last hidden layer (100 or 500 features); ``pooling`` does not apply.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from src.errors import ConfigError
from src.models.common import model_input
from src.models.registry import register_model

PAPER = "Han et al., ICLR 2016 (Deep Compression), Tables 2-3; LeCun et al. 1998"
DEFAULT_INPUT = (28, 28, 1)


def _dense_init() -> dict:
    return {"class_name": "GlorotUniform", "config": {}}  # a config: each layer builds its own initializer


def _top(x, classes: int, include_top: bool, pooling, classifier_activation, where: str):
    if pooling is not None:
        raise ConfigError(f"{where}: pooling={pooling!r} does not apply (no spatial features at the top); use null.")
    if not include_top:
        return x
    if not isinstance(classes, int) or classes < 1:
        raise ConfigError(f"{where}: classes must be a positive integer, got {classes!r}.")
    return layers.Dense(classes, activation=classifier_activation, kernel_initializer=_dense_init(), name="ip_out")(x)


def lenet_300_100(
    *,
    input_shape: Sequence[int] | None = None,
    classes: int = 10,
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation: str | None = "softmax",
    name: str | None = None,
) -> keras.Model:
    """LeNet-300-100 (784-300-100-10 MLP, ReLU)."""
    inputs = model_input(input_shape, DEFAULT_INPUT, 1, "lenet_300_100")
    x = layers.Flatten(name="flatten")(inputs)
    for i, units in enumerate((300, 100), start=1):
        x = layers.Dense(units, activation="relu", kernel_initializer=_dense_init(), name=f"ip{i}")(x)
    outputs = _top(x, classes, include_top, pooling, classifier_activation, "lenet_300_100")
    return keras.Model(inputs, outputs, name=name or "lenet_300_100")


def lenet5(
    *,
    input_shape: Sequence[int] | None = None,
    classes: int = 10,
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation: str | None = "softmax",
    name: str | None = None,
) -> keras.Model:
    """Caffe's LeNet-5 (20 and 50 5×5 filters, FC 500)."""
    inputs = model_input(input_shape, DEFAULT_INPUT, 12, "lenet5")
    x = inputs
    for i, filters in enumerate((20, 50), start=1):
        x = layers.Conv2D(filters, 5, kernel_initializer=_dense_init(), name=f"conv{i}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{i}")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(500, activation="relu", kernel_initializer=_dense_init(), name="ip1")(x)
    outputs = _top(x, classes, include_top, pooling, classifier_activation, "lenet5")
    return keras.Model(inputs, outputs, name=name or "lenet5")


for _name, _builder in (("lenet_300_100", lenet_300_100), ("lenet5", lenet5)):
    register_model(
        _name, _builder, fixed={}, family="lenet", paper=PAPER,
        default_input_shape=DEFAULT_INPUT, small_input_shape=DEFAULT_INPUT, small_knobs={}, knob_choices={},
    )
