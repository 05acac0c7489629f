"""tf_keras (Keras 2) versions of the suite's own weight-free layers, for the tf_keras twin.

Each computes exactly what its Keras 3 namesake in `src.layers` / `src.models` computes (same formula,
same tensor shapes, every tensor at rank ≤ 4), so that tfmot can prune, cluster and quantise a twin of
any zoo network. Imported only by `src.compress.twin` (it imports tf_keras).
"""

from __future__ import annotations

import tensorflow as tf
import tf_keras


def _relu6(x):
    return tf.nn.relu6(x)


# tfmot's QAT fake-quantises a layer's ``activation`` only if it knows the function by name; relu6 is
# quantised exactly as relu is (after the activation, fused into the ADD in TFLite), so it goes by that name.
_relu6.__name__ = "relu"


class TwinHardSigmoid(tf_keras.layers.Layer):
    """relu6(x + 3) / 6 (MobileNetV3 §5.2; Keras 2's own `hard_sigmoid` is 0.2x + 0.5, keras PR #19477).

    relu6 is held as ``self.activation`` so that QAT can fake-quantise it (TFLite fuses it into the ADD):
    with the output quantiser, every tensor of the gate is then int8 in the converted model."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.activation = _relu6

    def call(self, x):
        return self.activation(x + 3.0) / 6.0


class TwinHardSwish(tf_keras.layers.Layer):
    """x · relu6(x + 3) / 6 (MobileNetV3 §5.2)."""

    def call(self, x):
        return x * (tf.nn.relu6(x + 3.0) / 6.0)


class TwinChannelShuffle(tf_keras.layers.Layer):
    """ShuffleNet's channel shuffle, reshaped at rank 4 (rank-5 reshapes broke older TFLite delegates), as `src.layers.ChannelShuffle`."""

    def __init__(self, groups: int, **kwargs):
        super().__init__(**kwargs)
        self.groups = int(groups)

    def call(self, x):
        _, h, w, c = x.shape
        y = tf.reshape(x, (-1, h * w, self.groups, c // self.groups))
        y = tf.transpose(y, (0, 1, 3, 2))
        return tf.reshape(y, (-1, h, w, c))

    def get_config(self) -> dict:
        return {**super().get_config(), "groups": self.groups}


class TwinChannelSplit(tf_keras.layers.Layer):
    """Channel split into equal parts: ShuffleNet v2's two halves, or a grouped conv's groups in the
    QAT twin (`tf_keras_twin(for_qat=True)`)."""

    def __init__(self, parts: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.parts = int(parts)

    def call(self, x):
        return tf.split(x, self.parts, axis=-1)

    def get_config(self) -> dict:
        return {**super().get_config(), "parts": self.parts}


class TwinZeroPadShortcut(tf_keras.layers.Layer):
    """ResNet option A shortcut: stride by subsampling, extra channels as zeros (`src.layers.shortcut`)."""

    def __init__(self, out_channels: int, strides: int, **kwargs):
        super().__init__(**kwargs)
        self.out_channels, self.strides = int(out_channels), int(strides)

    def call(self, x):
        if self.strides > 1:
            x = x[:, :: self.strides, :: self.strides, :]
        extra = self.out_channels - x.shape[-1]
        if extra:
            x = tf.pad(x, [[0, 0], [0, 0], [0, 0], [extra // 2, extra - extra // 2]])
        return x

    def get_config(self) -> dict:
        return {**super().get_config(), "out_channels": self.out_channels, "strides": self.strides}


#: Weight-free layers that only move or pick values: QAT gives them no quantiser of their own.
DATA_MOVEMENT = (TwinChannelShuffle, TwinChannelSplit, TwinZeroPadShortcut)
#: Weight-free layers that compute new values: QAT quantises their output.
ELEMENTWISE = (TwinHardSigmoid, TwinHardSwish)
CUSTOM_OBJECTS = {cls.__name__: cls for cls in (*DATA_MOVEMENT, *ELEMENTWISE)}
