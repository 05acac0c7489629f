"""Parameter and multiply-add (MAC) counts of a Keras model.

Papers print multiply-adds: one multiply-add = 1 MAC, and TensorFlow's profiler counts 2 FLOPs per
MAC (the papers' "FLOPs" are multiply-adds; TensorFlow's profiler counts 2 per MAC). MACs are counted analytically at batch 1 from the input
and output shapes of every call of every layer in the functional graph (nested functional /
Sequential sub-models are walked, once per call). Convolutions and dense layers are known; bias
adds, normalisation, activations, pooling and merges count 0 (the papers' convention). Our custom
layers implement ``count_macs(self, input_shape, output_shape) -> int``; any other layer that owns a
kernel (a weight of rank ≥ 2) raises `TypeError` instead of being silently counted as 0.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import keras
from keras.src.models.functional import Functional
from keras.src.ops.function import make_node_key

L = keras.layers
Shape = tuple[int | None, ...]

#: Layers with weights of rank ≥ 2 whose work is not multiply-adds in the papers' sense.
_ZERO_MAC_WEIGHTED = (L.BatchNormalization, L.LayerNormalization, L.GroupNormalization, L.Normalization, L.Embedding, L.PReLU)
#: Raw keras.ops used directly in a functional graph that do multiply-adds we do not model.
_UNMODELLED_OPS = ("Conv", "DepthwiseConv", "SeparableConv", "ConvTranspose", "Tensordot", "Dot", "Vdot", "Inner")


@dataclass(frozen=True)
class ParamCount:
    """Trainable and non-trainable (e.g. BatchNorm moving statistics) parameter counts."""

    trainable: int
    non_trainable: int

    @property
    def total(self) -> int:
        return self.trainable + self.non_trainable


def _size(weights: Sequence[keras.Variable]) -> int:
    unique = {id(w): w for w in weights}  # a shared variable counts once
    return sum(math.prod(w.shape) for w in unique.values())


def count_params(model: keras.Model) -> ParamCount:
    """Sizes of ``model.trainable_weights`` and ``model.non_trainable_weights`` (deduplicated)."""
    return ParamCount(_size(model.trainable_weights), _size(model.non_trainable_weights))


@dataclass(frozen=True)
class MacCount:
    """Multiply-adds of one forward pass at batch 1.

    ``per_layer`` maps layer names (``outer/inner`` inside nested models) to MACs, in model order,
    for the layers with MACs > 0; ``total`` is their sum.
    """

    total: int
    per_layer: dict[str, int]

    def table(self, top: int | None = None) -> str:
        """Per-layer MACs, largest first (the ``top`` largest if given), with their share of the total."""
        rows = sorted(self.per_layer.items(), key=lambda kv: -kv[1])
        shown = rows[:top] if top is not None else rows
        width = max([len("layer"), *(len(name) for name, _ in shown)])
        lines = [f"{'layer':<{width}}  {'MACs':>15}  {'share':>6}"]
        lines += [f"{name:<{width}}  {macs:>15,}  {100 * macs / max(self.total, 1):5.1f}%" for name, macs in shown]
        if len(shown) < len(rows):
            rest = sum(macs for _, macs in rows[len(shown) :])
            other = f"({len(rows) - len(shown)} more)"
            lines.append(f"{other:<{width}}  {rest:>15,}  {100 * rest / max(self.total, 1):5.1f}%")
        lines.append(f"{'total':<{width}}  {self.total:>15,}  100.0%")
        return "\n".join(lines)


def _elements(shape: Shape) -> int:
    """Elements of one sample (batch dimension dropped)."""
    if any(d is None for d in shape[1:]):
        raise ValueError(f"cannot count MACs with unknown dimensions {tuple(shape)}; build the model on a fixed input size.")
    return math.prod(int(d) for d in shape[1:])


def _channels(layer: keras.layers.Layer, shape: Shape) -> int:
    return int(shape[1] if getattr(layer, "data_format", "channels_last") == "channels_first" else shape[-1])


def _letter_sizes(spec: str, shape: Shape) -> dict[str, int]:
    """Einsum letter -> dimension (``...`` allowed; an unknown batch dimension counts 1)."""
    head, _, tail = spec.partition("...")
    dims = [1 if d is None else int(d) for d in shape]
    sizes = dict(zip(head, dims))
    if tail:
        sizes.update(zip(tail, dims[len(dims) - len(tail) :]))
    return sizes


def _einsum_macs(equation: str, operand_shapes: Sequence[Shape], out_shape: Shape) -> int:
    """Output elements × product of the summed-over letters' sizes (one multiply-add per term)."""
    inputs, output = equation.replace(" ", "").split("->")
    sizes: dict[str, int] = {}
    for spec, shape in zip(inputs.split(","), operand_shapes):
        sizes.update(_letter_sizes(spec, shape))
    head, _, tail = output.partition("...")
    lettered = [*enumerate(head), *((len(out_shape) - len(tail) + i, c) for i, c in enumerate(tail))]
    out = list(out_shape)
    for axis, letter in lettered:  # EinsumDense(output_shape=(None, ...)) leaves known sizes unknown
        if axis > 0 and out[axis] is None and letter in sizes:
            out[axis] = sizes[letter]
    return _elements(tuple(out)) * math.prod(n for letter, n in sizes.items() if letter not in output)


