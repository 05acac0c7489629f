"""Batch normalisation (Ioffe & Szegedy, ICML 2015) that trains with one fused kernel on TensorFlow.

Keras 3's ``BatchNormalization`` computes the batch moments and the normalisation as separate ops
(Mean, SquaredDifference, Sub, Mul, Tile, …), and their gradients as many more; in a profile of a
ShuffleNet v1 training step on this 2-core CPU they outweighed the convolutions' backward passes.
TensorFlow's ``FusedBatchNormV3`` (and its fused gradient) does the same work in one oneDNN kernel each
way: whole networks train 8–21 % faster with it (experiments/bench/suite_avx512, ``fused BN / unfused``).

This subclass keeps Keras' layer, weights, config and inference path. Only a training call on the
TensorFlow backend with a 4-D, channels-last input (no mask, no renorm) whose channel count is a
multiple of 8 in float32, or of 16 under ``mixed_bfloat16`` (bfloat16 input, float32 γ, β and
statistics), goes through the fused op; everything else (JAX, ``mixed_float16``, inference, export) is
Keras' own code. Under ``mixed_bfloat16`` Keras' layer casts the input to float32 and back around its
ops, and on a CPU with AVX512-BF16 its BN layers then cost more than the bfloat16 convolutions: the
fused kernel takes the bfloat16 tensor as it is (``python -m src.bench.batch_norm --precision
mixed_bfloat16``). The float32 channel rule is measured (``python -m src.bench.batch_norm``): the fused
kernel was 0.41–0.56× as fast as Keras' ops at 30, 50, 58 and 122 channels and 0.82–0.89× at 116,
against 1.07–1.35× at 24, 64, 128, 232 and 240 (experiments/bench/batch_norm.csv); fusing ShuffleNet
v2's 58- and 116-channel layers made it train 12 % slower; with the rule it trains as fast as unfused,
while MobileNet v2 and v3 keep their gain. The moving statistics follow Keras' rule, biased batch
variance included (the fused op returns the unbiased one).
Written by hand because Keras 3 dropped Keras 2's ``fused=True``.
"""

from __future__ import annotations

import keras

from src.layers.layer_switch import set_on_layers

#: Fuse only where the channel count is a multiple of this (oneDNN's fused kernel is slower elsewhere), per
#: input dtype the fused kernel takes (FusedBatchNormV3 with float32 scale, offset and statistics; float16
#: stays Keras' own: unmeasured on a CPU). bfloat16: 1.26–1.54× as fast as Keras' ops at multiples of 16
#: (16 … 240), 0.42–0.48× at 24, 40, 58, 116 and 232 (experiments/bench/batch_norm_bf16.csv).
FUSED_CHANNEL_MULTIPLE = {"float32": 8, "bfloat16": 16}


@keras.saving.register_keras_serializable(package="cnnzoo")
class BatchNormalization(keras.layers.BatchNormalization):
    """``keras.layers.BatchNormalization`` plus ``fused``: train with TensorFlow's fused kernel where it applies."""

    def __init__(self, fused: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.fused = bool(fused)

    def _fusable(self, inputs, training, mask) -> bool:
        return (self.fused and bool(training) and self.trainable and mask is None
                and keras.backend.backend() == "tensorflow" and len(inputs.shape) == 4
                and self.axis in (-1, 3) and not self.renorm
                and not self.synchronized  # cross-replica moments: Keras' own path
                and keras.backend.standardize_dtype(inputs.dtype) == self.compute_dtype
                and self.compute_dtype in FUSED_CHANNEL_MULTIPLE and inputs.shape[-1] is not None
                and inputs.shape[-1] % FUSED_CHANNEL_MULTIPLE[self.compute_dtype] == 0)

    def call(self, inputs, training=None, mask=None):
        if not self._fusable(inputs, training, mask):
            return super().call(inputs, training=training, mask=mask)
        import tensorflow as tf

        channels = inputs.shape[-1]
        gamma = self.gamma if self.scale else tf.ones((channels,), "float32")
        beta = self.beta if self.center else tf.zeros((channels,), "float32")
        outputs, mean, unbiased_variance = tf.compat.v1.nn.fused_batch_norm(
            inputs, gamma, beta, epsilon=self.epsilon, is_training=True)[:3]
        count = tf.cast(tf.size(inputs) // channels, "float32")
        variance = unbiased_variance * (count - 1.0) / tf.maximum(count, 1.0)
        self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
        return outputs

    def get_config(self) -> dict:
        return {**super().get_config(), "fused": self.fused}


def set_batch_norm_fusion(model: keras.Model, fused: bool) -> int:
    """Switch ``fused`` on every BatchNormalization of ours in ``model`` (nested models included);
    returns how many changed. Takes effect the next time the model is traced (a new compile/step)."""
    return set_on_layers(model, BatchNormalization, "fused", bool(fused))
