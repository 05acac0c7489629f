"""The tf_keras (Keras 2) twin of a Keras 3 model, so that tensorflow-model-optimization can work on it.

tfmot accepts tf_keras models only (model-optimization#1141), and importing it sets
``TF_USE_LEGACY_KERAS=1`` for the whole process: keep this module and its callers out of every other
code path (the compression jobs run in their own process). The twin is rebuilt node by node from the
Keras 3 functional graph (any DAG: residual additions, concatenations, SE gates, channel split and
shuffle), each layer from the Keras 3 layer's own settings, the weights are copied, and `check_twin`
asserts equal outputs. The suite's own weight-free layers have tf_keras versions in `twin_layers`;
grouped convolutions become one native ``Conv2D(groups=g)`` (same kernel layout).

``for_qat=True`` builds the form that QAT can quantise end to end. Converted from tfmot's fake-quantised
graph, TFLite leaves a grouped conv in float, and a BN that does not follow a conv as a float MUL + ADD
(its per-channel constants get no fake quantiser). So each grouped conv becomes split → g ungrouped convs →
concat, with a BN that alone follows it split per group (tfmot folds each into its conv), and any other BN
becomes its inference-time per-channel affine map, a 1×1 depthwise conv with bias (fake-quantised like
any depthwise conv). The outputs stay equal; only the BN statistics stop updating during QAT.
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


#: Keras 3 activation name -> tf_keras layer factory (relu6 has no tf_keras activation string).
def _activation_layer(name: str | None, tk, layer_name: str):
    from src.compress import twin_layers

    if name in (None, "linear"):
        return tk.layers.Activation("linear", name=layer_name)
    if name == "relu6":
        return tk.layers.ReLU(max_value=6.0, name=layer_name)
    if name == "hard_sigmoid":  # Keras 3's formula, not Keras 2's (keras PR #19477)
        return twin_layers.TwinHardSigmoid(name=layer_name)
    if name in ("hard_swish", "hard_silu"):
        return twin_layers.TwinHardSwish(name=layer_name)
    if name in ("relu", "softmax", "sigmoid", "tanh", "swish", "silu"):
        return tk.layers.Activation("swish" if name == "silu" else name, name=layer_name)
    raise ConfigError(f"activation {name!r} has no exact tf_keras twin here")


def _activation_name(fn: Callable | None) -> str | None:
    name = keras.activations.serialize(fn) if fn is not None else None
    return name.get("config", name) if isinstance(name, dict) else name


def _inline_activation(layer) -> str | None:
    """The activation of a Conv/Dense layer (none for our GroupedConv2D), if tf_keras has the same one as a string."""
    name = _activation_name(getattr(layer, "activation", None))
    if name not in (None, "linear", "relu", "softmax", "sigmoid", "tanh"):
        raise ConfigError(f"{layer.name}: inline activation {name!r} has no exact tf_keras twin here "
                          "(use a separate Activation layer)")
    return None if name == "linear" else name


def _dense(layer, tk) -> Any:
    return tk.layers.Dense(layer.units, activation=_inline_activation(layer), use_bias=layer.use_bias, name=layer.name)


def _conv2d(layer, tk) -> Any:  # also src.layers.GroupedConv2D: its kernel (kh, kw, C_in/g, C_out) is Conv2D's
    return tk.layers.Conv2D(layer.filters, layer.kernel_size, strides=layer.strides, padding=layer.padding,
                            dilation_rate=layer.dilation_rate, groups=layer.groups,
                            activation=_inline_activation(layer), use_bias=layer.use_bias, name=layer.name)


def _depthwise(layer, tk) -> Any:
    return tk.layers.DepthwiseConv2D(layer.kernel_size, strides=layer.strides, padding=layer.padding,
                                     depth_multiplier=layer.depth_multiplier, dilation_rate=layer.dilation_rate,
                                     activation=_inline_activation(layer), use_bias=layer.use_bias, name=layer.name)


def _batch_norm(layer, tk, name: str | None = None) -> Any:
    return tk.layers.BatchNormalization(axis=layer.axis, momentum=layer.momentum, epsilon=layer.epsilon,
                                        center=layer.center, scale=layer.scale, name=name or layer.name)


def _custom(class_name: str, *attributes: str) -> Callable[[Any, Any], Any]:
    def build(layer, tk) -> Any:
        from src.compress import twin_layers

        return getattr(twin_layers, class_name)(**{a: getattr(layer, a) for a in attributes}, name=layer.name)

    return build


_BUILDERS: dict[str, Callable[[Any, Any], Any]] = {
    "Dense": _dense,
    "Conv2D": _conv2d,
    "DepthwiseConv2D": _depthwise,
    "GroupedConv2D": _conv2d,
    "NarrowGroupedConv2D": _conv2d,
    "MaxPooling2D": lambda layer, tk: tk.layers.MaxPooling2D(layer.pool_size, strides=layer.strides,
                                                             padding=layer.padding, name=layer.name),
    "AveragePooling2D": lambda layer, tk: tk.layers.AveragePooling2D(layer.pool_size, strides=layer.strides,
                                                                     padding=layer.padding, name=layer.name),
    "GlobalAveragePooling2D": lambda layer, tk: tk.layers.GlobalAveragePooling2D(keepdims=layer.keepdims,
                                                                                 name=layer.name),
    "ZeroPadding2D": lambda layer, tk: tk.layers.ZeroPadding2D(layer.padding, name=layer.name),
    "Flatten": lambda layer, tk: tk.layers.Flatten(name=layer.name),
    "Reshape": lambda layer, tk: tk.layers.Reshape(layer.target_shape, name=layer.name),
    "Dropout": lambda layer, tk: tk.layers.Dropout(layer.rate, name=layer.name),
    "Activation": lambda layer, tk: _activation_layer(_activation_name(layer.activation), tk, layer.name),
    "ReLU": lambda layer, tk: tk.layers.ReLU(max_value=layer.max_value, negative_slope=layer.negative_slope,
                                             threshold=layer.threshold, name=layer.name),
    "BatchNormalization": lambda layer, tk: _batch_norm(layer, tk),
    "Add": lambda layer, tk: tk.layers.Add(name=layer.name),
    "Multiply": lambda layer, tk: tk.layers.Multiply(name=layer.name),
    "Concatenate": lambda layer, tk: tk.layers.Concatenate(axis=layer.axis, name=layer.name),
    "HardSigmoid": _custom("TwinHardSigmoid"),
    "HardSwish": _custom("TwinHardSwish"),
    "ChannelShuffle": _custom("TwinChannelShuffle", "groups"),
    "ChannelSplit": _custom("TwinChannelSplit"),
    "ZeroPadShortcut": _custom("TwinZeroPadShortcut", "out_channels", "strides"),
}


def _node_of(layer, known: dict[int, Any]):
    """The one call of ``layer``, whose inputs are already twinned (a layer called twice is refused)."""
    nodes = layer._inbound_nodes
    if len(nodes) != 1 or not all(id(t) in known for t in nodes[0].input_tensors):
        raise ConfigError(f"{layer.name}: a twin needs each layer called exactly once in the graph "
                          f"(found {len(nodes)} calls)")
    return nodes[0]


#: Keras 3 layers that become a tf_keras Conv2D in the twin.
_CONVS = ("Conv2D", "GroupedConv2D", "NarrowGroupedConv2D")


def _is_grouped(layer) -> bool:
    return type(layer).__name__ in _CONVS and layer.groups > 1


def _sole_batch_norm_after(layer):
    """The BatchNormalization (channels last) that is the only consumer of ``layer``'s output, if any."""
    consumers = [node.operation for node in layer._outbound_nodes]
    if len(consumers) == 1 and isinstance(consumers[0], keras.layers.BatchNormalization) \
            and consumers[0].axis in (-1, 3) and len(consumers[0]._inbound_nodes) == 1:
        return consumers[0]
    return None


