"""Xception (Chollet 2017, Fig. 5) against Table 3 / keras.applications.
The paper-size (299×299) builds run under ``-m slow``; Table 3's parameter count is in the one golden
table (src/models/reference_figures.py). Forward pass, round trip and names: tests/models/test_zoo.py."""

from __future__ import annotations

import keras
import pytest

from src.errors import ConfigError
from src.models import build_model
from src.models.reference_figures import REFERENCE
from src.profiling import count_macs, count_params

MIDDLE_MODULE_PARAMS = 3 * (9 * 728 + 728 * 728 + 2 * 728)  # 3 × (depthwise + pointwise + BN γ/β)
PROJECTION_PARAMS = sum(cin * cout + 2 * cout for cin, cout in ((64, 128), (128, 256), (256, 728), (728, 1024)))
SMALL = {"input_shape": (32, 32, 3), "classes": 10, "stem": "small"}


def _names(model, prefix: str, suffix: str) -> list[str]:
    return [layer.name for layer in model.layers if layer.name.startswith(prefix) and layer.name.endswith(suffix)]


@pytest.fixture(scope="module")
def imagenet_model():
    keras.backend.clear_session()
    return build_model("xception")


@pytest.fixture(scope="module")
def small_model():
    return build_model("xception", **SMALL)


@pytest.mark.slow
def test_same_weights_and_macs_as_keras_applications(imagenet_model):
    theirs = keras.applications.Xception(weights=None)
    shapes = sorted(tuple(w.shape) for w in imagenet_model.trainable_weights)
    assert shapes == sorted(tuple(w.shape) for w in theirs.trainable_weights)
    assert count_params(theirs).trainable == REFERENCE["xception"].params
    # No MAC figure is printed in the paper; the same graph must count the same (≈ 8.36 G at 299).
    assert count_macs(imagenet_model).total == count_macs(theirs).total
    assert abs(count_macs(imagenet_model).total / 8.357e9 - 1) < 0.005


@pytest.mark.slow
def test_flows_follow_fig_5(imagenet_model):
    model = imagenet_model
    assert model.input_shape == (None, 299, 299, 3)
    assert len(_names(model, "middle_block", "_add")) == 8
    assert len(_names(model, "entry_block", "_add")) == 3 and len(_names(model, "exit_block", "_add")) == 1
    widths = [model.get_layer(f"entry_block{j}_add").output.shape[-1] for j in (1, 2, 3)]
    assert widths == [128, 256, 728]
    assert model.get_layer("middle_block8_add").output.shape[1:] == (19, 19, 728)
    assert model.get_layer("exit_block1_add").output.shape[1:] == (10, 10, 1024)
    assert model.get_layer("exit_tail2_relu").output.shape[1:] == (10, 10, 2048)
    # 3 separable convs per middle module, 2 per entry/exit module, 2 in the exit tail: 34 in all.
    assert len([layer for layer in model.layers if isinstance(layer, keras.layers.SeparableConv2D)]) == 34


@pytest.mark.parametrize("repeats", [4, 16])
def test_middle_repeats_sets_the_middle_flow(repeats, small_model):
    model = build_model("xception", middle_repeats=repeats, **SMALL)
    assert len(_names(model, "middle_block", "_add")) == repeats
    diff = count_params(model).trainable - count_params(small_model).trainable
    assert diff == (repeats - 8) * MIDDLE_MODULE_PARAMS


def test_residual_false_is_the_fig_7_ablation(small_model):
    model = build_model("xception", residual=False, **SMALL)
    assert not [layer for layer in model.layers if isinstance(layer, keras.layers.Add)]
    assert not _names(model, "", "_shortcut_conv")
    assert count_params(small_model).trainable - count_params(model).trainable == PROJECTION_PARAMS == 977_072
    assert len([layer for layer in small_model.layers if isinstance(layer, keras.layers.Add)]) == 12


@pytest.mark.parametrize("shape", [(32, 32, 3), (28, 28, 1)])
def test_small_stem_keeps_4x4_final_maps(shape, small_model):
    model = small_model if shape == (32, 32, 3) else build_model("xception", **{**SMALL, "input_shape": shape})
    assert model.get_layer("exit_tail2_relu").output.shape[1:] == (4, 4, 2048)
    assert model.get_layer("entry_block1_add").output.shape[1:3] == shape[:2]  # first entry module unstrided
    # Same parameters as Fig. 5 (padding and strides only), less the 1000-way head, plus the 10-way one
    # and the stem's input channels.
    expected = REFERENCE["xception"].params - 2049 * 1000 + 2049 * 10 - 9 * (3 - shape[2]) * 32
    assert count_params(model).trainable == expected


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"middle_repeats": -1}, "middle_repeats"),
        ({"middle_repeats": "8"}, "middle_repeats"),
        ({"middle_repeats": True}, "middle_repeats"),
        ({"residual": "yes"}, "residual"),
        ({"residual": 1}, "residual"),
        ({"stem": "cifar"}, "stem"),
        ({"stem": "imagenet", "input_shape": (32, 32, 3)}, "minimum 71x71"),
    ],
)
def test_bad_knob_values_fail_clearly(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        build_model("xception", **{**SMALL, **kwargs})


def test_unknown_knob_lists_valid_ones():
    with pytest.raises(ConfigError, match="middle_repeats"):
        build_model("xception", middle_repeat=4)
