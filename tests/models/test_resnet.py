"""ResNet family against the paper (He et al. 2016) and torchvision / keras.applications figures
(He et al. 2016 Tables 1 and 6, keras.applications, torchvision)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from src.models import build_model
from src.profiling import count_macs, count_params

# torchvision 0.29.1 weights metadata [R]: params exactly; "GFLOPS" = MACs of ResNet v1.5 (stride on the 3×3).
TORCHVISION = {
    "resnet18": (11_689_512, 1.814e9),
    "resnet34": (21_797_672, 3.664e9),
    "resnet50": (25_557_032, 4.089e9),
    "resnet101": (44_549_160, 7.801e9),
    "resnet152": (60_192_808, 11.514e9),
}
# The paper's Table 1 multiply-adds (stride on the first 1×1, as the original Caffe models) [P].
PAPER_MACS = {"resnet18": 1.8e9, "resnet34": 3.6e9, "resnet50": 3.8e9, "resnet101": 7.6e9, "resnet152": 11.3e9}
# Table 6 parameters at the paper's printed precision [P].
CIFAR_PARAMS = {"resnet20": "0.27", "resnet32": "0.46", "resnet44": "0.66", "resnet56": "0.85", "resnet110": "1.7"}


@pytest.fixture(scope="module")
def imagenet_models():
    keras.backend.clear_session()
    return {name: build_model(name) for name in TORCHVISION}


@pytest.mark.parametrize("name", list(TORCHVISION))
def test_imagenet_params_equal_torchvision_and_macs_match_paper(name, imagenet_models):
    model = imagenet_models[name]
    params, macs = count_params(model), count_macs(model).total
    assert params.trainable == TORCHVISION[name][0]
    assert abs(macs / PAPER_MACS[name] - 1) < 0.02, f"{name}: {macs / 1e9:.3f} G vs paper {PAPER_MACS[name] / 1e9} G"


@pytest.mark.parametrize("name", ["resnet50", "resnet101", "resnet152"])
def test_v1_5_stride_on_3x3_matches_torchvision_macs(name):
    model = build_model(name, downsample_in="3x3")
    assert count_params(model).trainable == TORCHVISION[name][0]
    assert abs(count_macs(model).total / TORCHVISION[name][1] - 1) < 0.005


@pytest.mark.parametrize("name", list(CIFAR_PARAMS))
def test_cifar_params_match_table_6(name):
    model = build_model(name)  # 32x32x3, option A
    trainable = count_params(model).trainable
    digits = len(CIFAR_PARAMS[name].split(".")[1])
    assert f"{trainable / 1e6:.{digits}f}" == CIFAR_PARAMS[name], f"{name}: {trainable:,}"


@pytest.mark.slow
def test_resnet1202_builds_and_matches_table_6():
    # 19.4 M in Table 6; ~3,600 layers need a raised recursion limit in Keras' graph walk.
    assert f"{count_params(build_model('resnet1202')).trainable / 1e6:.1f}" == "19.4"


def test_resnet20_macs_at_cifar_size():
    # 40.55 M MACs at 32x32x3 ("≈ 41 M" in re-implementations).
    assert abs(count_macs(build_model("resnet20")).total / 40.55e6 - 1) < 0.005


def test_keras_applications_resnet50_differs_exactly_by_conv_biases(imagenet_models):
    ours = count_params(imagenet_models["resnet50"]).trainable
    theirs_model = keras.applications.ResNet50(weights=None)
    theirs = count_params(theirs_model).trainable
    assert theirs == 25_583_592
    conv_biases = sum(
        int(np.prod(layer.bias.shape))
        for layer in theirs_model.layers
        if isinstance(layer, keras.layers.Conv2D) and layer.use_bias
    )
    assert theirs - ours == conv_biases == 26_560


def test_option_b_adds_projection_parameters():
    a = count_params(build_model("resnet20", shortcut="A")).trainable
    b = count_params(build_model("resnet20", shortcut="B")).trainable
    assert b - a == (16 * 32 + 2 * 32) + (32 * 64 + 2 * 64)  # two 1x1 convs + their BN


def test_cifar_stem_keeps_small_maps_large_enough():
    model = build_model("resnet18", input_shape=(32, 32, 3), stem="cifar", classes=10)
    assert model.get_layer("stage4_block2_out").output.shape[1:3] == (4, 4)
    assert count_params(model).trainable == TORCHVISION["resnet18"][0] - 7 * 7 * 3 * 64 + 3 * 3 * 3 * 64 - 513 * 990


def test_deterministic_stage_block_names():
    names = [layer.name for layer in build_model("resnet20").layers]
    assert "stem_conv" in names and "stage1_block1_1_conv" in names and "stage3_block3_out" in names
    assert names == [layer.name for layer in build_model("resnet20").layers]


@pytest.mark.parametrize("name, kwargs", [("resnet20", {}), ("resnet18", {"stem": "cifar"})])
def test_forward_shape_no_nan_and_keras_round_trip(name, kwargs, tmp_path):
    model = build_model(name, input_shape=(28, 28, 1), classes=10, **kwargs)
    x = np.random.default_rng(0).normal(size=(2, 28, 28, 1)).astype("float32")
    y = keras.ops.convert_to_numpy(model(x, training=False))
    assert y.shape == (2, 10) and np.isfinite(y).all()
    np.testing.assert_allclose(y.sum(-1), 1.0, rtol=1e-5)  # softmax by default (keras.applications)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded(x, training=False)), y)


def test_include_top_false_and_pooling():
    model = build_model("resnet20", include_top=False, pooling="avg")
    assert model.output.shape == (None, 64)
    assert build_model("resnet20", include_top=False).output.shape == (None, 8, 8, 64)


@pytest.mark.parametrize(
    "name, knob, value",
    [("resnet50", "downsample_in", "3x3"), ("resnet18", "stem", "cifar"), ("resnet20", "shortcut", "B")],
)
def test_every_knob_changes_the_graph(name, knob, value):
    def signature(model):
        return [(layer.name, tuple(layer.output.shape)) for layer in model.layers] + [count_macs(model).total]

    shape = (64, 64, 3)
    assert signature(build_model(name, input_shape=shape)) != signature(build_model(name, input_shape=shape, **{knob: value}))
