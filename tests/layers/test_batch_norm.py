"""Our BatchNormalization: Keras' layer, trained with TensorFlow's fused kernel where it applies.

Checks that the fused training path computes what Keras' layer computes (outputs, moving statistics,
gradients), that inference is Keras' own code, that ``fused`` switches the kernel and survives a save,
and that on another backend (the JAX pass) the layer is plain Keras.
"""

import keras
import numpy as np
import pytest

from src.layers import BatchNormalization, set_batch_norm_fusion

SHAPE = (6, 5, 7, 8)


def _pair(**kwargs) -> tuple[keras.layers.Layer, keras.layers.Layer]:
    """(ours, Keras') built on SHAPE with the same random gamma, beta and moving statistics."""
    ours = BatchNormalization(momentum=0.9, epsilon=1e-3, **kwargs)
    theirs = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-3, **kwargs)
    ours.build(SHAPE)
    theirs.build(SHAPE)
    rng = np.random.default_rng(0)
    weights = [rng.uniform(0.5, 1.5, w.shape).astype("float32") for w in theirs.weights]
    ours.set_weights(weights)
    theirs.set_weights(weights)
    return ours, theirs


def _inputs() -> np.ndarray:
    return (np.random.default_rng(1).normal(size=SHAPE) * 3 + 2).astype("float32")


@pytest.mark.jax
@pytest.mark.parametrize("kwargs", [{}, {"scale": False}, {"center": False}])
def test_training_call_matches_keras(kwargs):
    ours, theirs = _pair(**kwargs)
    x = _inputs()
    np.testing.assert_allclose(keras.ops.convert_to_numpy(ours(x, training=True)),
                               keras.ops.convert_to_numpy(theirs(x, training=True)), atol=2e-5)
    for mine, keras_weight in zip(ours.weights, theirs.weights):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(mine), keras.ops.convert_to_numpy(keras_weight),
                                   rtol=1e-5, err_msg=mine.path)


@pytest.mark.jax
def test_inference_is_keras_own_code():
    ours, theirs = _pair()
    x = _inputs()
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(ours(x, training=False)),
                                  keras.ops.convert_to_numpy(theirs(x, training=False)))


def test_gradients_match_keras():
    import tensorflow as tf

    ours, theirs = _pair()
    x = tf.constant(_inputs())
    upstream = tf.constant(np.random.default_rng(2).normal(size=SHAPE).astype("float32"))
    grads = []
    for layer in (ours, theirs):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(layer(x, training=True) * upstream)
        grads.append(tape.gradient(loss, [x, *layer.trainable_weights]))
    for mine, keras_grad in zip(*grads):
        np.testing.assert_allclose(mine.numpy(), keras_grad.numpy(), rtol=1e-4, atol=1e-5)


def _traced_op_types(layer, x) -> set[str]:
    import tensorflow as tf

    graph = tf.function(lambda t: layer(t, training=True)).get_concrete_function(tf.TensorSpec(x.shape)).graph
    return {op.type for op in graph.get_operations()}


def test_fused_flag_picks_the_kernel():
    ours, _ = _pair()
    x = _inputs()
    assert any(t.startswith("FusedBatchNorm") for t in _traced_op_types(ours, x))
    ours.fused = False
    assert not any(t.startswith("FusedBatchNorm") for t in _traced_op_types(ours, x))


def test_channel_counts_the_fused_kernel_is_slow_at_stay_unfused():
    for channels in (58, 116):  # ShuffleNet v2's branch widths: measured 0.46x and 0.89x as fast fused
        layer = BatchNormalization()
        layer.build((2, 4, 4, channels))
        traced = _traced_op_types(layer, np.zeros((2, 4, 4, channels), "float32"))
        assert not any(t.startswith("FusedBatchNorm") for t in traced), channels


