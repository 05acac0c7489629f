"""GroupedConv2D: the split (training) and native (export) paths are the same function of the same weights."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from src.errors import ConfigError
from src.export import convert_to_tflite, tflite_op_names, verify_tflite
from src.layers import GroupedConv2D, set_grouped_conv_implementation
from src.profiling import count_macs, count_params

X = np.random.default_rng(0).normal(size=(2, 9, 9, 12)).astype("float32")
CASES = [(3, 6, 1, 1), (4, 8, 2, 1), (12, 12, 1, 1), (12, 24, 2, 1), (2, 6, 1, 2), (1, 5, 1, 1)]  # groups, filters, stride, dilation


def pair(groups, filters, strides, dilation):
    kw = dict(groups=groups, strides=strides, dilation_rate=dilation, use_bias=True, bias_initializer="random_normal")
    split, native = GroupedConv2D(filters, 3, implementation="split", **kw), GroupedConv2D(filters, 3, implementation="native", **kw)
    split.build(X.shape)
    native.build(X.shape)
    native.set_weights(split.get_weights())
    return split, native


@pytest.mark.parametrize("groups, filters, strides, dilation", CASES)
def test_paths_agree_with_each_other_and_with_keras_conv2d(groups, filters, strides, dilation):
    split, native = pair(groups, filters, strides, dilation)
    reference = keras.layers.Conv2D(filters, 3, strides=strides, padding="same", dilation_rate=dilation, groups=groups)
    reference.build(X.shape)
    reference.set_weights(split.get_weights())
    ys, yn, yr = (keras.ops.convert_to_numpy(layer(X)) for layer in (split, native, reference))
    np.testing.assert_allclose(ys, yn, atol=1e-5)
    np.testing.assert_allclose(ys, yr, atol=1e-5)
    assert split.count_params() == native.count_params() == reference.count_params()


@pytest.mark.parametrize("groups, filters", [(3, 6), (12, 12)])
def test_gradients_agree(groups, filters):
    split, native = pair(groups, filters, 1, 1)
    grads = []
    for layer in (split, native):
        x = tf.constant(X)
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(layer(x) ** 2)
        grads.append([g.numpy() for g in tape.gradient(loss, [x, *layer.trainable_weights])])
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_macs_and_params_count_one_group_each():
    inputs = keras.Input((8, 8, 12))
    model = keras.Model(inputs, GroupedConv2D(24, 3, groups=4)(inputs))
    assert count_params(model).trainable == 3 * 3 * 3 * 24
    assert count_macs(model).total == 8 * 8 * 24 * 3 * 3 * 3


@pytest.mark.parametrize(
    "kwargs, shape, fragment",
    [
        (dict(filters=6, kernel_size=3, groups=4), None, "divide filters"),
        (dict(filters=8, kernel_size=3, groups=4), (5, 5, 6), "divide the input channels"),
        (dict(filters=8, kernel_size=3, implementation="fast"), None, "implementation='fast'"),
    ],
)
def test_bad_groups_are_refused(kwargs, shape, fragment):
    with pytest.raises(ConfigError, match=fragment):
        layer = GroupedConv2D(**kwargs)
        layer.build(shape)


def test_switch_to_native_for_export_keeps_outputs_and_gives_one_conv(tmp_path):
    inputs = keras.Input((9, 9, 12))
    model = keras.Model(inputs, GroupedConv2D(6, 3, groups=3, name="gconv")(inputs))
    before = keras.ops.convert_to_numpy(model(X))
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert loaded.get_layer("gconv").implementation == "split"
    assert set_grouped_conv_implementation(loaded, "native") == 1
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(X)), before, atol=1e-5)
    path = convert_to_tflite(loaded, tmp_path / "g.tflite")
    ops = tflite_op_names(path)
    assert ops.count("CONV_2D") == 1 and "SPLIT" not in ops and "CONCATENATION" not in ops
    report = verify_tflite(path, loaded, X)
    assert report.max_abs_logit_diff < 1e-4
    assert report.keras_logit_range is None  # a feature map, not (N, classes) logits
