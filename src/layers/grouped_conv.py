"""Grouped convolution (Krizhevsky et al. 2012 two-tower AlexNet; ResNeXt; ShuffleNet; IGC) with two
interchangeable implementations over one kernel.

Keras 3 routes ``Conv2D(groups>1)`` through an XLA-compiled function on CPU whose backward pass
measured 18–40× slower than split → per-group conv → concat (Keras 3 routes it through XLA on CPU). This
layer keeps one kernel of ``Conv2D(groups=g)``'s shape ``(kh, kw, C_in/g, C_out)``, so both paths
have identical weights:

- ``"split"`` (training default): split input and kernel per group, convolve, concatenate; when
  ``groups == C_in`` it runs one depthwise convolution instead.
- ``"native"``: one grouped convolution (one CONV_2D op in TFLite, the fast path on phones).

Switch a built model with `set_grouped_conv_implementation(model, "native")` before exporting.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import ops

from src.errors import ConfigError
from src.layers.layer_switch import set_on_layers

IMPLEMENTATIONS = ("split", "native")


def _pair(value: int | Sequence[int]) -> tuple[int, int]:
    return (int(value), int(value)) if isinstance(value, int) else (int(value[0]), int(value[1]))


@keras.saving.register_keras_serializable(package="cnnzoo")
class GroupedConv2D(keras.layers.Layer):
    """2-D convolution with ``groups`` groups (no group sees another's channels)."""

    def __init__(
        self,
        filters: int,
        kernel_size: int | Sequence[int],
        groups: int = 1,
        strides: int | Sequence[int] = 1,
        padding: str = "same",
        dilation_rate: int | Sequence[int] = 1,
        use_bias: bool = False,
        kernel_initializer="he_normal",
        bias_initializer="zeros",
        implementation: str = "split",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if implementation not in IMPLEMENTATIONS:
            raise ConfigError(f"{self.name}: implementation={implementation!r}; choose one of {list(IMPLEMENTATIONS)}.")
        if groups < 1 or filters % groups:
            raise ConfigError(f"{self.name}: groups={groups} must be ≥ 1 and divide filters={filters}.")
        self.filters = int(filters)
        self.kernel_size = _pair(kernel_size)
        self.groups = int(groups)
        self.strides = _pair(strides)
        self.padding = padding
        self.dilation_rate = _pair(dilation_rate)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.implementation = implementation

    def build(self, input_shape) -> None:
        channels = input_shape[-1]
        if channels % self.groups:
            raise ConfigError(
                f"{self.name}: groups={self.groups} must divide the input channels ({channels}); "
                f"valid group counts here divide both {channels} and {self.filters}."
            )
        self.kernel = self.add_weight(
            name="kernel",
            shape=(*self.kernel_size, channels // self.groups, self.filters),
            initializer=self.kernel_initializer,
        )
        self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer=self.bias_initializer) if self.use_bias else None

    def _conv(self, x, kernel):
        return ops.conv(x, kernel, strides=self.strides, padding=self.padding, dilation_rate=self.dilation_rate)

    def call(self, x):
        g = self.groups
        channels = x.shape[-1]
        if g == 1 or self.implementation == "native":
            y = self._conv(x, self.kernel)
        elif g == channels:  # depthwise, multiplier m = filters / channels
            m = self.filters // channels
            kernel = ops.reshape(self.kernel, (*self.kernel_size, channels, m))
            y = ops.depthwise_conv(x, kernel, strides=self.strides, padding=self.padding, dilation_rate=self.dilation_rate)
        else:
            xs = ops.split(x, g, axis=-1)
            ks = ops.split(self.kernel, g, axis=-1)
            y = ops.concatenate([self._conv(xi, ki) for xi, ki in zip(xs, ks)], axis=-1)
        if self.bias is not None:
            y = y + self.bias
        return y

    def compute_output_shape(self, input_shape):
        probe = keras.layers.Conv2D(
            self.filters, self.kernel_size, strides=self.strides, padding=self.padding, dilation_rate=self.dilation_rate
        )
        return probe.compute_output_shape(input_shape)

    def count_macs(self, input_shape, output_shape) -> int:
        spatial = int(output_shape[1]) * int(output_shape[2])
        return spatial * self.filters * self.kernel_size[0] * self.kernel_size[1] * (int(input_shape[-1]) // self.groups)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "groups": self.groups,
            "strides": self.strides,
            "padding": self.padding,
            "dilation_rate": self.dilation_rate,
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "implementation": self.implementation,
        }


def set_grouped_conv_implementation(model: keras.Model, implementation: str) -> int:
    """Switch every GroupedConv2D of ``model`` (nested models included); returns how many changed.
    Takes effect the next time the model is traced (a new tf.function / export)."""
    if implementation not in IMPLEMENTATIONS:
        raise ConfigError(f"implementation={implementation!r}; choose one of {list(IMPLEMENTATIONS)}.")
    return set_on_layers(model, GroupedConv2D, "implementation", implementation)
