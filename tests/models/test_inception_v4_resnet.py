"""Inception-v4 and Inception-ResNet-v1/v2 (Szegedy et al. 2017, arXiv:1602.07261) against the recorded
figures (the default-input parameter counts are the golden table's, src/models/reference_figures.py) and
the paper's Figs. 3–20 / Table 1.

Parameters do not depend on the input size (every conv is followed by a global average pool), and the
small stem has the same layers as the ImageNet one, so most structure checks use 32×32 builds; only
the count checks at 299 build ImageNet-size models (once, module-scoped, under ``-m slow``). Forward
pass, round trip, pooling and names: tests/models/test_zoo.py.
"""

from __future__ import annotations

import re

import keras
import numpy as np
import pytest

from src.errors import ConfigError
from src.models import build_model
from src.models.reference_figures import REFERENCE
from src.profiling import count_macs, count_params

# Multiply-adds of keras.applications' InceptionResNetV2 at 299 by our counter (src.profiling), counted
# here on keras 3.15.1 [C]. SENet Table 2's 11.75 G re-implementation figure is 10.7 % lower: its network
# is not keras.applications' (see the module docstring of src.models.inception_resnet).
KERAS_IR_V2_MACS = 13_155_794_016

# (model, knobs) -> blocks per stage A / B / C (Figs. 9 and 15; keras.applications for layout="keras").
REPEATS = {
    ("inception_v4", ()): (4, 7, 3),
    ("inception_resnet_v1", ()): (5, 10, 5),
    ("inception_resnet_v2", ()): (10, 20, 10),
    ("inception_resnet_v2", (("layout", "paper"),)): (5, 10, 5),
}
# Output channels of the stem / stage 1 / Reduction-A / stage 2 / Reduction-B (stage 3 keeps it).
# Reduction-A adds its m + n to its input (Table 1: v4 256 + 384, v1 256 + 384, v2 384 + 384).
WIDTHS = {
    ("inception_v4", ()): (384, 384, 1024, 1024, 1536),
    ("inception_resnet_v1", ()): (256, 256, 896, 896, 1792),
    ("inception_resnet_v2", ()): (320, 320, 1088, 1088, 2080),
    ("inception_resnet_v2", (("layout", "paper"),)): (384, 384, 1152, 1152, 2144),
}


@pytest.fixture(scope="module")
def imagenet_models():
    keras.backend.clear_session()
    return {name: build_model(name) for name in ("inception_resnet_v2", "inception_v4")}


@pytest.fixture(scope="module")
def small_models():
    keras.backend.clear_session()
    return {
        key: build_model(key[0], input_shape=(32, 32, 3), classes=10, stem="small", **dict(key[1]))
        for key in REPEATS
    }


@pytest.mark.slow
def test_inception_resnet_v2_params_equal_keras_applications(imagenet_models):
    model = imagenet_models["inception_resnet_v2"]
    assert count_params(model).trainable == REFERENCE["inception_resnet_v2"].params
    assert count_params(model).non_trainable == 60_544  # BN moving statistics, as keras.applications
    assert count_macs(model).total == KERAS_IR_V2_MACS
    assert model.get_layer("stage3_block10_out").output.shape[1:] == (8, 8, 2080)
    assert model.get_layer("top_conv").output.shape[1:] == (8, 8, 1536)  # keras' "conv_7b"


@pytest.mark.slow
def test_inception_v4_params_match_reimplementations(imagenet_models):
    model = imagenet_models["inception_v4"]
    trainable = count_params(model).trainable
    assert abs(trainable / REFERENCE["inception_v4"].params - 1) < 0.005, f"{trainable:,}"
    # BN without γ (TF-slim): adding one γ per BN channel gives the affine-BN re-implementations' count.
    assert trainable + count_params(model).non_trainable // 2 == 42_679_816
    # Fig. 9's feature-map sizes: 35×35×384, 17×17×1024, 8×8×1536.
    assert model.get_layer("stem_mixed3").output.shape[1:] == (35, 35, 384)
    assert model.get_layer("reduction_a_out").output.shape[1:] == (17, 17, 1024)
    assert model.get_layer("stage3_block3_out").output.shape[1:] == (8, 8, 1536)


