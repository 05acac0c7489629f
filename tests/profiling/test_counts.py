"""count_params / count_macs: hand-computed cases, TensorFlow's own FLOP statistics, known figures."""

from __future__ import annotations

import keras
import pytest
import tensorflow as tf
from keras import layers
from tensorflow.python.framework import ops as tf_ops
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2_as_graph

from src.layers import ZeroPadShortcut
from src.profiling import count_macs, count_params

MAC_OPS = ("Conv2D", "DepthwiseConv2dNative", "MatMul", "BatchMatMulV2")


def tf_flops(model: keras.Model) -> int:
    """FLOPs TensorFlow's profiler statistics assign to the conv/matmul nodes of the frozen graph
    (2 per multiply-add). Grouped Conv2D is compiled by XLA in Keras 3 and invisible here."""
    spec = tf.TensorSpec([1, *model.input_shape[1:]], tf.float32)
    fn = tf.function(lambda x: model(x, training=False)).get_concrete_function(spec)
    _, graph_def = convert_variables_to_constants_v2_as_graph(fn)
    total = 0
    with tf.Graph().as_default() as graph:
        tf.graph_util.import_graph_def(graph_def, name="")  # re-import: shape inference fills shapes
        for op in graph.get_operations():
            if op.type in MAC_OPS:
                total += tf_ops.get_stats_for_node_def(graph, op.node_def, "flops").value
    return total


def single(layer: keras.layers.Layer, shape) -> keras.Model:
    inputs = keras.Input(shape)
    return keras.Model(inputs, layer(inputs))


@pytest.mark.parametrize(
    "layer, shape, expected",
    [
        (layers.Conv2D(8, 3, padding="same"), (10, 10, 4), 10 * 10 * 8 * 9 * 4),
        (layers.Conv2D(8, 3, padding="same", groups=2), (10, 10, 4), 10 * 10 * 8 * 9 * 2),
        (layers.Conv2D(8, 3, strides=2, padding="same", dilation_rate=1), (10, 10, 4), 5 * 5 * 8 * 9 * 4),
        (layers.Conv2D(8, 3, padding="valid", dilation_rate=2), (10, 10, 4), 6 * 6 * 8 * 9 * 4),
        (layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2), (10, 10, 4), 10 * 10 * 8 * 9),
        (layers.SeparableConv2D(6, 3, padding="same"), (10, 10, 4), 10 * 10 * (4 * 9 + 4 * 6)),
        (layers.Conv2DTranspose(6, 3, strides=2, padding="same"), (5, 5, 4), 5 * 5 * 4 * 9 * 6),
        (layers.Dense(7), (3, 5), 3 * 5 * 7),
        (layers.BatchNormalization(), (10, 10, 4), 0),
        (layers.MaxPooling2D(2), (10, 10, 4), 0),
        (ZeroPadShortcut(2, 8), (10, 10, 4), 0),
    ],
)
def test_hand_computed_macs(layer, shape, expected):
    assert count_macs(single(layer, shape)).total == expected


class Scale(keras.layers.Layer):
    """A custom layer with a kernel and its own count_macs."""

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], input_shape[-1]))

    def call(self, x):
        return keras.ops.matmul(x, self.kernel)

    def count_macs(self, input_shape, output_shape):
        return input_shape[-1] ** 2


class Opaque(Scale):
    count_macs = None


def test_custom_layer_method_and_unknown_weighted_layer():
    assert count_macs(single(Scale(), (6,))).total == 36
    with pytest.raises(TypeError, match="Opaque.*count_macs"):
        count_macs(single(Opaque(), (6,)))


def test_nested_model_and_shared_layer_are_counted_per_call():
    inner_in = keras.Input((3,))
    inner = keras.Model(inner_in, layers.Dense(4, name="inner_fc")(inner_in), name="inner")
    shared = layers.Dense(3, name="shared_fc")
    inputs = keras.Input((3,))
    outputs = inner(shared(shared(inputs)))
    report = count_macs(keras.Model(inputs, outputs))
    assert report.per_layer == {"shared_fc": 2 * 9, "inner/inner_fc": 12}
    assert report.total == 18 + 12
    assert "total" in report.table()


def test_count_params_splits_trainable_and_bn_statistics():
    model = single(layers.BatchNormalization(), (5, 5, 3))
    assert count_params(model).trainable == 6 and count_params(model).non_trainable == 6
    assert count_params(model).total == model.count_params()


def small_conv_net() -> keras.Model:
    inputs = keras.Input((24, 24, 3))
    x = layers.Conv2D(16, 3, strides=2, padding="same")(inputs)
    x = layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2)(x)
    x = layers.SeparableConv2D(24, 3, dilation_rate=2, padding="same")(x)
    x = layers.Conv2D(12, 1)(x)
    x = layers.BatchNormalization()(x)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(10)(x))


@pytest.mark.parametrize(
    "build",
    [small_conv_net, lambda: keras.applications.MobileNetV2(weights=None, input_shape=(96, 96, 3))],
    ids=["small_conv_net", "mobilenet_v2_96"],
)
def test_macs_equal_half_of_tensorflow_flops(build):
    model = build()
    assert 2 * count_macs(model).total == tf_flops(model)


def test_resnet20_equals_half_of_tensorflow_flops():
    from src.models import build_model

    model = build_model("resnet20", input_shape=(28, 28, 1))
    assert 2 * count_macs(model).total == tf_flops(model)


def test_known_figures_mobilenet_v2():
    model = keras.applications.MobileNetV2(weights=None)
    assert count_params(model).trainable == 3_504_872
    assert abs(count_macs(model).total / 300e6 - 1) < 0.01  # paper: 300 M mult-adds
