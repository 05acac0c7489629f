"""Registry: names, knobs, and clear errors for unknown ones."""

from __future__ import annotations

from pathlib import Path

import pytest

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


def test_the_small_input_stem_has_one_spelling_and_the_old_one_names_it():
    stems = {name: tuple(get_spec(name).knob_choices["stem"]) for name in list_models()
             if "stem" in get_spec(name).knob_choices}
    assert len(stems) > 20 and set(stems.values()) == {("imagenet", "small")}, stems
    assert all(get_spec(name).small_knobs.get("stem") == "small" for name in stems)
    for name in ("resnet18", "densenet121"):  # a family once spelled `cifar`, one always spelled `small`
        with pytest.raises(ConfigError, match="stem='cifar' is now spelled 'small'"):
            build_model(name, input_shape=(32, 32, 3), stem="cifar")
