"""ResNeXt (Xie et al. 2017, arXiv:1611.05431) against torchvision's parameter counts and the paper's Table 1."""

from __future__ import annotations

import keras
import pytest

from src.errors import ConfigError
from src.layers import GroupedConv2D
from src.models import build_model, get_spec
from src.models.resnet import bottleneck_width
from src.profiling import count_macs, count_params

# torchvision resnext50_32x4d's trainable parameters, exactly (the 101-layer names' counts are checked by
# tests/models/test_reference_figures.py, under -m slow).
TORCHVISION_PARAMS = {"resnext50_32x4d": 25_028_904}


@pytest.fixture(scope="module")
def resnext50():
    keras.backend.clear_session()
    return build_model("resnext50_32x4d")


def test_resnext50_params_equal_torchvision_and_macs_match_table_1(resnext50):
    assert count_params(resnext50).trainable == TORCHVISION_PARAMS["resnext50_32x4d"]
    macs = count_macs(resnext50).total
    assert 4.15e9 <= macs < 4.25e9, f"{macs / 1e9:.3f} G multiply-adds; Table 1 prints 4.2 G"  # 4.230 G


def test_grouped_3x3_is_the_middle_conv_with_the_stride(resnext50):
    conv = resnext50.get_layer("stage2_block1_2_conv")
    assert isinstance(conv, GroupedConv2D) and conv.groups == 32 and conv.strides == (2, 2)
    assert conv.filters == bottleneck_width(128, 32, 4) == 256  # 32 groups × 8 channels at conv3_x
    assert resnext50.get_layer("stage2_block1_1_conv").strides == (1, 1)
    assert resnext50.get_layer("stage4_block3_3_conv").filters == 2048
    assert resnext50.get_layer("stage4_block3_out").output.shape[1:3] == (7, 7)


def test_the_101_names_default_to_their_own_width_and_cardinality():
    assert get_spec("resnext101_32x8d").knobs()["base_width"] == 8
    assert get_spec("resnext101_64x4d").knobs()["cardinality"] == 64
    assert get_spec("resnext50_32x4d").knobs()["cardinality"] == 32


def test_bottleneck_widths_follow_torchvision_layout():
    # width = planes · d / 64 · C: conv2_x 128 (32×4d), 256 (32×8d), 256 (64×4d), 64 for ResNet (1×64d).
    assert [bottleneck_width(64, c, d) for c, d in ((32, 4), (32, 8), (64, 4), (1, 64))] == [128, 256, 256, 64]


def test_cardinality_1_width_64_is_resnet50_v1_5():
    # Table 3's 1×64d point is ResNet-50 (stride on the 3×3): equal parameters, at the small input.
    keras.backend.clear_session()
    small = {"input_shape": (32, 32, 3), "classes": 10, "stem": "small"}
    plain = count_params(build_model("resnext50_32x4d", cardinality=1, base_width=64, **small)).trainable
    keras.backend.clear_session()
    assert plain == count_params(build_model("resnet50", downsample_in="3x3", **small)).trainable


@pytest.mark.parametrize("knob, value", [("cardinality", 0), ("base_width", 2.5), ("cardinality", True),
                                         ("stem", "tiny"), ("downsample_in", "3")])
def test_bad_knob_values_raise_config_error_naming_the_knob(knob, value):
    with pytest.raises(ConfigError, match=knob):
        build_model("resnext50_32x4d", **{knob: value})
