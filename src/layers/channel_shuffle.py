"""Channel shuffle (Zhang et al., ShuffleNet, arXiv:1707.01083, §3.1, Fig. 1) with every tensor at
rank ≤ 4: (N, H, W, g·n) → (N, H·W, g, n) → transpose → (N, H·W, n, g) → (N, H, W, n·g). Rank-5
reshapes broke older TFLite and GPU delegates (tensorflow/models#7528, tensorflow#32832)."""

from __future__ import annotations

import keras
from keras import ops

from src.errors import ConfigError


@keras.saving.register_keras_serializable(package="cnnzoo")
class ChannelShuffle(keras.layers.Layer):
    """Output channel ``j·g + i`` is input channel ``i·n + j`` (group i, position j)."""

    def __init__(self, groups: int, **kwargs):
        super().__init__(**kwargs)
        if int(groups) < 1:
            raise ConfigError(f"{self.name}: groups must be ≥ 1, got {groups}.")
        self.groups = int(groups)

    def build(self, input_shape) -> None:
        if input_shape[-1] % self.groups:
            raise ConfigError(f"{self.name}: groups={self.groups} must divide the channels ({input_shape[-1]}).")

    def call(self, x):
        _, h, w, c = x.shape
        g = self.groups
        y = ops.reshape(x, (-1, h * w, g, c // g))
        y = ops.transpose(y, (0, 1, 3, 2))
        return ops.reshape(y, (-1, h, w, c))

    def compute_output_shape(self, input_shape):
        return input_shape

    def count_macs(self, input_shape, output_shape) -> int:
        return 0

    def get_config(self) -> dict:
        return {**super().get_config(), "groups": self.groups}