def _follows_a_conv(batch_norm) -> bool:
    """Whether tfmot folds this BN: its input is a DepthwiseConv2D's or an ungrouped conv's (a twinned
    Conv2D) output."""
    producer = batch_norm._inbound_nodes[0].input_tensors[0]._keras_history.operation
    return type(producer).__name__ == "DepthwiseConv2D" or (type(producer).__name__ in _CONVS
                                                            and producer.groups == 1)


def _affine_of_batch_norm(layer, tk) -> tuple[Any, list[np.ndarray]]:
    """A channels-last BN at inference, y = x·γ/√(σ²+ε) + (β − μ·γ/√(σ²+ε)), as a 1×1 depthwise conv."""
    if layer.axis not in (-1, 3) or not layer.center or not layer.scale:
        raise ConfigError(f"{layer.name}: only a channels-last BN with centre and scale has an affine twin here")
    gamma, beta, mean, variance = (np.asarray(w, dtype="float64") for w in layer.get_weights())
    scale = gamma / np.sqrt(variance + layer.epsilon)
    conv = tk.layers.DepthwiseConv2D(1, use_bias=True, name=layer.name)
    return conv, [scale.reshape(1, 1, -1, 1).astype("float32"), (beta - mean * scale).astype("float32")]


def _split_grouped_conv(layer, batch_norm, x, tk):
    """g ungrouped convs on the g channel groups of ``x`` (each followed by its slice of ``batch_norm``),
    concatenated: what ``Conv2D(groups=g)`` [→ BN] computes, channel for channel."""
    from src.compress import twin_layers

    g, width = layer.groups, layer.filters // layer.groups
    parts = twin_layers.TwinChannelSplit(g, name=f"{layer.name}_split")(x)
    conv_weights = layer.get_weights()
    bn_weights = batch_norm.get_weights() if batch_norm is not None else []
    outputs = []
    for i in range(g):
        conv = tk.layers.Conv2D(width, layer.kernel_size, strides=layer.strides, padding=layer.padding,
                                dilation_rate=layer.dilation_rate, activation=_inline_activation(layer),
                                use_bias=layer.use_bias, name=f"{layer.name}_g{i}")
        y = conv(parts[i])
        conv.set_weights([w[..., i * width:(i + 1) * width] for w in conv_weights])
        if batch_norm is not None:
            bn = _batch_norm(batch_norm, tk, name=f"{batch_norm.name}_g{i}")
            y = bn(y)
            bn.set_weights([w[i * width:(i + 1) * width] for w in bn_weights])
        outputs.append(y)
    return tk.layers.Concatenate(axis=-1, name=f"{(batch_norm or layer).name}_concat")(outputs)


