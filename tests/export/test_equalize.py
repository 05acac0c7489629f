"""Outlier-channel equalisation (src/export/equalize.py): exact in float, found where it applies, and it
rescues int8 from a planted outlier channel."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import layers

from src.export import convert_to_tflite, verify_tflite
from src.export.equalize import channel_permutation, equalizable_chains, equalize_outlier_channels
from src.layers import ChannelShuffle
from src.models import build_model

RNG = np.random.default_rng(0)
IMAGES = RNG.normal(size=(64, 8, 8, 3)).astype("float32")


def shuffle_unit_net(outlier_gain: float = 1.0) -> keras.Model:
    """1×1 conv → BN → ReLU → shuffle → depthwise → BN → pool → classifier: ShuffleNet's chain, with
    BN channel 5's γ and β multiplied by ``outlier_gain`` (an outlier channel, as training left one)."""
    keras.utils.set_random_seed(1)
    inputs = keras.Input((8, 8, 3))
    x = layers.Conv2D(12, 1, use_bias=False, name="pw")(inputs)
    x = layers.BatchNormalization(name="pw_bn")(x)
    x = layers.Activation("relu", name="pw_relu")(x)
    x = ChannelShuffle(3, name="shuffle")(x)
    x = layers.DepthwiseConv2D(3, padding="same", use_bias=False, name="dw")(x)
    x = layers.BatchNormalization(name="dw_bn")(x)
    x = layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, layers.Dense(4, name="logits")(x))
    bn = model.get_layer("pw_bn")
    gamma, beta = (keras.ops.convert_to_numpy(w).copy() for w in (bn.gamma, bn.beta))
    gamma[5], beta[5] = gamma[5] * outlier_gain, 1.0 * outlier_gain
    bn.gamma.assign(gamma)
    bn.beta.assign(beta)
    # as after training, the BN behind the depthwise conv normalises each channel on the data it sees
    dw_out = keras.ops.convert_to_numpy(keras.Model(inputs, model.get_layer("dw").output)(IMAGES))
    model.get_layer("dw_bn").moving_mean.assign(dw_out.mean(axis=(0, 1, 2)))
    model.get_layer("dw_bn").moving_variance.assign(dw_out.var(axis=(0, 1, 2)))
    return model


def test_shuffle_permutation_is_found_by_passing_channel_indices():
    # ChannelShuffle: output channel j·g + i is input channel i·n + j (g = 3, n = 2)
    where = channel_permutation([ChannelShuffle(3)], 6)
    assert where.tolist() == [0, 3, 1, 4, 2, 5]
    assert channel_permutation([], 4).tolist() == [0, 1, 2, 3]


def test_chains_are_found_in_shufflenet_v1_and_not_behind_relu6():
    shufflenet = build_model("shufflenet_v1", input_shape=(28, 28, 1), classes=10, stem="small")
    chains = equalizable_chains(shufflenet)
    assert len(chains) == 16  # one per unit: 1×1 group conv → BN → ReLU → shuffle → depthwise
    shuffled = [bn.name for bn, _, perms, _ in chains if [type(p) for p in perms] == [ChannelShuffle]]
    assert len(shuffled) == 15  # stage 2's first unit has an ungrouped 1×1 conv and no shuffle (§3.3)
    mobilenet = build_model("mobilenet_v2", input_shape=(32, 32, 3), classes=10)
    assert equalizable_chains(mobilenet) == []  # ReLU6 clips: scaling through it is not exact


def test_equalisation_keeps_float_outputs_and_brings_the_outlier_down():
    model = shuffle_unit_net(outlier_gain=300.0)
    before = keras.ops.convert_to_numpy(model.get_layer("pw_bn").gamma).copy()
    equalized, chains = equalize_outlier_channels(model, IMAGES)
    assert [(c.batch_norm, c.depthwise, c.channels_scaled) for c in chains] == [("pw_bn", "dw", 1)]
    assert chains[0].max_over_median_before > 50 and chains[0].max_over_median_after <= 4.0 + 1e-6
    np.testing.assert_allclose(keras.ops.convert_to_numpy(equalized(IMAGES)),
                               keras.ops.convert_to_numpy(model(IMAGES)), rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(model.get_layer("pw_bn").gamma), before)  # a copy
    assert equalize_outlier_channels(shuffle_unit_net(), IMAGES)[1] == []  # nothing to do: nothing done
    with pytest.raises(ValueError, match="ratio must be > 1"):
        equalize_outlier_channels(model, IMAGES, ratio=1.0)


def test_int8_equalized_recovers_what_plain_int8_loses_to_an_outlier_channel(tmp_path):
    model = shuffle_unit_net(outlier_gain=300.0)
    test = RNG.normal(size=(128, 8, 8, 3)).astype("float32")
    reports = {}
    for fmt in ("int8", "int8_equalized"):
        path = convert_to_tflite(model, tmp_path / f"{fmt}.tflite", fmt=fmt, representative=IMAGES)
        reports[fmt] = verify_tflite(path, model, test)  # both against the original float model
    plain, equalized = reports["int8"], reports["int8_equalized"]
    assert plain.top1_agreement < 0.8  # measured 0.29: the ordinary channels round to few levels
    assert equalized.top1_agreement >= 0.95 and equalized.max_abs_logit_diff < 0.5 * plain.max_abs_logit_diff