@pytest.mark.parametrize("key", list(REPEATS), ids=lambda k: "-".join([k[0], *(v for _, v in k[1])]))
def test_blocks_per_stage_and_widths(key, small_models):
    model = small_models[key]
    names = [layer.name for layer in model.layers]
    counts = tuple(
        sum(bool(re.fullmatch(rf"stage{i}_block\d+_out", n)) for n in names) for i in (1, 2, 3)
    )
    assert counts == REPEATS[key]
    stem_out = model.get_layer("stage1_block1_b0_1_conv").input.shape[-1]
    got = (
        stem_out,
        model.get_layer(f"stage1_block{REPEATS[key][0]}_out").output.shape[-1],
        model.get_layer("reduction_a_out").output.shape[-1],
        model.get_layer(f"stage2_block{REPEATS[key][1]}_out").output.shape[-1],
        model.get_layer("reduction_b_out").output.shape[-1],
    )
    assert got == WIDTHS[key]


@pytest.mark.slow
def test_small_stem_keeps_the_parameters(imagenet_models, small_models):
    for name in ("inception_resnet_v2", "inception_v4"):
        small = small_models[(name, ())]
        classes_diff = (1000 - 10) * (small.get_layer("head_fc").input.shape[-1] + 1)
        assert count_params(small).trainable + classes_diff == count_params(imagenet_models[name]).trainable


def test_small_stem_leaves_a_large_enough_final_map(small_models):
    for name in ("inception_resnet_v2", "inception_v4"):
        assert small_models[(name, ())].get_layer("reduction_b_out").output.shape[1:3] == (7, 7)
    keras.backend.clear_session()
    gray = build_model("inception_resnet_v1", input_shape=(28, 28, 1), classes=10, stem="small")
    assert gray.get_layer("reduction_b_out").output.shape[1:3] == (6, 6)  # its forward pass: test_zoo.py


def _scales(model: keras.Model) -> dict[str, float]:
    return {layer.name: layer.scale for layer in model.layers if isinstance(layer, keras.layers.Rescaling)}


def test_residual_scale_defaults_and_override(small_models):
    default = _scales(small_models[("inception_resnet_v2", ())])
    # keras.applications: 0.17 (A), 0.10 (B), 0.20 (C); its last C block is unscaled.
    assert {default[f"stage1_block{j}_scale"] for j in range(1, 11)} == {0.17}
    assert {default[f"stage2_block{j}_scale"] for j in range(1, 21)} == {0.10}
    assert {default[f"stage3_block{j}_scale"] for j in range(1, 10)} == {0.20}
    assert "stage3_block10_scale" not in default and len(default) == 39
    keras.backend.clear_session()
    v1 = build_model("inception_resnet_v1", input_shape=(32, 32, 3), classes=10, stem="small", residual_scale=0.3)
    assert set(_scales(v1).values()) == {0.3} and len(_scales(v1)) == 20
    keras.backend.clear_session()
    unscaled = build_model("inception_resnet_v1", input_shape=(32, 32, 3), classes=10, stem="small", residual_scale=1.0)
    assert _scales(unscaled) == {}
    assert count_params(unscaled).trainable == count_params(v1).trainable  # scaling has no weights


def test_residual_scale_changes_the_output():
    x = np.random.default_rng(0).normal(size=(1, 32, 32, 3)).astype("float32")
    outs = []
    for scale in (0.1, 1.0):
        keras.backend.clear_session()
        keras.utils.set_random_seed(0)
        model = build_model(
            "inception_resnet_v1", input_shape=(32, 32, 3), classes=10, stem="small", residual_scale=scale,
            classifier_activation=None,
        )
        outs.append(keras.ops.convert_to_numpy(model(x, training=False)))
    assert not np.allclose(outs[0], outs[1])


@pytest.mark.parametrize(
    "name, kwargs, match",
    [
        ("inception_v4", {"stem": "cifar"}, "stem='cifar'"),
        ("inception_resnet_v2", {"layout": "tf-slim"}, "layout='tf-slim'"),
        ("inception_resnet_v1", {"residual_scale": 0.0}, "residual_scale=0.0"),
        ("inception_resnet_v1", {"residual_scale": 1.5}, "residual_scale=1.5"),
        ("inception_resnet_v2", {"residual_scale": True}, "residual_scale=True"),
        ("inception_resnet_v2", {"residual_scale": "0.2"}, "residual_scale='0.2'"),
        ("inception_resnet_v1", {"layout": "keras"}, "no knob 'layout'"),
        ("inception_v4", {"residual_scale": 0.2}, "no knob 'residual_scale'"),
        ("inception_resnet_v2", {"input_shape": (32, 32, 3)}, "smaller than the network's minimum 75x75"),
    ],
)
def test_bad_knobs_raise_clear_errors(name, kwargs, match):
    with pytest.raises(ConfigError, match=re.escape(match)):
        build_model(name, **kwargs)
