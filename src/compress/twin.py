"""The tf_keras (Keras 2) twin of a Keras 3 model, so that tensorflow-model-optimization can work on it.

tfmot accepts tf_keras models only (shared/reference/pitfalls.md #2), and importing it sets
``TF_USE_LEGACY_KERAS=1`` for the whole process: keep this module and its callers out of every other
code path (the compression jobs run in their own process). The twin is rebuilt layer by layer from the
Keras 3 layers' own settings, the weights are copied, and `check_twin` asserts equal outputs.

Supported now: chain models (each layer fed by the previous one) of the layer types in `_BUILDERS` —
enough for LeNet-300-100 and LeNet-5; other graphs raise a clear error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np

from src.errors import ConfigError


def _tf_keras():
    import tf_keras

    return tf_keras


def _dense(layer, tk) -> Any:
    return tk.layers.Dense(layer.units, activation=_activation(layer.activation), use_bias=layer.use_bias,
                           name=layer.name)


def _conv2d(layer, tk) -> Any:
    return tk.layers.Conv2D(layer.filters, layer.kernel_size, strides=layer.strides, padding=layer.padding,
                            dilation_rate=layer.dilation_rate, groups=layer.groups,
                            activation=_activation(layer.activation), use_bias=layer.use_bias, name=layer.name)


def _activation(fn: Callable | None) -> str | None:
    name = keras.activations.serialize(fn) if fn is not None else None
    name = name.get("config", name) if isinstance(name, dict) else name
    if name not in (None, "linear", "relu", "softmax", "sigmoid", "tanh"):
        raise ConfigError(f"activation {name!r} has no exact tf_keras twin here (hard_sigmoid differs, pitfalls #3)")
    return None if name == "linear" else name


_BUILDERS: dict[str, Callable[[Any, Any], Any]] = {
    "Dense": _dense,
    "Conv2D": _conv2d,
    "MaxPooling2D": lambda layer, tk: tk.layers.MaxPooling2D(layer.pool_size, strides=layer.strides,
                                                             padding=layer.padding, name=layer.name),
    "AveragePooling2D": lambda layer, tk: tk.layers.AveragePooling2D(layer.pool_size, strides=layer.strides,
                                                                     padding=layer.padding, name=layer.name),
    "Flatten": lambda layer, tk: tk.layers.Flatten(name=layer.name),
    "Dropout": lambda layer, tk: tk.layers.Dropout(layer.rate, name=layer.name),
    "Activation": lambda layer, tk: tk.layers.Activation(_activation(layer.activation) or "linear", name=layer.name),
    "ReLU": lambda layer, tk: tk.layers.ReLU(max_value=layer.max_value, name=layer.name),
    "GlobalAveragePooling2D": lambda layer, tk: tk.layers.GlobalAveragePooling2D(name=layer.name),
    "BatchNormalization": lambda layer, tk: tk.layers.BatchNormalization(
        axis=layer.axis, momentum=layer.momentum, epsilon=layer.epsilon, center=layer.center, scale=layer.scale,
        name=layer.name),
}


def tf_keras_twin(model: keras.Model):
    """A tf_keras model with the same layers, names and weights as the chain model ``model``."""
    tk = _tf_keras()
    body = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    previous = model.inputs[0]
    for layer in body:
        if type(layer).__name__ not in _BUILDERS:
            raise ConfigError(f"{model.name}: layer {layer.name} ({type(layer).__name__}) has no tf_keras twin yet; "
                              f"supported: {', '.join(sorted(_BUILDERS))}.")
        if layer.input is not previous:
            raise ConfigError(f"{model.name}: only chain models have a twin yet ({layer.name} is not fed by the "
                              "layer before it).")
        previous = layer.output
    inputs = tk.Input(shape=model.input_shape[1:], name="input")
    x = inputs
    for layer in body:
        twin_layer = _BUILDERS[type(layer).__name__](layer, tk)
        x = twin_layer(x)
        twin_layer.set_weights(layer.get_weights())
    return tk.Model(inputs, x, name=model.name)


def copy_weights_back(twin, model: keras.Model) -> None:
    """Copy the (compressed) weights of the tf_keras twin into the Keras 3 model, layer by layer by name."""
    for layer in model.layers:
        weights = layer.get_weights()
        if weights:
            layer.set_weights(twin.get_layer(layer.name).get_weights())


def check_twin(model: keras.Model, twin, atol: float = 1e-5, seed: int = 0) -> float:
    """Max |Δ| between the two models' outputs on random inputs; ValueError above ``atol``."""
    x = np.random.default_rng(seed).normal(size=(4, *model.input_shape[1:])).astype("float32")
    ours = keras.ops.convert_to_numpy(model(x, training=False))
    theirs = np.asarray(twin(x, training=False))
    diff = float(np.max(np.abs(ours - theirs)))
    if diff > atol:
        raise ValueError(f"the tf_keras twin of {model.name} differs from it by {diff:.2e} (> {atol:.0e})")
    return diff
