"""ResNet option-A shortcut (He et al., arXiv:1512.03385, §4.2): parameter-free identity that
subsamples by the stride and zero-pads the extra channels."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="cnnzoo")
class ZeroPadShortcut(keras.layers.Layer):
    """x[:, ::s, ::s, :] followed by zero channels up to ``out_channels`` (split evenly on both sides,
    as the CIFAR reference implementations do). No weights, 0 MACs."""

    def __init__(self, strides: int, out_channels: int, **kwargs):
        super().__init__(**kwargs)
        self.strides = int(strides)
        self.out_channels = int(out_channels)

    def call(self, x):
        if self.strides > 1:
            x = x[:, :: self.strides, :: self.strides, :]
        extra = self.out_channels - x.shape[-1]
        if extra:
            x = ops.pad(x, [[0, 0], [0, 0], [0, 0], [extra // 2, extra - extra // 2]])
        return x

    def compute_output_shape(self, input_shape):
        n, h, w, _ = input_shape
        s = self.strides
        return (n, None if h is None else -(-h // s), None if w is None else -(-w // s), self.out_channels)

    def count_macs(self, input_shape, output_shape) -> int:
        return 0

    def get_config(self) -> dict:
        return {**super().get_config(), "strides": self.strides, "out_channels": self.out_channels}
