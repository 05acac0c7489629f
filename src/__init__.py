"""Reproducible experiments for efficient CNN architectures, in Keras 3."""

__version__ = "0.1.0"
