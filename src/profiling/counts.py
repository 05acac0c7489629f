"""Parameter and multiply-add (MAC) counts of a Keras model.

Papers print multiply-adds (one multiply-add = 1 MAC; TensorFlow's profiler counts 2 FLOPs per
MAC — see shared/reference/paper_tables.md §0). Counted analytically from each layer's call
shapes at batch 1; our custom layers implement ``count_macs(input_shape, output_shape)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

_ZERO_MAC_WEIGHTED = (keras.layers.BatchNormalization, keras.layers.LayerNormalization, keras.layers.Embedding)


@dataclass(frozen=True)
class ParamCount:
    trainable: int
    non_trainable: int

    @property
    def total(self) -> int:
        return self.trainable + self.non_trainable


def _size(weights) -> int:
    seen: dict[int, int] = {}
    for w in weights:
        seen[id(w)] = int(np.prod(w.shape))
    return sum(seen.values())


def count_params(model: keras.Model) -> ParamCount:
    """Trainable and non-trainable (BN moving statistics) parameter counts."""
    return ParamCount(_size(model.trainable_weights), _size(model.non_trainable_weights))


@dataclass(frozen=True)
class MacCount:
    total: int
    per_layer: dict[str, int]

    def table(self, top: int | None = None) -> str:
        """Per-layer MACs, largest first, with their share of the total."""
        rows = sorted(self.per_layer.items(), key=lambda kv: -kv[1])[:top]
        width = max((len(k) for k, _ in rows), default=5)
        lines = [f"{'layer':<{width}}  {'MACs':>15}  share"]
        lines += [f"{k:<{width}}  {v:>15,}  {100 * v / max(self.total, 1):5.1f}%" for k, v in rows]
        lines.append(f"{'total':<{width}}  {self.total:>15,}")
        return "\n".join(lines)


def _elements(shape) -> int:
    dims = [d for d in shape[1:]]
    if any(d is None for d in dims):
        raise ValueError(f"cannot count MACs with unknown dimensions {tuple(shape)}; build the model with a fixed input size")
    return int(np.prod(dims)) if dims else 1


def _layer_macs(layer: keras.layers.Layer, in_shape, out_shape) -> int:
    """MACs of one call of ``layer`` (batch dimension ignored)."""
    custom = getattr(layer, "count_macs", None)
    if callable(custom):
        return int(custom(in_shape, out_shape))
    L = keras.layers
    if isinstance(layer, L.SeparableConv2D):
        k = int(np.prod(layer.kernel_size))
        cin = in_shape[-1]
        mid = cin * layer.depth_multiplier
        spatial = _elements(out_shape) // out_shape[-1]
        return spatial * (mid * k + mid * layer.filters)
    if isinstance(layer, L.DepthwiseConv2D):
        return _elements(out_shape) * int(np.prod(layer.kernel_size))
    if isinstance(layer, (L.Conv2DTranspose, L.Conv1DTranspose, L.Conv3DTranspose)):
        k = int(np.prod(layer.kernel_size))
        return _elements(in_shape) * k * layer.filters // getattr(layer, "groups", 1)
    if isinstance(layer, (L.Conv1D, L.Conv2D, L.Conv3D)):
        k = int(np.prod(layer.kernel_size))
        return _elements(out_shape) * k * in_shape[-1] // layer.groups
    if isinstance(layer, L.Dense):
        return _elements(in_shape) * layer.units
    if isinstance(layer, _ZERO_MAC_WEIGHTED) or not any(len(w.shape) >= 2 for w in layer.trainable_weights):
        return 0
    raise TypeError(
        f"count_macs does not know layer {layer.name!r} of type {type(layer).__name__}; "
        "give the class a count_macs(self, input_shape, output_shape) method."
    )


def _call_shapes(layer: keras.layers.Layer):
    """(input shape, output shape) of each call of ``layer`` in the functional graph."""
    for node in getattr(layer, "_inbound_nodes", []):
        ins = [t.shape for t in node.input_tensors]
        outs = [t.shape for t in node.output_tensors]
        if not ins:  # InputLayer
            continue
        yield (ins[0] if len(ins) == 1 else ins), (outs[0] if len(outs) == 1 else outs)


def _walk(model: keras.Model, prefix: str, per_layer: dict[str, int]) -> None:
    for layer in model.layers:
        name = f"{prefix}{layer.name}"
        if isinstance(layer, keras.Model):
            _walk(layer, f"{name}/", per_layer)
            continue
        macs = sum(_layer_macs(layer, i, o) for i, o in _call_shapes(layer))
        if macs:
            per_layer[name] = per_layer.get(name, 0) + macs


def count_macs(model: keras.Model) -> MacCount:
    """Multiply-adds of one forward pass at batch 1, per layer and in total."""
    per_layer: dict[str, int] = {}
    _walk(model, "", per_layer)
    return MacCount(total=sum(per_layer.values()), per_layer=per_layer)
