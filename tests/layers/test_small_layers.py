"""Channel shuffle and hard activations."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from src.errors import ConfigError
from src.export import convert_to_tflite, tflite_op_names, verify_tflite
from src.layers import ChannelShuffle, HardSigmoid, HardSwish, hard_sigmoid, hard_swish


def test_channel_shuffle_permutation_and_rank():
    x = np.arange(12, dtype="float32").reshape(1, 1, 1, 12)
    y = keras.ops.convert_to_numpy(ChannelShuffle(3)(x)).ravel()
    # groups [0..3], [4..7], [8..11] interleaved
    assert y.tolist() == [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]
    # shuffling g then n groups restores the order
    back = keras.ops.convert_to_numpy(ChannelShuffle(4)(y.reshape(1, 1, 1, 12))).ravel()
    assert back.tolist() == list(range(12))
    with pytest.raises(ConfigError, match="divide the channels"):
        ChannelShuffle(5)(x)


def test_channel_shuffle_is_differentiable_and_exports_at_rank_4(tmp_path):
    x = tf.constant(np.random.default_rng(0).normal(size=(2, 4, 4, 6)).astype("float32"))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = ChannelShuffle(2)(x)
        loss = tf.reduce_sum(y * tf.range(6, dtype=tf.float32))
    grad = tape.gradient(loss, x).numpy()
    assert sorted(set(grad[0, 0, 0].tolist())) == [0, 1, 2, 3, 4, 5]  # a permutation of the weights
    inputs = keras.Input((4, 4, 6))
    model = keras.Model(inputs, ChannelShuffle(2)(keras.layers.Conv2D(6, 1)(inputs)))
    path = convert_to_tflite(model, tmp_path / "s.tflite")
    assert {"RESHAPE", "TRANSPOSE"} <= set(tflite_op_names(path))
    assert verify_tflite(path, model, x.numpy()).max_abs_logit_diff < 1e-5  # the shuffle itself is exact; the conv is float


def test_hard_activations_follow_mobilenet_v3_formula():
    x = np.linspace(-5, 5, 41).astype("float32")
    expected = np.clip(x + 3, 0, 6) / 6
    np.testing.assert_allclose(keras.ops.convert_to_numpy(hard_sigmoid(x)), expected, atol=1e-7)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(hard_swish(x)), x * expected, atol=1e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(HardSigmoid()(x)), expected, atol=1e-7)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(HardSwish()(x)), x * expected, atol=1e-6)
    keras2_style = np.clip(0.2 * x + 0.5, 0, 1)  # what Keras 2 calls hard_sigmoid: not ours
    assert np.abs(expected - keras2_style).max() > 0.05
