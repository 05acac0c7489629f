"""AlexNet (Krizhevsky et al. 2012) against the exact Caffe two-group count, Deep Compression's per-layer
table and the published multiply-adds. The paper-size (227×227,
61 M parameters) builds run under ``-m slow``; forward pass, round trip and pooling: tests/models/test_zoo.py."""

from __future__ import annotations

import keras
import pytest

from src.errors import ConfigError
from src.layers import GroupedConv2D
from src.layers.lrn import LocalResponseNormalization
from src.models import build_model
from src.models.reference_figures import REFERENCE
from src.profiling import count_macs, count_params

EXACT_MACS = 724_406_816  # [C] at 227×227: the golden table's 724.4 M (src/models/reference_figures.py) to the unit
PAPER_MACS = 720e6  # [P] MobileNet Table 9's AlexNet row
# Deep Compression Table 4 [P], per layer (weights + biases), printed to 1 K / 1 M.
DEEP_COMPRESSION = {
    "conv1": (35, 1e3), "conv2": (307, 1e3), "conv3": (885, 1e3), "conv4": (663, 1e3), "conv5": (442, 1e3),
    "fc6": (38, 1e6), "fc7": (17, 1e6), "fc8": (4, 1e6),
}
# Exact per-layer counts from Figure 2's kernel shapes (k×k×C_in/groups×C_out + C_out).
PER_LAYER = {
    "conv1": 11 * 11 * 3 * 96 + 96,
    "conv2": 5 * 5 * 48 * 256 + 256,
    "conv3": 3 * 3 * 256 * 384 + 384,
    "conv4": 3 * 3 * 192 * 384 + 384,
    "conv5": 3 * 3 * 192 * 256 + 256,
    "fc6": 6 * 6 * 256 * 4096 + 4096,
    "fc7": 4096 * 4096 + 4096,
    "fc8": 4096 * 1000 + 1000,
}
CONV_PARAMS = sum(v for k, v in PER_LAYER.items() if k.startswith("conv"))


@pytest.fixture(scope="module")
def paper_model():
    keras.backend.clear_session()
    return build_model("alexnet")


@pytest.mark.slow
def test_exact_parameter_count_and_macs(paper_model):
    assert count_params(paper_model).trainable == REFERENCE["alexnet"].params == sum(PER_LAYER.values())
    macs = count_macs(paper_model).total
    assert macs == EXACT_MACS
    assert abs(macs / PAPER_MACS - 1) < 0.01


@pytest.mark.slow
def test_per_layer_parameters_match_deep_compression_table_4(paper_model):
    for layer, (printed, unit) in DEEP_COMPRESSION.items():
        count = paper_model.get_layer(layer).count_params()
        assert count == PER_LAYER[layer], layer
        assert abs(count - printed * unit) < unit, f"{layer}: {count:,} vs printed {printed} × {unit:g}"


@pytest.mark.slow
def test_figure_2_map_sizes_towers_and_lrn(paper_model):
    shapes = {name: paper_model.get_layer(name).output.shape[1:] for name in ("conv1", "pool1", "conv2", "pool2", "conv5", "pool5")}
    assert shapes == {
        "conv1": (55, 55, 96), "pool1": (27, 27, 96), "conv2": (27, 27, 256),
        "pool2": (13, 13, 256), "conv5": (13, 13, 256), "pool5": (6, 6, 256),
    }
    grouped = {layer.name for layer in paper_model.layers if isinstance(layer, GroupedConv2D)}
    assert grouped == {"conv2", "conv4", "conv5"}
    assert all(paper_model.get_layer(n).groups == 2 for n in grouped)
    assert all(paper_model.get_layer(n).use_bias for n in ("conv1", "conv2", "conv3", "conv4", "conv5"))
    lrns = [layer for layer in paper_model.layers if isinstance(layer, LocalResponseNormalization)]
    assert [layer.name for layer in lrns] == ["conv1_lrn", "conv2_lrn"]
    assert all((lrn.k, lrn.size, lrn.alpha, lrn.beta) == (2.0, 5, 1e-4, 0.75) for lrn in lrns)
    names = [layer.name for layer in paper_model.layers]
    assert names.index("conv1_relu") < names.index("conv1_lrn") < names.index("pool1")  # LRN after the ReLU
    pool = paper_model.get_layer("pool1")
    assert pool.pool_size == (3, 3) and pool.strides == (2, 2)  # overlapping pooling
    assert [paper_model.get_layer(f"fc{i}_dropout").rate for i in (6, 7)] == [0.5, 0.5]