def _bf16_pair(channels: int = 16) -> tuple[keras.layers.Layer, keras.layers.Layer]:
    shape = (*SHAPE[:3], channels)
    ours = BatchNormalization(momentum=0.9, epsilon=1e-3, dtype="mixed_bfloat16")
    theirs = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-3, dtype="mixed_bfloat16")
    ours.build(shape)
    theirs.build(shape)
    weights = [np.random.default_rng(0).uniform(0.5, 1.5, w.shape).astype("float32") for w in theirs.weights]
    ours.set_weights(weights)
    theirs.set_weights(weights)
    return ours, theirs


def test_bfloat16_training_takes_the_fused_kernel_and_matches_keras():
    """Under mixed_bfloat16 the fused op takes the bfloat16 input; Keras' layer computes in float32 and
    rounds its output to bfloat16: outputs within bfloat16 rounding, statistics float32 and equal."""
    import tensorflow as tf

    ours, theirs = _bf16_pair()
    x = (np.random.default_rng(1).normal(size=(*SHAPE[:3], 16)) * 3 + 2).astype("float32")
    traced = tf.function(lambda t: ours(t, training=True)).get_concrete_function(tf.TensorSpec(x.shape)).graph
    assert "FusedBatchNormV3" in {op.type for op in traced.get_operations()}
    ours, theirs = _bf16_pair()  # tracing updated the moving statistics
    mine, keras_out = ours(x, training=True), theirs(x, training=True)
    assert keras.backend.standardize_dtype(mine.dtype) == "bfloat16" == keras.backend.standardize_dtype(keras_out.dtype)
    np.testing.assert_allclose(np.asarray(tf.cast(mine, "float32")), np.asarray(tf.cast(keras_out, "float32")),
                               atol=2e-2, rtol=1e-2)
    for mine_w, keras_w in zip(ours.weights, theirs.weights):
        assert keras.backend.standardize_dtype(mine_w.dtype) == "float32"
        np.testing.assert_allclose(mine_w.numpy(), keras_w.numpy(), rtol=1e-5, err_msg=mine_w.path)


def test_bfloat16_gradients_match_keras():
    import tensorflow as tf

    ours, theirs = _bf16_pair()
    x = tf.constant((np.random.default_rng(1).normal(size=(*SHAPE[:3], 16)) * 3 + 2).astype("float32"))
    upstream = tf.constant(np.random.default_rng(2).normal(size=(*SHAPE[:3], 16)).astype("float32"))
    grads = []
    for layer in (ours, theirs):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(tf.cast(layer(x, training=True), "float32") * upstream)
        grads.append(tape.gradient(loss, [x, *layer.trainable_weights]))
    for mine, keras_grad in zip(*grads):
        scale = np.abs(keras_grad.numpy()).max()
        np.testing.assert_allclose(mine.numpy(), keras_grad.numpy(), atol=2e-2 * scale)


def test_bfloat16_channel_rule_is_multiples_of_16():
    for channels, fused in ((16, True), (48, True), (24, False), (58, False)):
        layer, _ = _bf16_pair(channels)
        bf16_input = keras.ops.cast(np.zeros((2, 4, 4, channels), "float32"), "bfloat16")
        assert layer._fusable(bf16_input, True, None) is fused, channels


def test_mixed_precision_and_rank_2_fall_back_to_keras():
    dense = BatchNormalization()
    dense.build((4, 3))
    assert not dense._fusable(np.zeros((4, 3), "float32"), True, None)
    synced = BatchNormalization(synchronized=True)  # cross-replica moments: the fused op would be per replica
    synced.build(SHAPE)
    assert not synced._fusable(np.zeros(SHAPE, "float32"), True, None)
    half = BatchNormalization(dtype="mixed_float16")
    half.build(SHAPE)
    assert not half._fusable(np.zeros(SHAPE, "float16"), True, None)


def test_switch_and_save_round_trip(tmp_path):
    inputs = keras.Input(SHAPE[1:])
    outputs = BatchNormalization(name="bn")(keras.layers.Conv2D(4, 1)(inputs))
    model = keras.Model(inputs, outputs)
    assert set_batch_norm_fusion(model, False) == 1
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    layer = loaded.get_layer("bn")
    assert isinstance(layer, BatchNormalization) and layer.fused is False
    x = _inputs()
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded(x)), keras.ops.convert_to_numpy(model(x)))
