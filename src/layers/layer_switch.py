"""Flip one attribute on every layer of a type inside a model: the implementation switches of
GroupedConv2D and BatchNormalization share this walk (nested models included)."""

from __future__ import annotations

from typing import Any

import keras


def set_on_layers(model: keras.Model, layer_type: type, attribute: str, value: Any) -> int:
    """Set ``attribute = value`` on every ``layer_type`` layer of ``model`` (nested models included);
    returns how many layers it set. Keras has no public recursive layer walk, so the private
    ``_flatten_layers`` is used here, in one place."""
    count = 0
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, layer_type):
            setattr(layer, attribute, value)
            count += 1
    return count