def tf_keras_twin(model: keras.Model, for_qat: bool = False):
    """A tf_keras functional model with the same graph, layer names and weights as ``model``.

    ``for_qat``: grouped convs split and BNs foldable or affine, as the module docstring says; such a twin
    has layers of its own, so `copy_weights_back` refuses it."""
    tk = _tf_keras()
    unsupported = sorted({f"{layer.name} ({type(layer).__name__})" for layer in model.layers
                          if type(layer).__name__ not in _BUILDERS and not isinstance(layer, keras.layers.InputLayer)})
    if unsupported:
        raise ConfigError(f"{model.name}: no tf_keras twin yet for {', '.join(unsupported[:5])}"
                          f"{' …' if len(unsupported) > 5 else ''}; supported layers: {', '.join(sorted(_BUILDERS))}.")
    known: dict[int, Any] = {}
    inputs = []
    for tensor in model.inputs:
        inputs.append(tk.Input(shape=tuple(tensor.shape[1:]), name=tensor.name.split(":")[0] or "input"))
        known[id(tensor)] = inputs[-1]

    def twin_of(value):
        return known[id(value)] if isinstance(value, keras.KerasTensor) else value

    absorbed: set[int] = set()  # BNs already built per group by _split_grouped_conv
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer) or id(layer) in absorbed:
            continue
        node = _node_of(layer, known)
        if for_qat and _is_grouped(layer):
            batch_norm = _sole_batch_norm_after(layer)
            output = _split_grouped_conv(layer, batch_norm, twin_of(node.arguments.args[0]), tk)
            if batch_norm is not None:
                absorbed.add(id(batch_norm))
            known[id((batch_norm or layer)._inbound_nodes[0].outputs[0])] = output
            continue
        args = keras.tree.map_structure(twin_of, node.arguments.args)
        kwargs = keras.tree.map_structure(twin_of, node.arguments.kwargs)
        if for_qat and isinstance(layer, keras.layers.BatchNormalization) and not _follows_a_conv(layer):
            (twin_layer, weights), kwargs = _affine_of_batch_norm(layer, tk), {}  # no `mask`/`training`
        else:
            twin_layer, weights = _BUILDERS[type(layer).__name__](layer, tk), layer.get_weights()
        outputs = twin_layer(*args, **kwargs)
        ours, theirs = keras.tree.flatten(node.outputs), keras.tree.flatten(outputs)
        for k3_tensor, tk_tensor in zip(ours, theirs, strict=True):
            known[id(k3_tensor)] = tk_tensor
        twin_layer.set_weights(weights)
    outputs = [known[id(t)] for t in model.outputs]
    return tk.Model(inputs, outputs[0] if len(outputs) == 1 else outputs, name=model.name)


def copy_weights_back(twin, model: keras.Model) -> None:
    """Copy the (compressed) weights of the tf_keras twin into the Keras 3 model, layer by layer by name."""
    twins = {layer.name: layer for layer in twin.layers}
    for layer in model.layers:
        if layer.weights and (layer.name not in twins or [tuple(w.shape) for w in layer.weights]
                              != [tuple(w.shape) for w in twins[layer.name].weights]):
            raise ConfigError(f"the twin has no layer {layer.name!r} with its weights (a for_qat twin cannot "
                              "give its weights back)")
    for layer in model.layers:
        weights = layer.get_weights()
        if weights:
            layer.set_weights(twin.get_layer(layer.name).get_weights())


def check_twin(model: keras.Model, twin, atol: float = 1e-5, seed: int = 0, rtol: float = 1e-5) -> float:
    """Max |Δ| between the two models' outputs on random inputs; ValueError above ``atol + rtol·max|output|``
    (float32 rounding grows with the logits' scale: a trained SqueezeNet's twin differed by 1.05e-5)."""
    x = np.random.default_rng(seed).normal(size=(4, *model.input_shape[1:])).astype("float32")
    ours = keras.ops.convert_to_numpy(model(x, training=False))
    theirs = np.asarray(twin(x, training=False))
    diff = float(np.max(np.abs(ours - theirs)))
    scale = float(np.max(np.abs(ours)))
    if diff > atol + rtol * scale:
        raise ValueError(f"the tf_keras twin of {model.name} differs from it by {diff:.2e} "
                         f"(> {atol:.0e} + {rtol:.0e} × max|output| {scale:.3g})")
    return diff