def test_single_tower_variant_has_dense_conv2_conv4_conv5():
    two = build_model("alexnet", include_top=False)
    one = build_model("alexnet", include_top=False, groups=1)
    assert count_params(two).trainable == CONV_PARAMS
    extra = 5 * 5 * 48 * 256 + 3 * 3 * 192 * 384 + 3 * 3 * 192 * 256  # the other tower's half of each kernel
    assert count_params(one).trainable == CONV_PARAMS + extra
    assert not any(isinstance(layer, GroupedConv2D) for layer in one.layers)
    assert count_macs(one).total - count_macs(two).total == 27 * 27 * 5 * 5 * 48 * 256 + 13 * 13 * 9 * 192 * (384 + 256)


def test_non_overlapping_pooling_keeps_the_map_sizes():
    model = build_model("alexnet", include_top=False, pool_size=2)
    assert [model.get_layer(f"pool{i}").output.shape[1] for i in (1, 2, 5)] == [27, 13, 6]
    assert model.get_layer("pool1").pool_size == (2, 2)
    assert count_params(model).trainable == CONV_PARAMS


def test_lrn_knob_removes_both_normalisations():
    model = build_model("alexnet", input_shape=(32, 32, 3), stem="small", lrn=False, include_top=False)
    assert not any(isinstance(layer, LocalResponseNormalization) for layer in model.layers)


@pytest.mark.parametrize("shape, final", [((28, 28, 1), 2), ((32, 32, 3), 3)])
def test_small_stem_keeps_resolution_and_adapts_the_head(shape, final):
    model = build_model("alexnet", input_shape=shape, classes=10, stem="small", fc_width=512)
    conv1 = model.get_layer("conv1")
    assert conv1.kernel_size == (3, 3) and conv1.strides == (1, 1) and conv1.output.shape[1] == shape[0]
    assert model.get_layer("pool5").output.shape[1:] == (final, final, 256)
    assert model.get_layer("fc6").count_params() == final * final * 256 * 512 + 512
    assert count_params(model).trainable == (
        CONV_PARAMS - PER_LAYER["conv1"] + 3 * 3 * shape[2] * 96 + 96
        + (final * final * 256 * 512 + 512) + (512 * 512 + 512) + (512 * 10 + 10)
    )


def test_paper_stem_needs_67_pixels_and_differs_from_the_small_stem():
    # conv1 11×11/4 and three 3×3/2 pools leave nothing of a 32×32 input: the paper stem cannot run there.
    paper = build_model("alexnet", input_shape=(67, 67, 3), include_top=False)
    small = build_model("alexnet", input_shape=(67, 67, 3), include_top=False, stem="small")
    assert paper.output.shape[1:] == (1, 1, 256) and small.output.shape[1:] == (7, 7, 256)
    assert paper.get_layer("conv1").kernel_size == (11, 11) and small.get_layer("conv1").kernel_size == (3, 3)


def test_width_multiplier_scales_the_conv_widths():
    model = build_model("alexnet", input_shape=(32, 32, 3), stem="small", width_multiplier=0.5, include_top=False)
    assert [model.get_layer(f"conv{i}").output.shape[-1] for i in range(1, 6)] == [48, 128, 192, 192, 128]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"groups": 3}, "groups=3"),
        ({"groups": 0}, "valid"),
        ({"stem": "cifar"}, "stem='cifar'"),
        ({"pool_size": 4}, "pool_size=4"),
        ({"fc_width": 0}, "fc_width=0"),
        ({"lrn": "yes"}, "lrn='yes'"),
        ({"width_multiplier": 0}, "width_multiplier=0"),
        ({"input_shape": (64, 64, 3)}, "minimum 67x67"),
        ({"input_shape": (14, 14, 1), "stem": "small"}, "minimum 15x15"),
        ({"classes": 0}, "classes"),
    ],
)
def test_bad_knob_values_raise_clear_errors(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        build_model("alexnet", **kwargs)
