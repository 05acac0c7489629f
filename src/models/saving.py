"""Loading the `.keras` files this suite writes (model.keras, checkpoints/last.keras)."""

from __future__ import annotations

import importlib
from pathlib import Path

import keras

#: Modules whose Keras-serialisable classes (our layers, the LR schedule and the loss) a saved file may name.
SERIALIZABLE_MODULES = (
    "src.layers", "src.layers.lrn", "src.layers.deformable_conv", "src.models.igc", "src.models.shufflenet_v2",
    "src.train.optim",
)


def load_model(path: str | Path, compile: bool = True) -> keras.Model:
    """`keras.saving.load_model` in safe mode (no Lambda code is deserialised) after registering our classes."""
    for module in SERIALIZABLE_MODULES:
        importlib.import_module(module)
    return keras.saving.load_model(Path(path), compile=compile, safe_mode=True)
