"""Loading the `.keras` files this suite writes (model.keras, checkpoints/last.keras)."""

from __future__ import annotations

import importlib
from pathlib import Path

import keras

from src.errors import CheckpointError

#: Modules whose Keras-serialisable classes (our layers, the LR schedule and the loss) a saved file may name.
SERIALIZABLE_MODULES = (
    "src.layers", "src.layers.lrn", "src.layers.deformable_conv", "src.layers.roi_pooling", "src.models.igc", "src.models.shufflenet_v2",
    "src.train.optim",
)


def load_model(path: str | Path, compile: bool = True) -> keras.Model:
    """`keras.saving.load_model` in safe mode (no Lambda code is deserialised) after registering our
    classes; a missing, corrupt or unsafe file raises `CheckpointError` naming it."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no model file at {path}; give the path of a .keras file this suite wrote.")
    for module in SERIALIZABLE_MODULES:
        importlib.import_module(module)
    try:
        return keras.saving.load_model(path, compile=compile, safe_mode=True)
    except Exception as exc:  # noqa: BLE001 — zipfile, h5py and Keras raise many types for bad files
        raise CheckpointError(
            f"{path} cannot be loaded as a Keras model ({type(exc).__name__}: {str(exc)[:200]}); it is corrupt, "
            "not a .keras file, or needs code that safe mode refuses to run."
        ) from None
