"""DenseNet family against the paper (Huang et al. 2017) and keras.applications / torchvision figures
. Parameter counts at 224: the one golden table
(src/models/reference_figures.py); the paper-size builds run under ``-m slow``. Forward pass, round
trip, pooling and names: tests/models/test_zoo.py."""

from __future__ import annotations

import keras
import pytest

from src.errors import ConfigError
from src.models import build_model
from src.models.densenet import cifar_densenet
from src.models.reference_figures import REFERENCE
from src.profiling import count_macs, count_params

# torchvision "GFLOPS" (multiply-adds) at 224 (§3.3 [R]); the parameters are the golden table's.
TORCHVISION_MACS = {"densenet121": 2.834e9, "densenet169": 3.360e9, "densenet201": 4.291e9}
# keras.applications DenseNet121(include_top=False) total parameters (§3.2).
KERAS_DENSENET121_NO_TOP_TOTAL = 7_037_504
# Table 2 (= the authors' README) parameters at the printed precision: (depth, k, bottleneck, θ) -> M.
TABLE_2 = {
    (40, 12, False, 1.0): "1.0",
    (100, 12, False, 1.0): "7.0",
}  # DenseNet-BC (L=100, k=12), 0.8 M: test_bc_100_12_structure
TABLE_2_SLOW = {
    (100, 24, False, 1.0): "27.2",
    (250, 24, True, 0.5): "15.3",
    (190, 40, True, 0.5): "25.6",
}


@pytest.fixture(scope="module")
def densenet121():
    keras.backend.clear_session()
    return build_model("densenet121")


@pytest.fixture(scope="module")
def bc_100_12():
    return build_model("densenet_bc_100_12")


def _check_imagenet(model, name):
    params, macs = count_params(model), count_macs(model).total
    assert params.trainable == REFERENCE[name].params
    assert abs(macs / TORCHVISION_MACS[name] - 1) < 0.005, f"{name}: {macs / 1e9:.3f} G vs {TORCHVISION_MACS[name] / 1e9} G"


@pytest.mark.slow
def test_densenet121_params_equal_keras_and_macs_match_torchvision(densenet121):
    _check_imagenet(densenet121, "densenet121")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["densenet169", "densenet201"])
def test_densenet169_201_params_equal_keras_and_macs_match_torchvision(name):
    keras.backend.clear_session()
    _check_imagenet(build_model(name), name)


@pytest.mark.slow
def test_densenet121_without_top_equals_keras_applications(densenet121):
    head = densenet121.get_layer("head_fc")
    assert head.kernel.shape == (1024, 1000)
    assert count_params(densenet121).total - head.count_params() == KERAS_DENSENET121_NO_TOP_TOTAL


@pytest.mark.slow
def test_densenet121_stage_channels_and_sizes_follow_table_1(densenet121):
    # Table 1: blocks of 6, 12, 24, 16 layers at 56, 28, 14, 7; k=32, θ=0.5: 64+6k=256 -> 128 -> 512 -> 256 -> ...
    def shape(layer):
        return tuple(densenet121.get_layer(layer).output.shape[1:])

    assert shape("stem_pool") == (56, 56, 64)
    assert shape("stage1_block6_concat") == (56, 56, 256)
    assert shape("transition1_pool") == (28, 28, 128)
    assert shape("stage2_block12_concat") == (28, 28, 512)
    assert shape("transition2_pool") == (14, 14, 256)
    assert shape("stage3_block24_concat") == (14, 14, 1024)
    assert shape("transition3_pool") == (7, 7, 512)
    assert shape("stage4_block16_concat") == (7, 7, 1024)
    assert shape("stage1_block1_1_conv")[-1] == 4 * 32  # bottleneck 4k
    names = {layer.name for layer in densenet121.layers}
    assert "stage4_block17_concat" not in names and "transition4_bn" not in names


@pytest.mark.parametrize("key", list(TABLE_2))
def test_cifar_params_match_table_2(key):
    depth, k, bottleneck, compression = key
    keras.backend.clear_session()
    model = cifar_densenet(depth=depth, growth_rate=k, bottleneck=bottleneck, compression=compression)
    trainable = count_params(model).trainable
    assert f"{trainable / 1e6:.1f}" == TABLE_2[key], f"{key}: {trainable:,}"


@pytest.mark.slow
@pytest.mark.parametrize("key", list(TABLE_2_SLOW))
def test_cifar_params_match_table_2_large(key):
    depth, k, bottleneck, compression = key
    keras.backend.clear_session()
    model = cifar_densenet(depth=depth, growth_rate=k, bottleneck=bottleneck, compression=compression)
    assert f"{count_params(model).trainable / 1e6:.1f}" == TABLE_2_SLOW[key]


