"""Every custom layer of the suite is registered serializable and survives get_config/from_config, its
registered name and a .keras file with the same outputs.

The layers are found, not listed: every ``keras.layers.Layer`` subclass defined in a module of
``src.layers`` or ``src.models``. A new layer fails here until it is registered
(``keras.saving.register_keras_serializable(package="cnnzoo")``) and has an example in ``EXAMPLES``."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import keras
import numpy as np
import pytest

import src.layers
import src.models

PACKAGES = (src.layers, src.models)

#: Per layer class: constructor arguments (not the defaults where the layer has options) and the input
#: shape (without the batch) it is called on.
EXAMPLES: dict[str, tuple[dict, tuple[int, ...]]] = {
    "BatchNormalization": ({"fused": False, "momentum": 0.9}, (4, 4, 6)),
    "ChannelShuffle": ({"groups": 3}, (4, 4, 6)),
    "ChannelSplit": ({}, (4, 4, 6)),
    "DeformableConv2D": ({"filters": 5, "kernel_size": (3, 2), "strides": (1, 2), "padding": "valid",
                          "use_bias": False}, (7, 7, 4)),
    "GroupedConv2D": ({"filters": 6, "kernel_size": 3, "groups": 2, "strides": 2, "use_bias": True}, (6, 6, 4)),
    "HardSigmoid": ({}, (4, 4, 6)),
    "HardSwish": ({}, (4, 4, 6)),
    "LocalResponseNormalization": ({"size": 3, "alpha": 1e-3, "beta": 0.5, "k": 1.5}, (5, 4, 11)),
    "NarrowGroupedConv2D": ({"filters": 16, "kernel_size": 3, "groups": 4}, (5, 5, 8)),
    "ZeroPadShortcut": ({"strides": 2, "out_channels": 8}, (6, 6, 4)),
}


def custom_layers() -> list[type]:
    """Every Layer subclass (not a Model) defined in a module of ``PACKAGES``, by name."""
    found: dict[str, type] = {}
    for package in PACKAGES:
        for info in pkgutil.iter_modules(package.__path__, prefix=f"{package.__name__}."):
            module = importlib.import_module(info.name)
            for _, cls in inspect.getmembers(module, inspect.isclass):
                if (cls.__module__ == module.__name__ and issubclass(cls, keras.layers.Layer)
                        and not issubclass(cls, keras.Model)):
                    found[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return [found[key] for key in sorted(found)]


#: Layers called on several inputs (feature maps, boxes, box indices) that this single-input test cannot
#: build; their own round trip (registered name, config, same outputs) is in the named test.
OWN_ROUND_TRIP = {
    "DeformableRoIPooling": "tests/layers/test_roi_pooling.py::test_round_trip_keeps_config_and_outputs",
    "PSRoIPooling": "tests/layers/test_roi_pooling.py::test_round_trip_keeps_config_and_outputs",
}
LAYERS = [cls for cls in custom_layers() if cls.__name__ not in OWN_ROUND_TRIP]


def _np(tensors) -> list[np.ndarray]:
    return [keras.ops.convert_to_numpy(t) for t in keras.tree.flatten(tensors)]


def test_the_layers_are_found_and_each_has_an_example():
    names = {cls.__name__ for cls in LAYERS}
    assert set(OWN_ROUND_TRIP) <= {cls.__name__ for cls in custom_layers()}
    for name in OWN_ROUND_TRIP:  # registered like every other layer
        assert keras.saving.get_registered_object(f"cnnzoo>{name}") is not None, name
    assert {"GroupedConv2D", "DeformableConv2D", "LocalResponseNormalization", "BatchNormalization"} <= names
    missing = names - set(EXAMPLES)
    assert not missing, f"add an example (constructor arguments, input shape) to EXAMPLES for {sorted(missing)}"
    assert not set(EXAMPLES) - names, f"EXAMPLES names layers that no longer exist: {sorted(set(EXAMPLES) - names)}"


@pytest.mark.parametrize("cls", LAYERS, ids=lambda cls: cls.__name__)
def test_layer_is_registered_and_round_trips_with_the_same_outputs(cls, tmp_path):
    registered = keras.saving.get_registered_name(cls)
    assert registered == f"cnnzoo>{cls.__name__}", (
        f"{cls.__module__}.{cls.__name__} is not registered: decorate it with "
        '@keras.saving.register_keras_serializable(package="cnnzoo")'
    )
    assert keras.saving.get_registered_object(registered) is cls
    kwargs, shape = EXAMPLES[cls.__name__]
    keras.backend.clear_session()
    layer = cls(**kwargs, name="under_test")
    inputs = keras.Input(shape)
    model = keras.Model(inputs, layer(inputs))
    rng = np.random.default_rng(0)
    # Random weights (positive, so a BN variance is valid): a round trip that lost one would show.
    model.set_weights([rng.uniform(0.5, 1.5, w.shape).astype(w.dtype) for w in model.get_weights()])
    x = rng.normal(size=(2, *shape)).astype("float32")
    expected = _np(model(x, training=False))

    # get_config / from_config
    config = layer.get_config()
    clone = cls.from_config(config)
    assert clone.get_config() == config
    clone(keras.Input(shape))
    clone.set_weights(layer.get_weights())
    for a, b in zip(_np(clone(x, training=False)), expected, strict=True):
        np.testing.assert_array_equal(a, b)

    # by its registered name, with no custom_objects (what a .keras file stores)
    serialized = keras.saving.serialize_keras_object(layer)
    assert serialized["registered_name"] == registered
    assert type(keras.saving.deserialize_keras_object(serialized)) is cls

    # a .keras file, loaded in safe mode
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    assert type(loaded.get_layer("under_test")) is cls
    assert loaded.get_layer("under_test").get_config() == config
    for a, b in zip(_np(loaded(x, training=False)), expected, strict=True):
        np.testing.assert_array_equal(a, b)