def _unknown(layer, why: str = "has a kernel (a weight of rank ≥ 2) but no known MAC formula") -> TypeError:
    return TypeError(
        f"count_macs: layer {layer.name!r} of class {type(layer).__name__} {why}; "
        "implement count_macs(self, input_shape, output_shape) -> int on the class."
    )


def _layer_macs(layer: keras.Operation, in_shape, out_shape) -> int:
    """MACs of one call of ``layer`` at batch 1 (``in_shape`` is a list for multi-input calls)."""
    custom = getattr(layer, "count_macs", None)
    if callable(custom):
        return int(custom(in_shape, out_shape))
    if isinstance(layer, (L.SeparableConv1D, L.SeparableConv2D)):  # depthwise k×k, then pointwise 1×1
        mid = _channels(layer, in_shape) * layer.depth_multiplier
        positions = _elements(out_shape) // layer.filters
        return positions * mid * (math.prod(layer.kernel_size) + layer.filters)
    if isinstance(layer, (L.DepthwiseConv1D, L.DepthwiseConv2D)):  # one k×k filter per output channel
        return _elements(out_shape) * math.prod(layer.kernel_size)
    if isinstance(layer, (L.Conv1DTranspose, L.Conv2DTranspose, L.Conv3DTranspose)):  # each input scatters k×C_out
        return _elements(in_shape) * math.prod(layer.kernel_size) * layer.filters // getattr(layer, "groups", 1)
    if isinstance(layer, (L.Conv1D, L.Conv2D, L.Conv3D)):  # each output sees k×C_in/groups inputs
        return _elements(out_shape) * math.prod(layer.kernel_size) * _channels(layer, in_shape) // layer.groups
    if isinstance(layer, L.Dense):
        return _elements(in_shape) * layer.units
    if isinstance(layer, L.EinsumDense):
        return _einsum_macs(layer.equation, [in_shape, layer.kernel.shape], out_shape)
    if not isinstance(layer, keras.layers.Layer):  # a raw keras.ops call in the functional graph
        name = type(layer).__name__
        if name == "Matmul":
            return _elements(out_shape) * int(in_shape[0][-1])
        if name == "Einsum":
            return _einsum_macs(layer.subscripts, in_shape, out_shape)
        if name in _UNMODELLED_OPS:
            raise _unknown(layer, "is a raw keras.ops call with multiply-adds")
        return 0
    if isinstance(layer, _ZERO_MAC_WEIGHTED) or not any(len(w.shape) >= 2 for w in layer.weights):
        return 0
    raise _unknown(layer)


def _graph_of(model: keras.layers.Layer) -> Functional | None:
    """The functional graph of a functional or Sequential model, else None (subclassed models)."""
    if isinstance(model, Functional):
        return model
    if isinstance(model, keras.Sequential):
        return model._functional  # None until built on a known input shape
    return None


def _calls(op: keras.Operation, graph: Functional) -> Iterator[tuple[Shape | list[Shape], Shape | list[Shape]]]:
    """(input shape, output shape) of each call of ``op`` that belongs to ``graph``."""
    for index, node in enumerate(op._inbound_nodes):
        if make_node_key(op, index) not in graph._nodes:  # a call made for another model
            continue
        ins = [tuple(t.shape) for t in node.input_tensors]
        outs = [tuple(t.shape) for t in node.output_tensors]
        if ins:  # InputLayer nodes have none
            yield (ins[0] if len(ins) == 1 else ins), (outs[0] if len(outs) == 1 else outs)


def _walk(graph: Functional, prefix: str, repeat: int, per_layer: dict[str, int]) -> None:
    for op in graph.operations:
        calls = list(_calls(op, graph))
        name = prefix + op.name
        inner = _graph_of(op) if not callable(getattr(op, "count_macs", None)) else None
        if inner is not None and calls:
            _walk(inner, f"{name}/", repeat * len(calls), per_layer)  # inner shapes: the sub-model's own graph
            continue
        macs = repeat * sum(_layer_macs(op, i, o) for i, o in calls)
        if macs:
            per_layer[name] = per_layer.get(name, 0) + macs


def count_macs(model: keras.Model) -> MacCount:
    """Multiply-adds of one forward pass of a functional or Sequential ``model`` at batch 1."""
    graph = _graph_of(model)
    if graph is None:
        raise TypeError(
            f"count_macs needs a functional or built Sequential model; {model.name!r} ({type(model).__name__}) has no "
            "layer graph (subclassed models: wrap them as keras.Model(inputs, outputs) on a keras.Input)."
        )
    per_layer: dict[str, int] = {}
    _walk(graph, "", 1, per_layer)
    return MacCount(total=sum(per_layer.values()), per_layer=per_layer)
