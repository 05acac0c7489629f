"""The tf_keras twin of zoo networks (any functional DAG): same graph, names and weights, equal logits."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from src.compress.twin import check_twin, copy_weights_back, tf_keras_twin
from src.errors import ConfigError
from src.models import build_model

#: One network per kind of graph the twin must rebuild: residual Add and option-A shortcut, SE gates with
#: hard-swish/hard-sigmoid, channel split + shuffle + concat, grouped 1x1 convs, Fire concat, IGC.
NETWORKS = {
    "resnet20": {},
    "mobilenet_v3_small": {"stem": "small"},
    "shufflenet_v2": {"stem": "small", "width_multiplier": 0.5},
    "shufflenet_v1": {"stem": "small", "groups": 3, "width_multiplier": 0.5},
    "squeezenet1_1": {"stem": "small", "bypass": "simple"},
    "igc": {"depth": 8},
}


def _perturbed(model: keras.Model, seed: int = 0) -> keras.Model:
    """Move every weight (BN statistics included) off its initial value, so equal outputs mean something."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        new = []
        for variable, value in zip(layer.weights, layer.get_weights()):
            noise = rng.normal(scale=0.05, size=value.shape)
            new.append((np.abs(value) + 0.5 if "moving_variance" in variable.path else value + noise).astype("float32"))
        if new:
            layer.set_weights(new)
    return model


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_the_twin_computes_the_same_logits(name):
    keras.backend.clear_session()
    model = _perturbed(build_model(name, input_shape=(16, 16, 1), classes=10, classifier_activation=None,
                                   **NETWORKS[name]))
    twin = tf_keras_twin(model)
    assert [w.shape for w in twin.weights] == [tuple(w.shape) for w in model.weights]
    x = np.random.default_rng(1).normal(size=(3, 16, 16, 1)).astype("float32")
    ours = keras.ops.convert_to_numpy(model(x, training=False))
    scale = float(np.abs(ours).max())
    assert scale > 0.05  # perturbed weights give non-trivial logits
    assert np.max(np.abs(ours - np.asarray(twin(x, training=False)))) <= 1e-5 * max(1.0, scale)


@pytest.mark.parametrize("name", ["shufflenet_v1", "igc"])
def test_the_qat_twin_splits_grouped_convs_leaves_every_bn_foldable_and_computes_the_same_logits(name):
    import tf_keras

    keras.backend.clear_session()
    model = _perturbed(build_model(name, input_shape=(16, 16, 1), classes=10, classifier_activation=None,
                                   **NETWORKS[name]))
    twin = tf_keras_twin(model, for_qat=True)
    convs = [layer for layer in twin.layers if type(layer) is tf_keras.layers.Conv2D]
    assert convs and all(layer.groups == 1 for layer in convs)
    assert len(convs) > sum(type(layer).__name__ in ("Conv2D", "GroupedConv2D", "NarrowGroupedConv2D")
                            for layer in model.layers)  # the grouped ones were split
    for layer in twin.layers:
        if isinstance(layer, tf_keras.layers.BatchNormalization):
            assert isinstance(layer.inbound_nodes[0].inbound_layers, (tf_keras.layers.Conv2D,
                                                                      tf_keras.layers.DepthwiseConv2D)), layer.name
    check_twin(model, twin)  # raises above 1e-5 + 1e-5 · max|logit|
    with pytest.raises(ConfigError, match="for_qat twin cannot give its weights back"):
        copy_weights_back(twin, model)


def test_the_qat_twin_turns_a_bn_that_follows_no_conv_into_its_affine_map():
    import tf_keras

    keras.backend.clear_session()
    inputs = keras.Input((6, 6, 3))
    hidden = keras.layers.Concatenate()([keras.layers.Conv2D(2, 1)(inputs), inputs])
    model = _perturbed(keras.Model(inputs, keras.layers.BatchNormalization(name="bn_after_concat")(hidden)))
    twin = tf_keras_twin(model, for_qat=True)
    assert type(twin.get_layer("bn_after_concat")) is tf_keras.layers.DepthwiseConv2D
    assert type(tf_keras_twin(model).get_layer("bn_after_concat")) is tf_keras.layers.BatchNormalization
    assert check_twin(model, twin) <= 1e-5


def test_weights_changed_on_the_twin_come_back_to_the_keras_model():
    keras.backend.clear_session()
    model = build_model("mobilenet_v3_small", input_shape=(16, 16, 1), classes=10, stem="small")
    twin = tf_keras_twin(model)
    layer = next(layer for layer in twin.layers if layer.name.endswith("_dwconv"))
    layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])
    copy_weights_back(twin, model)
    assert not np.any(model.get_layer(layer.name).get_weights()[0])
    assert check_twin(model, twin) <= 1e-5


def test_check_twin_tolerance_grows_with_the_logits_and_still_catches_a_wrong_weight():
    keras.backend.clear_session()
    model = build_model("lenet5", input_shape=(28, 28, 1), classes=10, classifier_activation=None)
    twin = tf_keras_twin(model)
    head = model.layers[-1]
    kernel, bias = head.get_weights()
    large_bias = bias + 50.0  # logits near 50: float32 rounding alone is ~4e-6 there
    head.set_weights([kernel, large_bias])
    twin.get_layer(head.name).set_weights([kernel, large_bias + 2e-3])  # 2e-3 > 1e-5 + 1e-5 · ~50
    with pytest.raises(ValueError, match="differs from it"):
        check_twin(model, twin)
    twin.get_layer(head.name).set_weights([kernel, large_bias + 1e-4])  # over the old 1e-5, under ~5e-4
    assert 5e-5 < check_twin(model, twin) < 2e-4


def test_layers_without_a_twin_are_refused_by_name():
    inputs = keras.Input((8, 8, 1))
    outputs = keras.layers.LayerNormalization(name="odd_norm")(keras.layers.Conv2D(4, 3)(inputs))
    with pytest.raises(ConfigError, match=r"odd_norm \(LayerNormalization\).*supported layers"):
        tf_keras_twin(keras.Model(inputs, outputs))


def test_a_layer_called_twice_is_refused():
    inputs = keras.Input((8, 8, 4))
    conv = keras.layers.Conv2D(4, 3, padding="same", name="shared_conv")
    with pytest.raises(ConfigError, match="shared_conv.*exactly once"):
        tf_keras_twin(keras.Model(inputs, conv(conv(inputs))))
