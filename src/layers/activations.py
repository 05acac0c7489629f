"""Hard sigmoid and hard swish as MobileNetV3 defines them (Howard et al., arXiv:1905.02244, §5.2):
h-sigmoid(x) = ReLU6(x + 3) / 6, h-swish(x) = x · ReLU6(x + 3) / 6. Written from the formula because
Keras 2's ``hard_sigmoid`` is clip(0.2x + 0.5, 0, 1) and Keras 3's is relu6(x + 3) / 6
(keras-team/keras PR #19477): a tf_keras twin must not silently change the function."""

from __future__ import annotations

import keras
from keras import ops


def hard_sigmoid(x):
    return ops.relu6(x + 3.0) / 6.0


def hard_swish(x):
    return x * hard_sigmoid(x)


@keras.saving.register_keras_serializable(package="cnnzoo")
class HardSigmoid(keras.layers.Layer):
    """ReLU6(x + 3) / 6."""

    def call(self, x):
        return hard_sigmoid(x)

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="cnnzoo")
class HardSwish(keras.layers.Layer):
    """x · ReLU6(x + 3) / 6."""

    def call(self, x):
        return hard_swish(x)

    def compute_output_shape(self, input_shape):
        return input_shape
