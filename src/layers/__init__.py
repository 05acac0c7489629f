"""Layers stock Keras lacks, written with keras.ops so they run on TensorFlow and JAX."""

from src.layers.shortcut import ZeroPadShortcut

__all__ = ["ZeroPadShortcut"]
