"""Squeeze-and-Excitation (Hu et al., "Squeeze-and-Excitation Networks", arXiv:1709.01507, Fig. 1–3).

One building block for every family: global average pool (the squeeze) → FC C/r → ReLU → FC C →
gate (sigmoid; MobileNet v3 uses hard-sigmoid) → channel-wise rescale of the input. The two FCs are
1×1 convolutions on the kept 1×1 map (same parameters as Dense with bias, every tensor stays rank 4,
which TFLite and its GPU delegate prefer; keras.applications' MobileNetV3 builds it the same way).
"""

from __future__ import annotations

from keras import layers

from src.errors import ConfigError
from src.layers.activations import HardSigmoid

GATES = ("sigmoid", "hard_sigmoid")


def squeeze_excite(
    x,
    *,
    name: str,
    reduction: int = 16,
    reduced_channels: int | None = None,
    gate: str = "sigmoid",
    use_bias: bool = True,
):
    """SE unit on ``x`` (N, H, W, C): returns ``x · gate(W2 ReLU(W1 avgpool(x)))``.

    ``reduced_channels`` overrides ``C // reduction`` (MobileNet v3 rounds it to a multiple of 8).
    ``use_bias=False`` gives the bias-free excitation of SENet §6's ablation protocol.
    """
    channels = int(x.shape[-1])
    if reduced_channels is None:
        if not isinstance(reduction, int) or reduction < 1:
            raise ConfigError(f"{name}: SE reduction ratio r must be a positive integer, got {reduction!r}.")
        reduced_channels = max(1, channels // reduction)
    if gate not in GATES:
        raise ConfigError(f"{name}: SE gate {gate!r} is not valid; choose one of {list(GATES)}.")
    s = layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_squeeze")(x)
    s = layers.Conv2D(reduced_channels, 1, use_bias=use_bias, name=f"{name}_reduce")(s)
    s = layers.Activation("relu", name=f"{name}_relu")(s)
    s = layers.Conv2D(channels, 1, use_bias=use_bias, name=f"{name}_expand")(s)
    s = HardSigmoid(name=f"{name}_gate")(s) if gate == "hard_sigmoid" else layers.Activation("sigmoid", name=f"{name}_gate")(s)
    return layers.Multiply(name=f"{name}_scale")([x, s])
