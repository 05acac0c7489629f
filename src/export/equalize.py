"""Outlier-channel equalisation before full-integer int8 conversion: cross-layer scaling (Nagel, van Baalen,
Blankevoort & Welling, "Data-Free Quantization Through Weight Equalization and Bias Correction", ICCV 2019,
§4.1), applied only where it is exact.

int8 gives an activation tensor one scale, so a channel that runs 100× above the others rounds them to
zero (a ShuffleNet v1 trained on Fashion-MNIST had one channel at 1.2e3 against a median of 8.6; its
int8 failure also had another cause, see experiments/mobile_export). For the chain ``BatchNormalization → ReLU → [channel shuffle] → DepthwiseConv2D``:

- dividing channel c's BN γ and β by s > 0 divides its BN output, and so its ReLU output, by s
  (ReLU(x / s) = ReLU(x) / s);
- multiplying the depthwise kernel of the channel that c lands on after the shuffle by s gives back
  the depthwise conv's output exactly (each depthwise channel sees only its own input channel).

TFLite quantises depthwise kernels per output channel, so the larger kernel channel costs nothing; the
float model's outputs are unchanged. The scale is data-driven: a channel whose largest ReLU output on
the calibration images exceeds ``ratio`` × the layer's median channel maximum is brought down to that
median. ReLU6 chains (MobileNets) are left alone: ReLU6 clips, so the scaling would not be exact.
Written by hand: tfmot and the TFLite converter offer no equalisation for Keras models (AIMET has one
for PyTorch and ONNX).
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

from src.layers import ChannelShuffle

#: Layers that only permute channels: a chain may pass through them.
PERMUTATION_LAYERS = (ChannelShuffle,)


@dataclass(frozen=True)
class EqualizedChain:
    """One equalised chain: its layers, how many channels were scaled, and the layer's largest channel
    maximum over its median channel maximum before and after."""

    batch_norm: str
    depthwise: str
    channels_scaled: int
    max_over_median_before: float
    max_over_median_after: float


def _is_plain_relu(layer: keras.layers.Layer) -> bool:
    if isinstance(layer, keras.layers.ReLU):
        return layer.max_value is None and not layer.negative_slope and not layer.threshold
    return isinstance(layer, keras.layers.Activation) and getattr(layer.activation, "__name__", "") == "relu"


def _consumers(model: keras.Model) -> dict[int, list[keras.layers.Layer]]:
    """id(layer) -> the layers of ``model`` that take its output."""
    found: dict[int, list[keras.layers.Layer]] = {}
    for layer in model.layers:
        for node in layer._inbound_nodes:
            for tensor in node.input_tensors:
                found.setdefault(id(tensor._keras_history.operation), []).append(layer)
    return found


def equalizable_chains(model: keras.Model) -> list[tuple[keras.layers.Layer, keras.layers.Layer,
                                                         list[keras.layers.Layer], keras.layers.DepthwiseConv2D]]:
    """(BN, ReLU, permutation layers, depthwise conv) of every chain of ``model`` (top level, each layer
    called once, each link the only consumer of the one before) where the scaling is exact."""
    consumers = _consumers(model)
    outputs = {id(t._keras_history.operation) for t in model.outputs}

    def only_consumer(layer):
        after = consumers.get(id(layer), [])
        return after[0] if len(after) == 1 and id(layer) not in outputs and len(after[0]._inbound_nodes) == 1 else None

    chains = []
    for bn in model.layers:
        if not isinstance(bn, keras.layers.BatchNormalization) or not bn.scale or not bn.center:
            continue
        relu = only_consumer(bn)
        if relu is None or not _is_plain_relu(relu):
            continue
        permutations, nxt = [], only_consumer(relu)
        while isinstance(nxt, PERMUTATION_LAYERS):
            permutations.append(nxt)
            nxt = only_consumer(nxt)
        if isinstance(nxt, keras.layers.DepthwiseConv2D):
            chains.append((bn, relu, permutations, nxt))
    return chains


def channel_permutation(layers: list[keras.layers.Layer], channels: int) -> np.ndarray:
    """``where[c]``: the channel that input channel c occupies after ``layers`` (found by passing each
    channel's index through them, so any exact permutation layer works)."""
    probe = np.arange(channels, dtype="float32").reshape(1, 1, 1, channels)
    for layer in layers:
        probe = keras.ops.convert_to_numpy(layer(probe))
    order = probe.reshape(-1).astype(int)  # order[k]: the input channel now at k
    where = np.empty(channels, dtype=int)
    where[order] = np.arange(channels)
    return where


def _channel_maxima(model: keras.Model, layers: list[keras.layers.Layer], images: np.ndarray,
                    batch_size: int = 64) -> list[np.ndarray]:
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    probe = keras.Model(inputs, [layer.output for layer in layers])
    maxima: list[np.ndarray] | None = None
    for start in range(0, len(images), batch_size):
        outs = probe(images[start:start + batch_size], training=False)
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        batch = [keras.ops.convert_to_numpy(keras.ops.max(o, axis=(0, 1, 2))) for o in outs]
        maxima = batch if maxima is None else [np.maximum(a, b) for a, b in zip(maxima, batch)]
    return maxima or []


def _over_median(maxima: np.ndarray) -> float:
    live = maxima[maxima > 0]
    return float(live.max() / np.median(live)) if live.size else 1.0


def equalize_outlier_channels(model: keras.Model, images: np.ndarray, ratio: float = 4.0,
                              ) -> tuple[keras.Model, list[EqualizedChain]]:
    """A copy of ``model`` whose outlier channels (max > ``ratio`` × the median channel max on ``images``)
    are scaled down to the median in every exact chain (module docstring), and what was done. The copy's
    float outputs equal ``model``'s up to rounding."""
    if ratio <= 1:
        raise ValueError(f"ratio must be > 1 (a channel's max over its layer's median channel max), got {ratio}")
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    chains = equalizable_chains(copy)
    if not chains:
        return copy, []
    maxima = _channel_maxima(copy, [relu for _, relu, _, _ in chains], np.asarray(images, "float32"))
    done = []
    for (bn, _, permutations, depthwise), channel_max in zip(chains, maxima):
        live = channel_max[channel_max > 0]
        if not live.size:
            continue
        median = float(np.median(live))
        scale = np.where(channel_max > ratio * median, channel_max / median, 1.0).astype("float32")
        if np.all(scale == 1.0):
            continue
        bn.gamma.assign(keras.ops.convert_to_numpy(bn.gamma) / scale)
        bn.beta.assign(keras.ops.convert_to_numpy(bn.beta) / scale)
        kernel = keras.ops.convert_to_numpy(depthwise.kernel).copy()  # (kh, kw, channels, multiplier)
        kernel[:, :, channel_permutation(permutations, len(scale)), :] *= scale[:, None]
        depthwise.kernel.assign(kernel)
        done.append(EqualizedChain(bn.name, depthwise.name, int(np.sum(scale > 1)), float(live.max() / median),
                                   _over_median(channel_max / scale)))
    return copy, done
