"""count_params / count_macs: hand-computed cases, TensorFlow's profiler on the frozen graph, known figures."""

from __future__ import annotations

from collections import Counter

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2_as_graph
from tensorflow.python.framework.function_def_to_graph import function_def_to_graph

from src.layers import ChannelShuffle, GroupedConv2D, ZeroPadShortcut
from src.models import build_model
from src.profiling import MacCount, count_macs, count_params

Profiler = tf.compat.v1.profiler
#: The TF op types that carry a network's multiply-adds (2 FLOPs each in TF's statistics).
MAC_OP_TYPES = ("Conv2D", "DepthwiseConv2dNative", "MatMul", "BatchMatMulV2", "BatchMatMulV3")
CALL_OP_TYPES = ("PartitionedCall", "StatefulPartitionedCall")


def _profile_graph(graph: tf.Graph, library: dict) -> Counter:
    """FLOPs per MAC op type in ``graph`` (tfprof 'op' view), plus those of the functions it calls.

    Keras 3 runs ``Conv2D(groups>1)`` as a nested ``tf.function(jit_compile=True)`` (XLA, see
    keras/src/backend/tensorflow/nn.py ``conv``), which stays a StatefulPartitionedCall in the frozen
    graph: its body is rebuilt from the FunctionDef with the call's input shapes and profiled too.
    """
    for op in graph.get_operations():  # the profiler silently skips ops with unknown shapes
        if op.type in MAC_OP_TYPES:
            assert all(t.shape.is_fully_defined() for t in [*op.inputs, *op.outputs]), op.name
    options = (
        Profiler.ProfileOptionBuilder(Profiler.ProfileOptionBuilder.float_operation())
        .with_accounted_types([f"^{t}$" for t in MAC_OP_TYPES])
        .select(["float_ops"])
        .order_by("float_ops")
        .with_empty_output()
        .build()
    )
    flops: Counter = Counter()
    stack = [Profiler.profile(graph, cmd="op", options=options)]
    while stack:  # the op view nests op types, largest first
        node = stack.pop()
        stack.extend(node.children)
        if node.name in MAC_OP_TYPES:
            flops[node.name] += node.float_ops
    for op in graph.get_operations():
        if op.type in CALL_OP_TYPES:
            body = function_def_to_graph(library[op.get_attr("f").name], input_shapes=[t.shape for t in op.inputs])
            flops += _profile_graph(body, library)
    return flops


def tf_profiler_flops(model: keras.Model) -> Counter:
    """TF profiler FLOPs per conv/matmul op type of ``model``'s forward pass frozen at batch 1."""
    spec = tf.TensorSpec([1, *model.input_shape[1:]], tf.float32)
    fn = tf.function(lambda x: model(x, training=False)).get_concrete_function(spec)
    _, graph_def = convert_variables_to_constants_v2_as_graph(fn)
    graph = tf.Graph()
    with graph.as_default():  # re-imported, shape inference fills every node's shapes
        tf.graph_util.import_graph_def(graph_def, name="")
    return _profile_graph(graph, {f.signature.name: f for f in graph_def.library.function})


def single(layer: keras.layers.Layer, shape: tuple[int, ...]) -> keras.Model:
    inputs = keras.Input(shape)
    return keras.Model(inputs, layer(inputs))


