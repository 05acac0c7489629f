"""SqueezeNet family against the paper (Iandola et al. 2016) and torchvision's figures
. The parameters at 224 are the golden table's
(src/models/reference_figures.py); the checks at 224 run under ``-m slow``. Forward pass, round trip,
pooling: tests/models/test_zoo.py."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from src.errors import ConfigError
from src.models import build_model
from src.models.reference_figures import REFERENCE
from src.models.squeezenet import FIRE_MODULES, ceil_max_pool
from src.profiling import count_macs, count_params

# torchvision 0.29.1 weights metadata [R]: "GFLOPS" are MACs (§0, §4: ~0.82 G / ~0.35 G).
TORCHVISION_MACS = {"squeezenet1_0": 0.819e9, "squeezenet1_1": 0.349e9}
# Spatial size of each Fire module's output at 224×224 (conv1 unpadded, Caffe ceil-mode pools).
FIRE_SIZES = {
    "squeezenet1_0": {2: 54, 3: 54, 4: 54, 5: 27, 6: 27, 7: 27, 8: 27, 9: 13},
    "squeezenet1_1": {2: 55, 3: 55, 4: 27, 5: 27, 6: 13, 7: 13, 8: 13, 9: 13},
}
# Table 1: Fire modules' (s1x1, e1x1, e3x3).
TABLE_1 = {2: (16, 64, 64), 3: (16, 64, 64), 4: (32, 128, 128), 5: (32, 128, 128),
           6: (48, 192, 192), 7: (48, 192, 192), 8: (64, 256, 256), 9: (64, 256, 256)}


@pytest.fixture(scope="module")
def imagenet_models():
    keras.backend.clear_session()
    return {name: build_model(name) for name in TORCHVISION_MACS}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(TORCHVISION_MACS))
def test_params_equal_torchvision_and_macs_match(name, imagenet_models):
    model = imagenet_models[name]
    params, macs = count_params(model), count_macs(model).total
    assert params.trainable == REFERENCE[name].params and params.non_trainable == 0
    assert abs(macs / TORCHVISION_MACS[name] - 1) < 0.005, f"{name}: {macs / 1e9:.3f} G"


@pytest.mark.slow
def test_v1_0_is_1_25_m_parameters_and_v1_1_has_2_4x_less_computation(imagenet_models):
    assert f"{count_params(imagenet_models['squeezenet1_0']).trainable / 1e6:.2f}" == "1.25"  # MobileNet Table 9
    ratio = count_macs(imagenet_models["squeezenet1_0"]).total / count_macs(imagenet_models["squeezenet1_1"]).total
    assert abs(ratio - 2.4) < 0.1  # "2.4x less computation" (v1.1 release note); 2.35 at 224 here


@pytest.mark.slow
@pytest.mark.parametrize("name", list(TORCHVISION_MACS))
def test_fire_modules_follow_table_1_and_pool_positions(name, imagenet_models):
    assert FIRE_MODULES == TABLE_1
    model = imagenet_models[name]
    for n, (s1, e1, e3) in TABLE_1.items():
        assert model.get_layer(f"fire{n}_squeeze1x1_conv").kernel.shape[-1] == s1
        assert model.get_layer(f"fire{n}_expand1x1_conv").kernel.shape[:3] == (1, 1, s1)
        assert model.get_layer(f"fire{n}_expand3x3_conv").kernel.shape == (3, 3, s1, e3)
        size = FIRE_SIZES[name][n]
        assert tuple(model.get_layer(f"fire{n}_concat").output.shape[1:]) == (size, size, e1 + e3)
    assert model.get_layer("conv1_conv").kernel.shape == ((7, 7, 3, 96) if name == "squeezenet1_0" else (3, 3, 3, 64))
    assert model.get_layer("conv10").kernel.shape == (1, 1, 512, 1000)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers)


def test_head_is_conv10_relu_global_average_pool():
    model = build_model("squeezenet1_1", input_shape=(64, 64, 3), classes=7, classifier_activation=None)
    names = [layer.name for layer in model.layers]
    assert names[-5:] == ["fire9_concat", "drop9", "conv10", "conv10_relu", "pool10"]
    assert model.get_layer("drop9").rate == 0.5
    x = np.random.default_rng(0).normal(size=(2, 64, 64, 3)).astype("float32")
    y = keras.ops.convert_to_numpy(model(x, training=False))
    assert y.shape == (2, 7) and (y >= 0).all()  # ReLU before the pool, as the paper
    soft = build_model("squeezenet1_1", input_shape=(64, 64, 3), classes=7)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(soft(x)).sum(-1), 1.0, rtol=1e-5)


def test_include_top_false_returns_fire9_features():
    assert build_model("squeezenet1_1", include_top=False).output.shape == (None, 13, 13, 512)


@pytest.mark.parametrize("name", list(TORCHVISION_MACS))
def test_simple_bypass_around_fire_3_5_7_9(name):
    model = build_model(name, bypass="simple")
    adds = sorted(layer.name for layer in model.layers if isinstance(layer, keras.layers.Add))
    assert adds == ["fire3_add", "fire5_add", "fire7_add", "fire9_add"]
    assert count_params(model).trainable == REFERENCE[name].params  # parameter-free (§6)


@pytest.mark.parametrize("name", list(TORCHVISION_MACS))
def test_complex_bypass_adds_1x1_convs_on_fire_2_4_6_8(name):
    model = build_model(name, bypass="complex")
    adds = sorted(layer.name for layer in model.layers if isinstance(layer, keras.layers.Add))
    assert adds == [f"fire{n}_add" for n in range(2, 10)]
    bypass_convs = {layer.name: layer.kernel.shape for layer in model.layers if layer.name.endswith("_bypass_conv")}
    in_channels = 96 if name == "squeezenet1_0" else 64
    expected = {"fire2_bypass_conv": (1, 1, in_channels, 128), "fire4_bypass_conv": (1, 1, 128, 256),
                "fire6_bypass_conv": (1, 1, 256, 384), "fire8_bypass_conv": (1, 1, 384, 512)}
    assert bypass_convs == expected
    extra = sum(shape[2] * shape[3] + shape[3] for shape in expected.values())  # kernels + biases
    assert count_params(model).trainable == REFERENCE[name].params + extra


def test_batch_norm_knob():
    plain = build_model("squeezenet1_1", input_shape=(32, 32, 3), stem="small", classes=10)
    bn = build_model("squeezenet1_1", input_shape=(32, 32, 3), stem="small", classes=10, batch_norm=True)
    bn_layers = [layer for layer in bn.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(bn_layers) == 1 + 3 * 8  # conv1 and the three convs of each Fire module; not conv10
    assert not bn.get_layer("fire2_squeeze1x1_conv").use_bias and bn.get_layer("conv10").use_bias
    channels = sum(int(layer.gamma.shape[0]) for layer in bn_layers)
    # Each BN adds γ, β (trainable) and drops its conv's bias: +1 trainable per channel.
    assert count_params(bn).trainable == count_params(plain).trainable + channels


@pytest.mark.parametrize("name, sizes", [("squeezenet1_0", (32, 16, 8)), ("squeezenet1_1", (32, 16, 8))])
def test_small_stem_keeps_8x8_maps_at_32_and_7x7_at_28(name, sizes):
    model = build_model(name, input_shape=(32, 32, 3), stem="small", classes=10)
    assert model.get_layer("conv1_conv").kernel.shape[:2] == (3, 3) and model.get_layer("conv1_conv").strides == (1, 1)
    assert "pool1" not in {layer.name for layer in model.layers}
    assert model.get_layer("fire2_concat").output.shape[1] == sizes[0]
    assert model.get_layer("fire9_concat").output.shape[1:3] == (sizes[2], sizes[2])
    fashion = build_model(name, input_shape=(28, 28, 1), stem="small", classes=10)
    assert fashion.get_layer("fire9_concat").output.shape[1:3] == (7, 7)
    x = np.random.default_rng(0).normal(size=(2, 28, 28, 1)).astype("float32")
    assert np.isfinite(keras.ops.convert_to_numpy(fashion(x, training=False))).all()


def test_small_squeezenet1_1_macs_at_fashion_mnist_size():
    # What the lead trains: 67.0 M MACs at 28×28×1, 10 classes (≈ 1.6× the CIFAR ResNet-20's 41 M at 32×32).
    model = build_model("squeezenet1_1", input_shape=(28, 28, 1), stem="small", classes=10)
    assert abs(count_macs(model).total / 67.04e6 - 1) < 0.005


def _torch_ceil_max_pool(x: np.ndarray) -> np.ndarray:
    """Reference 3×3/2 max-pool with ceil_mode=True and no padding (windows clipped at the border)."""
    n, h, w, c = x.shape
    oh, ow = -(-(h - 3) // 2) + 1, -(-(w - 3) // 2) + 1
    out = np.empty((n, oh, ow, c), x.dtype)
    for i in range(oh):
        for j in range(ow):
            out[:, i, j] = x[:, 2 * i : 2 * i + 3, 2 * j : 2 * j + 3].max(axis=(1, 2))
    return out


@pytest.mark.parametrize("hw", [(6, 6), (7, 7), (6, 7), (7, 6), (54, 54), (109, 109)])
def test_ceil_max_pool_equals_caffe_ceil_mode(hw):
    x = np.random.default_rng(0).uniform(0, 1, size=(2, *hw, 3)).astype("float32")  # ≥ 0, as after ReLU
    if hw[0] % 2 == hw[1] % 2:
        x -= 0.5  # same parity: no zero padding, so negative inputs pool exactly too
    inputs = keras.Input(shape=x.shape[1:])
    model = keras.Model(inputs, ceil_max_pool(inputs, "pool"))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(model(x)), _torch_ceil_max_pool(x))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"bypass": "residual"}, "bypass='residual' is not valid"),
        ({"batch_norm": "yes"}, "batch_norm='yes' is not valid"),
        ({"stem": "cifar"}, "stem='cifar' is now spelled 'small'"),
        ({"classes": 0}, "classes must be a positive integer"),
        ({"include_top": False, "pooling": "mean"}, "pooling='mean' is not valid"),
        ({"input_shape": (28, 28, 1)}, "smaller than the network's minimum"),
        ({"dropout": 0.2}, "has no knob 'dropout'"),
    ],
)
def test_bad_knob_values_raise_clear_errors(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        build_model("squeezenet1_1", **kwargs)
