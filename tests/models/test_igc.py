"""IGC (Zhang et al. 2017) against the authors' README table and released model
(Zhang et al. 2017, arXiv:1707.02725) and the block's defining properties (§3 of the paper)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from src.errors import ConfigError
from src.layers import ChannelShuffle, GroupedConv2D, set_grouped_conv_implementation
from src.models import build_model
from src.models.igc import NarrowGroupedConv2D, igc_block
from src.profiling import count_macs, count_params

# hellozting/InterleavedGroupConvolutions README [R]: IGC-L100M2+Ident. 8.61 M params, 1.3 G FLOPs (MAC scale).
L100M2_README = (8.61e6, "1.3")
# The released symbol models/IGC-L100M2_ImageNet/*-symbol.json, counted here [C]: every argument
# (conv kernels, BN gamma/beta, FC weight + bias) and the multiply-adds of its convs and FC at 224×224.
L100M2_SYMBOL = (8_637_900, 1_264_780_800)


def igc_params_formula(width: int, primary: int, secondary: int, kernel_area: int = 9) -> int:
    """Kernel weights of one IGC block with G = width channels: G²(S/L + 1/M) (paper §3.2)."""
    return width * width * kernel_area // primary + width * width // secondary


@pytest.fixture(scope="module")
def igc_default():
    keras.backend.clear_session()
    return build_model("igc")


@pytest.mark.slow  # the ImageNet network at 224
def test_l100m2_matches_the_released_model_and_readme():
    keras.backend.clear_session()
    model = build_model("igc_l100m2")
    params, macs = count_params(model).trainable, count_macs(model).total
    assert (params, macs) == L100M2_SYMBOL
    assert abs(params / L100M2_README[0] - 1) < 0.005
    assert f"{macs / 1e9:.1f}" == L100M2_README[1]
    # L doubles per stage (100 → 800), M stays 2; widths 200 → 1600; projection also in stage 1.
    for i, primary in enumerate((100, 200, 400, 800), start=1):
        assert model.get_layer(f"stage{i}_block2_igc2_primary_gconv").groups == primary
        assert model.get_layer(f"stage{i}_block2_igc2_secondary_gconv").groups == 2
        assert model.get_layer(f"stage{i}_block2_out").output.shape[1:] == (56 // 2 ** (i - 1),) * 2 + (2 * primary,)
        assert model.get_layer(f"stage{i}_block1_shortcut_gconv").groups == primary
    assert model.get_layer("stem_conv").filters == 100


def test_cifar_igc_structure_follows_the_authors_code(igc_default):
    model = igc_default  # IGC-L24M2+Ident., depth 20
    assert count_params(model).trainable == 164_410
    assert abs(count_macs(model).total / 29.74e6 - 1) < 0.001
    names = [layer.name for layer in model.layers]
    for i, (width, hw) in enumerate(((48, 32), (96, 16), (192, 8)), start=1):
        assert model.get_layer(f"stage{i}_block3_out").output.shape[1:] == (hw, hw, width)
        assert model.get_layer(f"stage{i}_block2_igc1_primary_gconv").groups == 24  # L fixed
        assert model.get_layer(f"stage{i}_block2_igc1_secondary_gconv").groups == width // 24  # M doubles
    # A transition block's first IGC takes M' = (input channels)/L, as resnet_igc.py does.
    assert model.get_layer("stage2_block1_igc1_secondary_gconv").groups == 2
    assert model.get_layer("stage2_block1_igc2_secondary_gconv").groups == 4
    assert model.get_layer("stage2_block1_shortcut_gconv").groups == 24
    assert "stage1_block1_shortcut_gconv" not in names  # identity where the shape is kept
    assert "stage1_block1_igc1_relu" in names and "stage1_block1_igc2_relu" not in names
    # No BN between the primary and the secondary group conv: one structured-sparse convolution.
    i = names.index("stage1_block2_igc1_primary_gconv")
    assert names[i : i + 5] == [
        "stage1_block2_igc1_primary_gconv", "stage1_block2_igc1_permute", "stage1_block2_igc1_secondary_gconv",
        "stage1_block2_igc1_permute_back", "stage1_block2_igc1_bn",
    ]


def test_block_parameters_follow_the_paper_formula(igc_default):
    for name, width, primary, secondary in [("stage1_block2_igc1", 48, 24, 2), ("stage3_block3_igc2", 192, 24, 8)]:
        kernels = sum(
            int(np.prod(igc_default.get_layer(f"{name}_{part}_gconv").kernel.shape)) for part in ("primary", "secondary")
        )
        assert kernels == igc_params_formula(width, primary, secondary)


@pytest.mark.parametrize("primary, secondary", [(48, 1), (1, 48)])
def test_extremes_xception_like_and_regular_conv(primary, secondary):
    keras.backend.clear_session()
    model = build_model("igc", primary_partitions=primary, secondary_partitions=secondary, depth=8)
    p = model.get_layer("stage1_block1_igc1_primary_gconv")
    s = model.get_layer("stage1_block1_igc1_secondary_gconv")
    if primary == 48:  # L = G: depthwise 3×3, then a dense 1×1 conv (Xception-like)
        assert p.kernel.shape == (3, 3, 1, 48) and s.kernel.shape == (1, 1, 48, 48)
    else:  # L = 1: a regular 3×3 conv, then a channel-wise 1×1 scaling
        assert p.kernel.shape == (3, 3, 48, 48) and s.kernel.shape == (1, 1, 1, 48)
    names = [layer.name for layer in model.layers]
    assert "stage1_block1_igc1_permute" not in names and "stage1_block1_igc1_permute_back" not in names


def test_every_output_channel_sees_every_input_channel():
    # The complementary condition (§3.1): after P, each secondary partition holds one channel of every
    # primary partition, so the block is dense in channels. Without P it would be block-diagonal.
    width, primary, secondary = 12, 4, 3
    inputs = keras.Input((3, 3, width))
    model = keras.Model(inputs, igc_block(inputs, width, 1, primary, secondary, "b", relu=False))
    rng = np.random.default_rng(0)
    for weight in model.trainable_weights:
        weight.assign(rng.uniform(0.5, 1.5, weight.shape).astype("float32"))
    probes = np.zeros((width, 3, 3, width), "float32")
    probes[np.arange(width), 1, 1, np.arange(width)] = 1.0
    base = keras.ops.convert_to_numpy(model(np.zeros((1, 3, 3, width), "float32"), training=False))
    response = keras.ops.convert_to_numpy(model(probes, training=False))[:, 1, 1, :] - base[0, 1, 1]
    assert (np.abs(response) > 1e-6).all()


@pytest.mark.parametrize(
    "cin, cout, groups, strides",
    [(48, 48, 24, 1), (48, 96, 24, 2), (400, 400, 200, 1), (12, 36, 4, 2), (64, 64, 8, 1), (8, 8, 8, 1)],
)
def test_narrow_grouped_conv_equals_split_and_native(cin, cout, groups, strides):
    x = np.random.default_rng(1).normal(size=(2, 7, 7, cin)).astype("float32")
    narrow = NarrowGroupedConv2D(cout, 3, groups=groups, strides=strides)
    assert narrow.takes_depthwise_path(cin) == (keras.backend.backend() == "tensorflow" and 1 < groups < cin
                                               and cin // groups <= 4)
    y = keras.ops.convert_to_numpy(narrow(x))
    reference = GroupedConv2D(cout, 3, groups=groups, strides=strides)
    reference.build(x.shape)
    reference.kernel.assign(narrow.kernel)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(reference(x)), y, atol=1e-4)
    narrow.implementation = "native"
    np.testing.assert_allclose(keras.ops.convert_to_numpy(narrow(x)), y, atol=1e-4)
    assert NarrowGroupedConv2D.from_config(narrow.get_config()).groups == groups


def test_native_switch_reaches_igc_layers_and_keras_round_trip(tmp_path):
    keras.backend.clear_session()
    model = build_model("igc", input_shape=(28, 28, 1), classes=10, depth=8)
    assert model.get_layer("stage3_block1_out").output.shape[1:] == (7, 7, 192)
    x = np.random.default_rng(0).normal(size=(2, 28, 28, 1)).astype("float32")
    y = keras.ops.convert_to_numpy(model(x, training=False))
    assert y.shape == (2, 10) and np.isfinite(y).all()
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert set_grouped_conv_implementation(loaded, "native") == 2 * 3 * 2 + 2  # 6 IGC blocks + 2 shortcuts
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(x, training=False)), y, rtol=1e-4, atol=1e-4)


def test_partition_knobs_change_widths_and_params():
    keras.backend.clear_session()
    base = count_params(build_model("igc", depth=8)).trainable
    wider = build_model("igc", depth=8, secondary_partitions=4)
    assert wider.get_layer("stem_conv").filters == 96 and count_params(wider).trainable > base
    assert len([layer for layer in wider.layers if isinstance(layer, ChannelShuffle)]) == 2 * 3 * 2
    small = build_model("igc_l100m2", input_shape=(32, 32, 3), stem="small", classes=10, primary_partitions=25)
    assert small.get_layer("stage4_block2_out").output.shape[1:] == (4, 4, 400)


@pytest.mark.parametrize(
    "name, knobs, match",
    [
        ("igc", {"primary_partitions": 0}, "primary_partitions"),
        ("igc", {"secondary_partitions": 2.5}, "secondary_partitions"),
        ("igc", {"primary_partitions": True}, "primary_partitions"),
        ("igc", {"depth": 21}, "depth"),
        ("igc_l100m2", {"stem": "tiny"}, "stem"),
        ("igc_l100m2", {"secondary_partitions": -1}, "secondary_partitions"),
    ],
)
def test_bad_knobs_raise_config_errors(name, knobs, match):
    with pytest.raises(ConfigError, match=match):
        build_model(name, **knobs)
