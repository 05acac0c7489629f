"""Batch-norm channels that went dead in training and amplify any test input that wakes them.

A BN channel whose moving variance is ~0 saw a constant input on the training data (a dead ReLU
channel upstream). At inference it computes γ·(x − μ)/√(σ² + ε) with σ² ≈ 0, so a test image that
does activate the channel is multiplied by |γ|/√ε: hundreds to thousands with ε = 1e-5. Measured on
our Fashion-MNIST zoo (experiments/zoo_efficient_fashion_mnist): five trained networks have no dead
channel and a largest BN gain of 1.4–5; ShuffleNet v2 has 2 (gain 376); ShuffleNet v1 g=3, after a
loss spike, 71 with gains up to 4.6e3, one test image with logits of 2.9e5, and BN-folded depthwise
weights that XNNPACK refuses in int8.

Keras has no such check; it is a few lines over the BN weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

from src.layers.layer_switch import layers_of_type

#: A moving variance at or below this counts as a constant (dead) input channel.
DEAD_VARIANCE = 1e-10


@dataclass(frozen=True)
class DeadChannel:
    layer: str
    channel: int
    gain: float  # |γ| / √(σ² + ε): what an input that wakes the channel is multiplied by


def dead_bn_channels(model: keras.Model, dead_variance: float = DEAD_VARIANCE) -> list[DeadChannel]:
    """The BatchNormalization channels of ``model`` (nested models included) whose moving variance is
    ≤ ``dead_variance``, largest gain first."""
    found = []
    for layer in layers_of_type(model, keras.layers.BatchNormalization):
        variance = np.asarray(keras.ops.convert_to_numpy(layer.moving_variance), dtype=np.float64)
        gamma = (np.asarray(keras.ops.convert_to_numpy(layer.gamma), dtype=np.float64) if layer.scale
                 else np.ones_like(variance))
        gain = np.abs(gamma) / np.sqrt(variance + layer.epsilon)
        found += [DeadChannel(layer.name, int(c), float(gain[c])) for c in np.flatnonzero(variance <= dead_variance)]
    return sorted(found, key=lambda d: -d.gain)


def describe(dead: list[DeadChannel]) -> str:
    """One line for the log: how many dead channels, in how many layers, and the worst gains."""
    if not dead:
        return "no dead batch-norm channels"
    worst = ", ".join(f"{d.layer}[{d.channel}] x{d.gain:.3g}" for d in dead[:3])
    return (f"{len(dead)} batch-norm channels in {len({d.layer for d in dead})} layers have zero moving variance "
            f"(their input was constant in training); a test input that activates one is amplified by its gain "
            f"|gamma|/sqrt(eps), up to x{dead[0].gain:.3g} ({worst}). Such a network can give huge logits on "
            "rare inputs and lose its int8 export; try a lower train.learning_rate or more train.warmup_epochs.")