def test_bc_100_12_structure(bc_100_12):
    assert count_params(bc_100_12).trainable == 769_162  # Table 2: "0.8 M"
    names = [layer.name for layer in bc_100_12.layers]
    for i in (1, 2, 3):  # (100 - 4) / 6 = 16 bottleneck layers per block
        assert f"stage{i}_block16_concat" in names and f"stage{i}_block17_concat" not in names
    assert "transition3_bn" not in names and "stage4_block1_concat" not in names

    def shape(layer):
        return tuple(bc_100_12.get_layer(layer).output.shape[1:])

    assert shape("stem_conv") == (32, 32, 24)  # 2k
    assert shape("stage1_block16_concat") == (32, 32, 24 + 16 * 12)
    assert shape("transition1_pool") == (16, 16, 108)
    assert shape("transition2_pool") == (8, 8, 150)
    assert shape("final_relu") == (8, 8, 150 + 16 * 12)
    assert abs(count_macs(bc_100_12).total / 287.93e6 - 1) < 0.005


def test_small_stem_keeps_final_maps_and_swaps_only_the_stem():
    # 28 -> 14 -> 7 -> 3 over the three transitions (32×32 leaves 4×4).
    small = build_model("densenet121", input_shape=(28, 28, 1), stem="small")
    assert small.get_layer("stage4_block16_concat").output.shape[1:3] == (3, 3)
    assert small.get_layer("stem_conv").kernel.shape == (3, 3, 1, 64)
    names = {layer.name for layer in small.layers}
    assert not {"stem_bn", "stem_relu", "stem_pool"} & names
    # The 7×7 stem conv and its BN become a 3×3 conv; everything else is unchanged.
    assert count_params(small).trainable == REFERENCE["densenet121"].params - 7 * 7 * 3 * 64 + 3 * 3 * 1 * 64 - 2 * 64
    with pytest.raises(ConfigError, match="smaller than the network's minimum"):
        build_model("densenet121", input_shape=(28, 28, 1))


def test_bc_100_12_at_fashion_mnist_size():
    model = build_model("densenet_bc_100_12", input_shape=(28, 28, 1), classes=10)
    assert model.get_layer("final_relu").output.shape[1:3] == (7, 7)  # its forward pass: test_zoo.py


# Knob behaviour on the shallow DenseNet-BC (L=40: 6 bottleneck layers per block), cheap to build.
def test_growth_rate_and_compression_knobs():
    k24 = cifar_densenet(depth=40, growth_rate=24)
    assert k24.get_layer("stem_conv").output.shape[-1] == 48
    assert k24.get_layer("stage1_block1_1_conv").output.shape[-1] == 96
    assert k24.get_layer("stage1_block1_2_conv").output.shape[-1] == 24
    no_compression = cifar_densenet(depth=40, compression=1.0)
    assert no_compression.get_layer("transition1_pool").output.shape[-1] == 24 + 6 * 12
    quarter = cifar_densenet(depth=40, compression=0.25)
    assert quarter.get_layer("transition1_pool").output.shape[-1] == (24 + 6 * 12) // 4


def test_without_bottleneck_depth_is_kept():
    # L=40 without bottleneck: (40 - 4) / 3 = 12 single-conv layers per block (6 with), 16-filter stem (§4).
    model = cifar_densenet(depth=40, bottleneck=False)
    names = {layer.name for layer in model.layers}
    assert "stage3_block12_concat" in names and "stage3_block13_concat" not in names
    assert not any(name.endswith("_1_conv") for name in names)
    assert model.get_layer("stem_conv").output.shape[-1] == 16
    assert model.get_layer("stage1_block1_2_conv").kernel.shape == (3, 3, 16, 12)


def test_dropout_after_every_conv_but_the_stem():
    model = cifar_densenet(depth=40, dropout_rate=0.2)
    convs = [layer.name for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    drops = [layer for layer in model.layers if isinstance(layer, keras.layers.Dropout)]
    assert len(drops) == len(convs) - 1 == 3 * 6 * 2 + 2
    assert all(layer.rate == 0.2 for layer in drops)


@pytest.mark.parametrize(
    "name, kwargs, match",
    [
        ("densenet121", {"stem": "cifar"}, "stem='cifar' is now spelled 'small'"),
        ("densenet121", {"growth_rate": 0}, "growth_rate=0 must be a positive integer"),
        ("densenet121", {"growth_rate": 12.5}, "growth_rate=12.5"),
        ("densenet121", {"compression": 0.0}, r"compression=0.0 must be in \(0, 1\]"),
        ("densenet_bc_100_12", {"compression": 1.5}, r"compression=1.5 must be in \(0, 1\]"),
        ("densenet_bc_100_12", {"dropout_rate": 1.0}, r"dropout_rate=1.0 must be in \[0, 1\)"),
        ("densenet_bc_100_12", {"bottleneck": "yes"}, "bottleneck='yes' is not valid"),
        ("densenet_bc_100_12", {"bottleneck_width": 4}, "has no knob 'bottleneck_width'"),
    ],
)
def test_bad_knob_values_raise_clear_errors(name, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        build_model(name, **kwargs)


def test_bad_cifar_depth_names_the_valid_forms():
    with pytest.raises(ConfigError, match=r"must be 6n\+4"):
        cifar_densenet(depth=101)
    with pytest.raises(ConfigError, match=r"must be 3n\+4"):
        cifar_densenet(depth=102, bottleneck=False)
