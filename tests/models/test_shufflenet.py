"""ShuffleNet v1 (Zhang et al. 2018) and v2 (Ma et al. 2018) against the papers' tables and torchvision's
exact counts (the ShuffleNet v1 and v2 papers' tables, torchvision)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from src.errors import ConfigError
from src.layers import ChannelShuffle, GroupedConv2D
from src.models import build_model
from src.models.shufflenet_v1 import STAGE_CHANNELS, scaled_channels
from src.models.shufflenet_v2 import ChannelSplit
from src.profiling import count_macs, count_params

# ShuffleNet v1 Table 1 [P]: complexity (MFLOPs = multiply-adds) at 1× per groups g.
V1_TABLE_1_MACS = {1: 143e6, 2: 140e6, 3: 137e6, 4: 133e6, 8: 137e6}
# (g, width): Table 2 levels for g = 3, 38 M (0.5×) and 13 M (0.25×) [P]; Table 5: 1.5× g=3 292 M,
# 2× g=3 524 M, 0.5× g=4 38 M [P]. (0.25× g=8, Table 4's "13 M" level, builds 12.4 M: not tested.)
V1_WIDTH_MACS = {(3, 0.25): 13e6, (3, 0.5): 38e6, (3, 1.5): 292e6, (3, 2.0): 524e6, (4, 0.5): 38e6}
V1_MMPRETRAIN_PARAMS = 1.87e6  # 1× g=3, open-mmlab/mmpretrain model zoo [R] (§2.14)
# ShuffleNet v2: torchvision 0.29.1 trainable params and "GFLOPS" (MAC scale) [R] (§3.3); paper Table 5
# weights (M) and FLOPs (multiply-adds) [P] (§2.15).
V2_TORCHVISION = {0.5: (1_366_792, "0.040"), 1.0: (2_278_604, "0.145"), 1.5: (3_503_624, "0.296"), 2.0: (7_393_996, "0.583")}
V2_PAPER = {0.5: ("1.4", 41e6), 1.0: ("2.3", 146e6), 1.5: ("3.5", 299e6), 2.0: ("7.4", 591e6)}
V2_STAGES = {0.5: (48, 96, 192, 1024), 1.0: (116, 232, 464, 1024), 1.5: (176, 352, 704, 1024), 2.0: (244, 488, 976, 2048)}


def _stage_outputs(model, last_op: str = "out", stages=(2, 3, 4), repeats=(4, 8, 4)):
    return [tuple(model.get_layer(f"stage{i}_block{n}_{last_op}").output.shape[1:]) for i, n in zip(stages, repeats)]


@pytest.fixture(scope="module")
def v1_by_groups():
    keras.backend.clear_session()
    return {g: build_model("shufflenet_v1", groups=g) for g in V1_TABLE_1_MACS}


# ---------------------------------------------------------------- ShuffleNet v1


@pytest.mark.slow
@pytest.mark.parametrize("groups", list(V1_TABLE_1_MACS))
def test_v1_table_1_channels_and_complexity(groups, v1_by_groups):
    model = v1_by_groups[groups]
    channels = STAGE_CHANNELS[groups]
    assert _stage_outputs(model) == [(28, 28, channels[0]), (14, 14, channels[1]), (7, 7, channels[2])]
    macs = count_macs(model).total
    assert abs(macs / V1_TABLE_1_MACS[groups] - 1) < 0.02, f"g={groups}: {macs / 1e6:.1f} M vs Table 1"


@pytest.mark.slow
def test_v1_params_match_mmpretrain(v1_by_groups):
    params = count_params(v1_by_groups[3]).trainable
    assert params == 1_865_728
    assert abs(params / V1_MMPRETRAIN_PARAMS - 1) < 0.005


@pytest.mark.slow  # paper-size builds
@pytest.mark.parametrize("groups, width", list(V1_WIDTH_MACS))
def test_v1_width_multiplier_complexity(groups, width):
    keras.backend.clear_session()
    macs = count_macs(build_model("shufflenet_v1", groups=groups, width_multiplier=width)).total
    expected = V1_WIDTH_MACS[groups, width]
    assert abs(macs / expected - 1) < 0.03, f"g={groups} {width}x: {macs / 1e6:.1f} M vs {expected / 1e6} M"


def test_v1_scaled_channels():
    # Every Table 1 width at 1×; s× rounds to multiples of 4g; the stem follows the released models.
    for g, widths in STAGE_CHANNELS.items():
        assert scaled_channels(g, 1.0) == (24, widths)
    assert scaled_channels(3, 0.5) == (12, (120, 240, 480))
    assert scaled_channels(3, 1.5) == (24, (360, 720, 1440))
    assert scaled_channels(3, 2.0) == (48, (480, 960, 1920))
    assert scaled_channels(4, 0.25) == (12, (64, 144, 272))  # 68 -> 64, 136 -> 144 (tie up)
    assert scaled_channels(4, 0.5) == (12, (144, 272, 544))
    assert scaled_channels(8, 0.5) == (8, (192, 384, 768))
    for g in STAGE_CHANNELS:
        for s in (0.25, 0.5, 1.0, 1.5, 2.0):
            stem, widths = scaled_channels(g, s)
            assert stem % g == 0 and all(w % (4 * g) == 0 for w in widths), (g, s)


@pytest.mark.slow
def test_v1_unit_structure(v1_by_groups):
    model = v1_by_groups[3]
    # §3.3: no group conv on the first pointwise layer of stage 2, so no shuffle there either.
    assert model.get_layer("stage2_block1_1_gconv").groups == 1
    assert "stage2_block1_shuffle" not in [layer.name for layer in model.layers]
    for name in ("stage2_block2", "stage3_block1", "stage4_block4"):
        assert model.get_layer(f"{name}_1_gconv").groups == 3
        assert model.get_layer(f"{name}_3_gconv").groups == 3
        assert model.get_layer(f"{name}_shuffle").groups == 3
    # Bottleneck = out/4; a stride-2 unit's branch outputs out - in and concats a 3×3/2 average pool.
    assert model.get_layer("stage3_block1_1_gconv").filters == 480 // 4
    assert model.get_layer("stage3_block1_3_gconv").filters == 480 - 240
    assert model.get_layer("stage2_block1_3_gconv").filters == 240 - 24
    assert isinstance(model.get_layer("stage3_block1_shortcut_pool"), keras.layers.AveragePooling2D)
    grouped = [layer for layer in model.layers if isinstance(layer, GroupedConv2D)]
    assert len(grouped) == 2 * (4 + 8 + 4)


def test_v1_shuffle_ablation_removes_only_the_shuffles():
    keras.backend.clear_session()
    on = build_model("shufflenet_v1", input_shape=(32, 32, 3), stem="small", classes=10)
    off = build_model("shufflenet_v1", input_shape=(32, 32, 3), stem="small", classes=10, shuffle=False)
    shuffles = [layer for layer in on.layers if isinstance(layer, ChannelShuffle)]
    assert len(shuffles) == 15  # 16 units, none in stage 2's first (ungrouped) unit
    assert not any(isinstance(layer, ChannelShuffle) for layer in off.layers)
    assert count_params(on) == count_params(off) and count_macs(on).total == count_macs(off).total


@pytest.mark.parametrize("shape", [(32, 32, 3), (28, 28, 1)])
def test_v1_small_stem_keeps_4x4_maps(shape):
    keras.backend.clear_session()
    model = build_model("shufflenet_v1", input_shape=shape, classes=10, stem="small")
    assert model.get_layer("stage4_block4_out").output.shape[1:] == (4, 4, 960)
    assert "stem_pool" not in [layer.name for layer in model.layers]


@pytest.mark.parametrize(
    "knobs",
    [{"groups": 5}, {"width_multiplier": 0.75}, {"shuffle": "yes"}, {"stem": "tiny"}],
)
def test_v1_bad_knobs_raise_config_errors(knobs):
    knob, value = next(iter(knobs.items()))
    with pytest.raises(ConfigError, match=knob):
        build_model("shufflenet_v1", **knobs)


# ---------------------------------------------------------------- ShuffleNet v2


@pytest.mark.slow  # paper-size builds
@pytest.mark.parametrize("width", list(V2_TORCHVISION))
def test_v2_params_equal_torchvision_and_macs_match_paper(width):
    keras.backend.clear_session()
    model = build_model("shufflenet_v2", width_multiplier=width)
    params, macs = count_params(model).trainable, count_macs(model).total
    assert params == V2_TORCHVISION[width][0]
    assert f"{params / 1e6:.1f}" == V2_PAPER[width][0]
    assert f"{macs / 1e9:.3f}" == V2_TORCHVISION[width][1]
    assert abs(macs / V2_PAPER[width][1] - 1) < 0.02, f"{width}x: {macs / 1e6:.1f} M vs paper"
    *stages, last = V2_STAGES[width]
    assert _stage_outputs(model, "shuffle") == [(28, 28, stages[0]), (14, 14, stages[1]), (7, 7, stages[2])]
    assert model.get_layer("conv5_relu").output.shape[1:] == (7, 7, last)


def test_v2_unit_structure_and_small_stem_at_fashion_mnist_size():
    keras.backend.clear_session()
    model = build_model("shufflenet_v2", input_shape=(28, 28, 1), stem="small", classes=10)
    names = [layer.name for layer in model.layers]
    # stride-1 units split the channels and transform one half; stride-2 units have two branches.
    assert "stage2_block2_split" in names and "stage2_block1_split" not in names
    assert "stage2_block1_proj_1_dwconv" in names and "stage2_block2_proj_1_dwconv" not in names
    assert "stem_pool" not in names
    assert model.get_layer("stage3_block2_1_conv").input.shape[-1] == 232 // 2
    assert all(model.get_layer(f"stage{i}_block1_shuffle").groups == 2 for i in (2, 3, 4))
    assert model.get_layer("stage4_block4_shuffle").output.shape[1:] == (4, 4, 464)  # its forward pass: test_zoo.py


def test_channel_split_halves_in_order():
    x = np.arange(2 * 1 * 1 * 6, dtype="float32").reshape(2, 1, 1, 6)
    left, right = (keras.ops.convert_to_numpy(t) for t in ChannelSplit()(x))
    np.testing.assert_array_equal(left, x[..., :3])
    np.testing.assert_array_equal(right, x[..., 3:])
    with pytest.raises(ConfigError, match="even"):
        ChannelSplit()(np.zeros((1, 1, 1, 5), "float32"))


@pytest.mark.parametrize("knobs", [{"width_multiplier": 0.25}, {"stem": "big"}])
def test_v2_bad_knobs_raise_config_errors(knobs):
    with pytest.raises(ConfigError, match=next(iter(knobs))):
        build_model("shufflenet_v2", **knobs)
