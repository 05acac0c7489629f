"""Layers stock Keras lacks, written with keras.ops so they run on TensorFlow and JAX."""

from src.layers.activations import HardSigmoid, HardSwish, hard_sigmoid, hard_swish
from src.layers.batch_norm import BatchNormalization, set_batch_norm_fusion
from src.layers.channel_shuffle import ChannelShuffle
from src.layers.grouped_conv import GroupedConv2D, set_grouped_conv_implementation
from src.layers.shortcut import ZeroPadShortcut
from src.layers.squeeze_excite import squeeze_excite

__all__ = [
    "BatchNormalization",
    "ChannelShuffle",
    "GroupedConv2D",
    "HardSigmoid",
    "HardSwish",
    "ZeroPadShortcut",
    "hard_sigmoid",
    "hard_swish",
    "set_batch_norm_fusion",
    "set_grouped_conv_implementation",
    "squeeze_excite",
]
