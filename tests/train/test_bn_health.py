"""Dead batch-norm channels: found from the BN weights, with the gain a waking input gets."""

import keras
import numpy as np
import pytest

from src.train.bn_health import DeadChannel, dead_bn_channels, describe


def _net(channels=4):
    inputs = keras.Input((6, 6, 2))
    x = keras.layers.Conv2D(channels, 3, name="conv")(inputs)
    x = keras.layers.BatchNormalization(epsilon=1e-5, name="bn")(x)
    inner = keras.Sequential([keras.layers.BatchNormalization(epsilon=1e-3, name="inner_bn")], name="block")
    return keras.Model(inputs, inner(keras.layers.ReLU()(x)))


def test_a_channel_with_zero_moving_variance_is_dead_and_its_gain_is_gamma_over_sqrt_eps():
    model = _net()
    bn = model.get_layer("bn")
    bn.moving_variance.assign(np.array([1.0, 0.0, 0.5, 0.0], np.float32))
    bn.gamma.assign(np.array([1.0, 2.0, 1.0, -0.5], np.float32))
    dead = dead_bn_channels(model)
    assert [(d.layer, d.channel) for d in dead] == [("bn", 1), ("bn", 3)]  # largest gain first
    assert dead[0].gain == pytest.approx(2.0 / np.sqrt(1e-5), rel=1e-5)
    assert dead[1].gain == pytest.approx(0.5 / np.sqrt(1e-5), rel=1e-5)
    assert "2 batch-norm channels in 1 layers" in describe(dead) and "x632" in describe(dead)


def test_a_healthy_network_has_none_and_nested_models_are_searched():
    model = _net()
    assert dead_bn_channels(model) == [] and describe([]) == "no dead batch-norm channels"
    model.get_layer("block").get_layer("inner_bn").moving_variance.assign(np.array([0, 1, 1, 1], np.float32))
    assert dead_bn_channels(model) == [DeadChannel("inner_bn", 0, pytest.approx(1 / np.sqrt(1e-3)))]
