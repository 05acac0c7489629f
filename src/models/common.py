"""Pieces shared by every family: input checks, width rounding, BN and conv-BN-act, the classifier head."""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import keras
from keras import layers

from src.errors import ConfigError
from src.layers.batch_norm import BatchNormalization

BN_MOMENTUM = 0.9  # PyTorch's 0.1: Keras' default 0.99 lags badly in short trainings
BN_EPSILON = 1e-5
POOLINGS = (None, "avg", "max")
#: He et al. (arXiv:1502.01852) normal init, fan-out as in torchvision's ResNet. A config, not an
#: instance: Keras 3 initializer instances with seed=None draw the SAME values on every call, so a shared
#: instance gave every same-shape layer identical kernels; a config makes each layer build its own.
CONV_INIT = {"class_name": "VarianceScaling", "config": {"scale": 2.0, "mode": "fan_out", "distribution": "normal"}}


def check_choice(field: str, value, choices: Sequence, where: str) -> None:
    """ConfigError quoting the value and the valid choices (or the new spelling of a renamed value)."""
    if value not in choices:
        from src.models.knob_table import renamed

        if renamed(field, value, choices):
            raise ConfigError(f"{where}: {renamed(field, value, choices)}")
        raise ConfigError(f"{where}: {field}={value!r} is not valid; choose one of {list(choices)}.")


def model_input(
    input_shape: Sequence[int] | None, default: Sequence[int], min_size: int, where: str
) -> keras.KerasTensor:
    """keras.Input after checking rank, channels and the smallest spatial size the network accepts."""
    shape = tuple(default if input_shape is None else input_shape)
    if len(shape) != 3 or any(d is not None and int(d) < 1 for d in shape):
        raise ConfigError(f"{where}: input_shape must be (height, width, channels), got {input_shape!r}.")
    h, w, c = shape
    if c is None:
        raise ConfigError(f"{where}: the channel dimension of input_shape must be known, got {shape}.")
    for d in (h, w):
        if d is not None and d < min_size:
            raise ConfigError(
                f"{where}: input {h}x{w} is smaller than the network's minimum {min_size}x{min_size}; "
                "use a larger data.image_size or the small-input variant of the family."
            )
    return keras.Input(shape=shape, name="input")


def conv_bn(
    x,
    filters: int,
    kernel_size: int | tuple[int, int],
    strides: int = 1,
    name: str = "",
    activation: str | None = "relu",
    dilation_rate: int = 1,
    groups: int = 1,
):
    """Conv (no bias) -> BN -> optional activation, named ``{name}_conv``, ``{name}_bn``, ``{name}_{act}``."""
    x = layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding="same",
        use_bias=False,
        dilation_rate=dilation_rate,
        groups=groups,
        kernel_initializer=CONV_INIT,
        name=f"{name}_conv",
    )(x)
    return bn_act(x, name, activation)


def bn(x, name: str, scale: bool = True):
    """The zoo's BatchNormalization (BN_MOMENTUM, BN_EPSILON; ``scale=False``: no γ), named ``name``."""
    return BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, scale=scale, name=name)(x)


def bn_act(x, name: str, activation: str | None = "relu", scale: bool = True):
    """The tail of a conv-BN-act: BN -> optional activation, named ``{name}_bn``, ``{name}_{activation}``."""
    x = bn(x, f"{name}_bn", scale=scale)
    if activation:
        x = layers.Activation(activation, name=f"{name}_{activation}")(x)
    return x


def check_width_multiplier(value, where: str, paper: Sequence[float] = (1.0,), most: float | None = None) -> float:
    """A width multiplier α as a float; ConfigError unless it is a number in (0, ``most``] (any positive
    number without ``most``), quoting the paper's values."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or value <= 0 or (most is not None and value > most):
        span = "a positive number" if most is None else f"a number in (0, {most:g}]"
        raise ConfigError(f"{where}: width_multiplier={value!r} is not valid; use {span}, e.g. the paper's "
                          f"{', '.join(map(str, paper))}.")
    return float(value)


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """The nearest multiple of ``divisor`` to ``value`` (at least ``min_value``, default ``divisor``),
    rounded up when rounding would lose more than 10 % (the MobileNet authors' TF-slim ``_make_divisible``,
    also keras.applications')."""
    min_value = divisor if min_value is None else min_value
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


def classifier_head(
    x,
    *,
    classes: int,
    include_top: bool,
    pooling: str | None,
    classifier_activation: str | None,
    where: str,
    dropout: float = 0.0,
):
    """keras.applications' head: global average pool -> (dropout) -> Dense(classes, activation),
    or, without the top, the optional ``pooling`` of the features."""
    if include_top:
        if not isinstance(classes, int) or classes < 1:
            raise ConfigError(f"{where}: classes must be a positive integer, got {classes!r}.")
        x = layers.GlobalAveragePooling2D(name="head_pool")(x)
        if dropout:
            x = layers.Dropout(dropout, name="head_dropout")(x)
        return layers.Dense(classes, activation=classifier_activation, name="head_fc")(x)
    check_choice("pooling", pooling, POOLINGS, where)
    if pooling == "avg":
        return layers.GlobalAveragePooling2D(name="head_pool")(x)
    if pooling == "max":
        return layers.GlobalMaxPooling2D(name="head_pool")(x)
    return x
