"""Local response normalisation across channels (Krizhevsky et al., "ImageNet Classification with
Deep Convolutional Neural Networks", NIPS 2012, §3.3), written with keras.ops.

The paper's formula, for channel ``i`` of ``N`` at one position::

    b_i = a_i / (k + alpha * sum_{j = max(0, i - n//2)}^{min(N - 1, i + n//2)} a_j**2) ** beta

with k = 2, n = 5, alpha = 1e-4, beta = 0.75. ``alpha`` multiplies the plain sum, as in the paper
and in ``tf.nn.local_response_normalization(depth_radius=n // 2, bias=k, alpha=alpha, beta=beta)``;
Caffe's LRN layer divides ``alpha`` by ``n`` instead (Caffe's ``alpha: 1e-4`` is the paper's
``alpha = 2e-5``).

The windowed sum of squares is a zero-pad along the channel axis plus ``n`` shifted slices added up:
exact, backend-neutral (TensorFlow and JAX), rank-4 throughout, and it converts to TFLite builtins
(PAD, STRIDED_SLICE, ADD, MUL, POW, DIV). Keras has no op that emits TFLite's own
LOCAL_RESPONSE_NORMALIZATION builtin. No weights, no multiply-adds in the papers' sense
(count_macs reports 0, like batch normalisation).
"""

from __future__ import annotations

import keras
from keras import ops

from src.errors import ConfigError


@keras.saving.register_keras_serializable(package="cnnzoo")
class LocalResponseNormalization(keras.layers.Layer):
    """Cross-channel LRN of the channels-last input, ``size`` = the paper's n (odd)."""

    def __init__(self, size: int = 5, alpha: float = 1e-4, beta: float = 0.75, k: float = 2.0, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(size, int) or size < 1 or size % 2 == 0:
            raise ConfigError(f"{self.name}: size={size!r} must be an odd positive integer (the paper's n = 5).")
        if alpha < 0 or beta < 0 or k <= 0:
            raise ConfigError(f"{self.name}: need alpha ≥ 0, beta ≥ 0 and k > 0; got alpha={alpha}, beta={beta}, k={k}.")
        self.size = size
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.k = float(k)

    def build(self, input_shape) -> None:
        if len(input_shape) != 4:
            raise ConfigError(f"{self.name}: expects (batch, height, width, channels) input, got shape {tuple(input_shape)}.")

    def call(self, x):
        radius = self.size // 2
        channels = x.shape[-1]
        squares = ops.square(x)
        if radius:
            padded = ops.pad(squares, [[0, 0], [0, 0], [0, 0], [radius, radius]])
            window = padded[..., 0:channels]
            for shift in range(1, self.size):
                window = window + padded[..., shift : shift + channels]
        else:
            window = squares
        return x / ops.power(self.k + self.alpha * window, self.beta)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "size": self.size, "alpha": self.alpha, "beta": self.beta, "k": self.k}