# Keras rejects Conv2D with strides > 1 and dilation_rate > 1 together, so they are separate cases
# (DepthwiseConv2D accepts both at once).
@pytest.mark.parametrize(
    "layer, shape, expected",
    [
        (layers.Conv2D(8, 3, padding="same"), (10, 10, 4), 10 * 10 * 8 * (9 * 4)),
        (layers.Conv2D(8, 3, padding="same", groups=2), (10, 10, 4), 10 * 10 * 8 * (9 * 2)),
        (layers.Conv2D(8, 3, strides=2, padding="same"), (10, 10, 4), 5 * 5 * 8 * (9 * 4)),
        (layers.Conv2D(8, 3, strides=2, padding="valid"), (10, 10, 4), 4 * 4 * 8 * (9 * 4)),
        (layers.Conv2D(8, 3, dilation_rate=2, padding="same"), (10, 10, 4), 10 * 10 * 8 * (9 * 4)),
        (layers.Conv2D(8, 3, dilation_rate=2, padding="valid"), (10, 10, 4), 6 * 6 * 8 * (9 * 4)),
        (layers.Conv2D(8, (1, 3), data_format="channels_first"), (4, 10, 10), 10 * 8 * 8 * (3 * 4)),
        (layers.Conv1D(6, 3, padding="causal"), (10, 4), 10 * 6 * (3 * 4)),
        (layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2), (10, 10, 4), 10 * 10 * 8 * 9),
        (layers.DepthwiseConv2D(3, strides=2, dilation_rate=2, padding="same"), (10, 10, 4), 5 * 5 * 4 * 9),
        (layers.SeparableConv2D(6, 3, padding="same"), (10, 10, 4), 10 * 10 * (4 * 9 + 4 * 6)),
        (layers.SeparableConv2D(6, 3, depth_multiplier=2), (10, 10, 4), 8 * 8 * (8 * 9 + 8 * 6)),
        (layers.Conv2DTranspose(6, 3, strides=2, padding="same"), (5, 5, 4), 5 * 5 * 4 * 9 * 6),
        (layers.Dense(7), (3, 5), 3 * 5 * 7),
        (layers.EinsumDense("abc,cd->abd", output_shape=(None, 7)), (3, 5), 3 * 5 * 7),
        (layers.EinsumDense("abc,cde->ade", output_shape=(4, 7)), (3, 5), 4 * 7 * (3 * 5)),
        (layers.BatchNormalization(), (10, 10, 4), 0),
        (layers.MaxPooling2D(2), (10, 10, 4), 0),
        (layers.PReLU(), (10, 10, 4), 0),
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


class Bilinear(keras.layers.Layer):
    """A two-input custom layer: count_macs receives the list of input shapes."""

    def call(self, inputs):
        a, b = inputs
        return keras.ops.sum(a * b, axis=-1, keepdims=True)

    def count_macs(self, input_shape, output_shape):
        assert isinstance(input_shape, list) and len(input_shape) == 2
        return int(np.prod(input_shape[0][1:]))


def test_custom_layers_with_count_macs():
    assert count_macs(single(Scale(), (6,))).total == 36
    a, b = keras.Input((4, 5)), keras.Input((4, 5))
    assert count_macs(keras.Model([a, b], Bilinear(name="bil")([a, b]))).per_layer == {"bil": 20}


def test_unknown_weighted_layer_raises_naming_layer_and_class():
    with pytest.raises(TypeError, match=r"'mystery'.*Opaque.*count_macs"):
        count_macs(single(Opaque(name="mystery"), (6,)))
    frozen = Opaque(name="frozen")
    model = single(frozen, (6,))
    frozen.trainable = False  # a frozen kernel is still a kernel
    with pytest.raises(TypeError, match="frozen"):
        count_macs(model)


def test_raw_matmul_op_in_functional_graph():
    inputs = keras.Input((3, 5))
    outputs = keras.ops.matmul(inputs, keras.ops.transpose(inputs, (0, 2, 1)))  # (3, 3), 5 MACs each
    assert count_macs(keras.Model(inputs, outputs)).total == 3 * 3 * 5


def test_nested_models_and_shared_layers_are_counted_per_call():
    inner_in = keras.Input((3,))
    inner = keras.Model(inner_in, layers.Dense(4, name="inner_fc")(inner_in), name="inner")
    seq = keras.Sequential([keras.Input((4,)), layers.Dense(2, name="seq_fc")], name="seq")
    shared = layers.Dense(3, name="shared_fc")
    inputs = keras.Input((3,))
    x = inner(shared(shared(inputs)))
    outputs = layers.Add()([seq(x), seq(x)])  # a sub-model called twice
    report = count_macs(keras.Model(inputs, outputs))
    assert report.per_layer == {"shared_fc": 2 * 9, "inner/inner_fc": 12, "seq/seq_fc": 2 * 8}
    assert report.total == 18 + 12 + 16
    assert list(report.per_layer) == ["shared_fc", "inner/inner_fc", "seq/seq_fc"]  # model order


def test_layer_calls_outside_the_model_are_not_counted():
    dense = layers.Dense(4, name="fc")
    inputs = keras.Input((3,))
    model = keras.Model(inputs, dense(inputs))
    dense(keras.Input((3,)))  # another graph's call of the same layer
    assert count_macs(model).total == 12


def test_table_and_unsupported_models():
    report = MacCount(total=100, per_layer={"a": 10, "b": 60, "c": 30})
    lines = report.table(top=2).splitlines()
    assert lines[1].startswith("b") and "60.0%" in lines[1] and "30.0%" in lines[2]
    assert lines[3].startswith("(1 more)") and "10.0%" in lines[3] and lines[4].startswith("total")
    with pytest.raises(TypeError, match="functional"):
        count_macs(keras.Sequential([layers.Dense(3)]))  # never built: no graph
    with pytest.raises(ValueError, match="unknown dimensions"):
        count_macs(single(layers.Conv2D(4, 3), (None, None, 3)))


def test_count_params_splits_trainable_and_bn_statistics():
    model = single(layers.BatchNormalization(), (5, 5, 3))
    assert count_params(model).trainable == 6 and count_params(model).non_trainable == 6
    assert count_params(model).total == model.count_params()


def small_conv_net() -> keras.Model:
    """Every kind of MAC-bearing layer we count, incl. Keras' XLA-lowered grouped Conv2D and our GroupedConv2D."""
    inputs = keras.Input((24, 24, 3))
    x = layers.Conv2D(16, 3, strides=2, padding="same")(inputs)
    x = layers.Conv2D(16, 3, padding="same", groups=4)(x)  # XLA call in the TF graph
    x = GroupedConv2D(16, 3, groups=2)(x)  # split: one Conv2D per group
    x = ChannelShuffle(2)(x)
    x = layers.Conv2D(16, 3, dilation_rate=2, padding="same")(x)
    x = layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2)(x)
    # Dilated depthwise runs as SpaceToBatchND → DepthwiseConv2dNative, which pads odd sizes up to a
    # multiple of the rate and computes the padding too (5×5 → 6×6 positions): keep its input even.
    x = layers.SeparableConv2D(24, 3, dilation_rate=2, padding="same")(x)
    x = layers.DepthwiseConv2D(3, strides=2, padding="valid")(x)
    x = layers.Dense(12)(x)  # rank-4 input: a Tensordot MatMul
    x = layers.BatchNormalization()(x)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(10)(x))


