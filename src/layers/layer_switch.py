"""Walk every layer of a type inside a model (nested models included): the implementation switches of
GroupedConv2D and BatchNormalization and the dead-channel check (src/train/bn_health.py) share it."""

from __future__ import annotations

from typing import Any

import keras


def layers_of_type(model: keras.Model, layer_type: type) -> list[keras.layers.Layer]:
    """Every ``layer_type`` layer of ``model``, nested models and layers included. Keras has no public
    recursive layer walk, so the private ``_flatten_layers`` is used here, in one place."""
    return [layer for layer in model._flatten_layers(include_self=False, recursive=True)
            if isinstance(layer, layer_type)]


def set_on_layers(model: keras.Model, layer_type: type, attribute: str, value: Any) -> int:
    """Set ``attribute = value`` on every ``layer_type`` layer of ``model`` (nested models included);
    returns how many layers it set."""
    found = layers_of_type(model, layer_type)
    for layer in found:
        setattr(layer, attribute, value)
    return len(found)
