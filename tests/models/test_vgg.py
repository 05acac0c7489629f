"""VGG (Simonyan & Zisserman 2015) against Table 1 / Table 2, keras.applications' exact counts and the
published multiply-adds. The paper-size builds (130–144 M
parameters) run under ``-m slow``; the parameters and multiply-adds of VGG-16/19 at 224 are in the one
golden table (src/models/reference_figures.py); forward pass, round trip, pooling: tests/models/test_zoo.py."""

from __future__ import annotations

import keras
import pytest

from src.errors import ConfigError
from src.models import build_model
from src.models.reference_figures import REFERENCE
from src.profiling import count_macs, count_params

# Table 2 [P], millions, as printed (A, B, D, E).
TABLE_2 = {"vgg11": 133, "vgg13": 133, "vgg16": 138, "vgg19": 144}
# torchvision's "GFLOPS" (MAC scale) [R] (§3.3).
TORCHVISION_MACS = {"vgg16": 15.470e9, "vgg19": 19.632e9}
# Table 1: 3×3 convs per stage (widths 64, 128, 256, 512, 512).
TABLE_1 = {"vgg11": (1, 1, 2, 2, 2), "vgg13": (2, 2, 2, 2, 2), "vgg16": (2, 2, 3, 3, 3), "vgg19": (2, 2, 4, 4, 4)}
WIDTHS = (64, 128, 256, 512, 512)
CONV_ONLY_VGG16 = 14_714_688  # keras.applications VGG16(include_top=False) [C] (§3.2)


def bn_params(name: str) -> int:
    """gamma + beta of one BN per conv (trainable); the moving statistics are non-trainable."""
    return sum(2 * w * n for w, n in zip(WIDTHS, TABLE_1[name]))


@pytest.mark.slow
@pytest.mark.parametrize("name", list(TABLE_2))
def test_imagenet_params_and_macs(name):
    keras.backend.clear_session()
    model = build_model(name)
    params, macs = count_params(model).trainable, count_macs(model).total
    assert round(params / 1e6) == TABLE_2[name], f"{name}: {params:,}"
    if name in TORCHVISION_MACS:
        assert abs(macs / TORCHVISION_MACS[name] - 1) < 0.005
    # Stage outputs of Table 1 at 224×224: 112, 56, 28, 14, 7.
    assert [model.get_layer(f"stage{i}_pool").output.shape[1:] for i in range(1, 6)] == [
        (112, 112, 64), (56, 56, 128), (28, 28, 256), (14, 14, 512), (7, 7, 512)
    ]
    assert [model.get_layer(f"fc{i}").units for i in (6, 7, 8)] == [4096, 4096, 1000]
    del model


@pytest.mark.parametrize("name", list(TABLE_1))
def test_table_1_convs_per_stage_and_bn_variant(name):
    keras.backend.clear_session()
    plain = build_model(name, input_shape=(32, 32, 3), include_top=False)  # the parameters of any input size
    bn = build_model(f"{name}_bn", input_shape=(32, 32, 3), include_top=False)
    for model, with_bn in ((plain, False), (bn, True)):
        convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
        per_stage = [sum(layer.name.startswith(f"stage{i}_") for layer in convs) for i in range(1, 6)]
        assert tuple(per_stage) == TABLE_1[name]
        assert [layer.filters for layer in convs] == [w for w, n in zip(WIDTHS, TABLE_1[name]) for _ in range(n)]
        assert all(layer.kernel_size == (3, 3) and layer.strides == (1, 1) and layer.use_bias for layer in convs)
        n_bn = sum(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers)
        assert n_bn == (len(convs) if with_bn else 0)
    # torchvision's vgg*_bn keeps the conv biases: BN adds exactly gamma and beta per channel; MACs unchanged.
    assert count_params(bn).trainable - count_params(plain).trainable == bn_params(name)
    assert count_macs(bn).total == count_macs(plain).total
    if name == "vgg16":
        assert count_params(plain).trainable == CONV_ONLY_VGG16


@pytest.mark.slow
def test_vgg16_bn_total_equals_vgg16_plus_batch_norm():
    # 138,365,992: keras.applications' VGG16 + 2 × 4,224 BN channels (torchvision's vgg16_bn design, biases kept).
    keras.backend.clear_session()
    model = build_model("vgg16_bn")
    assert count_params(model).trainable == REFERENCE["vgg16"].params + bn_params("vgg16") == 138_365_992
    conv = model.get_layer("stage1_block1_conv")
    names = [layer.name for layer in model.layers]
    assert names.index("stage1_block1_conv") + 1 == names.index("stage1_block1_bn")
    assert names.index("stage1_block1_bn") + 1 == names.index("stage1_block1_relu")
    assert conv.use_bias


@pytest.mark.parametrize("shape, final", [((28, 28, 1), 3), ((32, 32, 3), 4)])
def test_small_variant_gap_head_and_three_pools(shape, final):
    model = build_model("vgg16_bn", input_shape=shape, classes=10, head="gap", pools=3)
    assert model.get_layer("stage5_block3_relu").output.shape[1:] == (final, final, 512)
    assert "stage4_pool" not in [layer.name for layer in model.layers]
    assert model.get_layer("head_fc").count_params() == 512 * 10 + 10
    # conv params of vgg16 with a shape[2]-channel input, + BN, + the single FC.
    convs = CONV_ONLY_VGG16 - 3 * 3 * 3 * 64 + 3 * 3 * shape[2] * 64
    assert count_params(model).trainable == convs + bn_params("vgg16") + 5130


def test_pools_knob_counts_from_stage_1():
    model = build_model("vgg11", input_shape=(64, 64, 3), pools=4, include_top=False)
    pools = [layer.name for layer in model.layers if isinstance(layer, keras.layers.MaxPooling2D)]
    assert pools == ["stage1_pool", "stage2_pool", "stage3_pool", "stage4_pool"]
    assert model.output.shape[1:] == (4, 4, 512)


def test_fc_head_flattens_the_small_map():
    model = build_model("vgg11", input_shape=(32, 32, 3), classes=10, head="fc", pools=3)
    assert model.get_layer("fc6").count_params() == 4 * 4 * 512 * 4096 + 4096


def test_width_multiplier_scales_conv_widths_only():
    model = build_model("vgg11", input_shape=(32, 32, 3), classes=10, head="fc", pools=5, width_multiplier=0.25)
    convs = [layer.filters for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert convs == [16, 32, 64, 64, 128, 128, 128, 128]
    assert model.get_layer("fc6").units == 4096


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"head": "cifar"}, "head='cifar'"),
        ({"pools": 6}, "pools=6"),
        ({"width_multiplier": -1.0}, "width_multiplier=-1.0"),
        ({"input_shape": (28, 28, 1)}, "minimum 32x32"),
        ({"input_shape": (7, 7, 1), "pools": 3}, "minimum 8x8"),
        ({"classes": 0}, "classes"),
        ({"depth": 16}, "no knob 'depth'"),
    ],
)
def test_bad_knob_values_raise_clear_errors(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        build_model("vgg16", **kwargs)