def test_small_conv_net_equals_half_of_profiler_flops_per_op_type():
    model = small_conv_net()
    flops = tf_profiler_flops(model)
    assert set(flops) == {"Conv2D", "DepthwiseConv2dNative", "MatMul"}
    assert 2 * count_macs(model).total == sum(flops.values())


@pytest.mark.parametrize(
    "build",
    [
        lambda: keras.applications.MobileNetV2(weights=None, input_shape=(96, 96, 3)),
        lambda: build_model("resnet20", input_shape=(28, 28, 1)),
    ],
    ids=["mobilenet_v2_96", "resnet20_28"],
)
def test_macs_equal_half_of_profiler_flops(build):
    model = build()
    assert 2 * count_macs(model).total == sum(tf_profiler_flops(model).values())


@pytest.mark.slow  # two paper-size keras.applications builds; the profiler tests above check the counter by default
def test_known_figures_mobilenet_v2_and_resnet50():
    mobilenet = keras.applications.MobileNetV2(weights=None)
    assert count_params(mobilenet).trainable == 3_504_872
    assert abs(count_macs(mobilenet).total / 300e6 - 1) < 0.01  # paper: 300 M; torchvision 0.301 G
    resnet = keras.applications.ResNet50(weights=None)  # stride on the first 1×1 conv, as the paper
    assert abs(count_macs(resnet).total / 3.86e9 - 1) < 0.01  # SENet Table 2: 3.86 G
