"""Registry: names, knobs, and clear errors for unknown ones."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
import yaml

from src.errors import ConfigError
from src.models import build_model, get_spec, list_models

CONF_MODEL = Path(__file__).resolve().parents[2] / "conf" / "model"


def test_list_models_and_patterns():
    names = list_models()
    assert {"resnet18", "resnet50", "resnet152", "resnet20", "resnet110"} <= set(names)
    assert list_models("resnet1*") == ["resnet101", "resnet110", "resnet1202", "resnet152", "resnet18"]
    assert names == sorted(names)


def test_unknown_model_lists_names_and_closest_match():
    with pytest.raises(ConfigError) as info:
        build_model("resnt50")
    assert "Did you mean 'resnet50'" in str(info.value) and "resnet18" in str(info.value)


def test_unknown_knob_lists_valid_knobs():
    with pytest.raises(ConfigError) as info:
        build_model("resnet50", downsample="3x3")
    text = str(info.value)
    assert "no knob 'downsample'" in text and "Did you mean 'downsample_in'" in text and "stem=" in text


@pytest.mark.parametrize(
    "name, kwargs, fragment",
    [
        ("resnet50", {"downsample_in": "2x2"}, "downsample_in='2x2'"),
        ("resnet18", {"stem": "tiny"}, "stem='tiny'"),
        ("resnet20", {"shortcut": "C"}, "shortcut='C'"),
        ("resnet18", {"input_shape": (16, 16, 3)}, "smaller than the network's minimum"),
        ("resnet20", {"input_shape": (32, 32)}, "(height, width, channels)"),
        ("resnet20", {"classes": 0}, "classes must be a positive integer"),
        ("resnet20", {"include_top": False, "pooling": "median"}, "pooling='median'"),
    ],
)
def test_bad_knob_values_are_refused_with_the_value(name, kwargs, fragment):
    with pytest.raises(ConfigError) as info:
        build_model(name, **kwargs)
    assert fragment in str(info.value)


def test_every_registered_name_has_a_hydra_config_and_back():
    """conf/model/<name>.yaml matches the registry one-to-one, and its fields are the model's knobs."""
    files = {p.stem for p in CONF_MODEL.glob("*.yaml")}
    assert files == set(list_models())
    for name in files:
        cfg = yaml.safe_load((CONF_MODEL / f"{name}.yaml").read_text())
        assert cfg.pop("name") == name
        knobs = get_spec(name).knobs()
        assert set(cfg) <= set(knobs), f"{name}: config fields {set(cfg) - set(knobs)} are not knobs"
        for key, value in cfg.items():
            default = list(knobs[key]) if isinstance(knobs[key], tuple) else knobs[key]  # YAML has no tuples
            assert value == default, f"{name}.{key}: config default {value!r} != builder default {knobs[key]!r}"


def test_same_shape_layers_get_independent_initial_kernels():
    # A shared unseeded Keras 3 initializer instance repeats its values on every call.
    model = build_model("resnet20")
    a = model.get_layer("stage1_block1_1_conv").kernel
    b = model.get_layer("stage1_block2_1_conv").kernel
    assert not np.array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))


def test_the_small_input_stem_has_one_spelling_and_the_old_one_names_it():
    stems = {name: tuple(get_spec(name).knob_choices["stem"]) for name in list_models()
             if "stem" in get_spec(name).knob_choices}
    assert len(stems) > 20 and set(stems.values()) == {("imagenet", "small")}, stems
    assert all(get_spec(name).small_knobs.get("stem") == "small" for name in stems)
    for name in ("resnet18", "densenet121"):  # a family once spelled `cifar`, one always spelled `small`
        with pytest.raises(ConfigError, match="stem='cifar' is now spelled 'small'"):
            build_model(name, input_shape=(32, 32, 3), stem="cifar")
