"""Normalisation on the accelerator: a streamed data set's uint8 batches go to the device as they are.

timm's `PrefetchLoader` and the Model Garden normalise on the GPU: the host ships uint8, a quarter of
float32's bytes, and spends no CPU time on the conversion. Here the training network is wrapped in a
`keras.layers.Rescaling` that computes ``(x / 255 - mean) / std`` per channel; the wrapped network shares
its variables, so the saved and exported model stays the plain network that takes normalised input.
"""

from __future__ import annotations

import keras

from src.data.pipeline import Normalization


def with_input_normalization(model: keras.Model, norm: Normalization) -> keras.Model:
    """``model`` behind a uint8 input and the per-channel normalisation of ``norm``."""
    inputs = keras.Input(model.input_shape[1:], dtype="uint8", name="pixels")
    scale = [1.0 / (255.0 * s) for s in norm.std]
    offset = [-m / s for m, s in zip(norm.mean, norm.std)]
    x = keras.layers.Rescaling(scale=scale, offset=offset, name="normalize")(inputs)
    return keras.Model(inputs, model(x), name=f"{model.name}_from_uint8")
