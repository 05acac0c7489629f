"""MobileNet v1 / v2 / v3 against the papers and keras.applications / torchvision / TF-slim figures
(the MobileNet v1–v3 papers' ImageNet tables, keras.applications, torchvision).

Reference tags: [P] paper, [R] library source, [C] keras.applications counted with
``weights=None``. A figure "at the paper's printed precision" is compared after rounding our exact count
to the digits the paper prints; where the paper's figure is itself not an exact count, the test says
why and bounds the distance to one unit of the printed digit instead.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from src.errors import ConfigError
from src.layers import HardSigmoid, HardSwish
from src.models import build_model
from src.models.mobilenet_v2 import BOTTLENECKS, make_divisible
from src.models.mobilenet_v3 import LARGE, SMALL
from src.profiling import count_macs, count_params

# --- MobileNet v1 -------------------------------------------------------------------------------
# Table 6 [P]: α -> (mult-adds in M, params in M as printed); keras.applications MobileNet trainable
# parameters at the same α [C, keras.applications].
V1_TABLE6 = {1.0: ("569", "4.2"), 0.75: ("325", "2.6"), 0.5: ("149", "1.3"), 0.25: ("41", "0.5")}
V1_KERAS_TRAINABLE = {1.0: 4_231_976, 0.75: 2_585_560, 0.5: 1_331_592, 0.25: 470_072}
# Table 7 [P]: input resolution -> mult-adds (M) at α = 1; params 4.2 M at every resolution.
V1_TABLE7 = {224: 569, 192: 418, 160: 290, 128: 186}
# TF-slim's checkpoint table for α = 1 [R] (exact counts, rounded to integers).
V1_TFSLIM_MACS = {224: 569, 192: 418, 160: 291, 128: 186}

# --- MobileNet v2 -------------------------------------------------------------------------------
V2_KERAS_TRAINABLE = {1.0: 3_504_872, 1.4: 6_108_776}  # [C] §3.2 (= torchvision's 3,504,872 [R])
V2_TFSLIM_MACS = {1.4: 582, 0.75: 209, 0.5: 97, 0.35: 59}  # TF-slim checkpoints [R], MMACs

# --- MobileNet v3 -------------------------------------------------------------------------------
# Exact trainable counts: keras.applications [C] = torchvision [R]. MACs: paper's final Table 3 [P] and
# torchvision's "GFLOPS" (MAC scale) [R].
V3_TRAINABLE = {"mobilenet_v3_large": 5_483_032, "mobilenet_v3_small": 2_542_856}
V3_PAPER_MACS = {"mobilenet_v3_large": 219e6, "mobilenet_v3_small": 56e6}
V3_TORCHVISION_GMACS = {"mobilenet_v3_large": "0.217", "mobilenet_v3_small": "0.057"}
# Table 3 [P], α = 0.75: (MAdds in M, params in M as printed); keras.applications' total (trainable +
# BN statistics) count at α = 0.75 [C] §3.2.
V3_075 = {"mobilenet_v3_large": (155, "4.0", 4_012_616), "mobilenet_v3_small": (44, "2.0", 2_051_552)}
# SE width = make_divisible(exp/4, 8) of the rows marked SE (§5.3, r = 4), α = 1.
V3_SE_WIDTHS = {
    "mobilenet_v3_large": [24, 32, 32, 120, 168, 168, 240, 240],
    "mobilenet_v3_small": [8, 24, 64, 64, 32, 40, 72, 144, 144],
}
V3_ARCH = {"mobilenet_v3_large": LARGE, "mobilenet_v3_small": SMALL}


@pytest.fixture(scope="module")
def built():
    """build(name, **kwargs) with a per-module cache: each ImageNet-size network is built once."""
    cache: dict = {}

    def build(name: str, **kwargs) -> keras.Model:
        key = (name, tuple(sorted(kwargs.items())))
        if key not in cache:
            keras.backend.clear_session()
            cache[key] = build_model(name, **kwargs)
        return cache[key]

    return build


def mmacs(model: keras.Model) -> float:
    return count_macs(model).total / 1e6


def at_precision(value: float, printed: str) -> str:
    """``value`` rounded to the number of decimals of ``printed``."""
    decimals = len(printed.split(".")[1]) if "." in printed else 0
    return f"{value:.{decimals}f}"


def layers_of(model: keras.Model, cls) -> list:
    return [layer for layer in model.layers if isinstance(layer, cls)]


def producer(tensor) -> str:
    return tensor._keras_history.operation.name


# ================================================================================== MobileNet v1


@pytest.mark.slow
@pytest.mark.parametrize("alpha", list(V1_TABLE6))
def test_v1_table6_width_multiplier(alpha, built):
    model = built("mobilenet_v1", **({} if alpha == 1.0 else {"width_multiplier": alpha}))
    trainable = count_params(model).trainable
    macs_printed, params_printed = V1_TABLE6[alpha]
    assert trainable == V1_KERAS_TRAINABLE[alpha], f"α={alpha}: {trainable:,}"
    assert at_precision(trainable / 1e6, params_printed) == params_printed
    assert at_precision(mmacs(model), macs_printed) == macs_printed, f"α={alpha}: {mmacs(model):.2f} M"


@pytest.mark.slow
@pytest.mark.parametrize("size", list(V1_TABLE7))
def test_v1_table7_resolution(size, built):
    model = built("mobilenet_v1", **({} if size == 224 else {"input_shape": (size, size, 3)}))
    assert count_params(model).trainable == V1_KERAS_TRAINABLE[1.0]  # ρ changes no parameter (4.2 M)
    macs = mmacs(model)
    assert round(macs) == V1_TFSLIM_MACS[size], f"{size}: {macs:.2f} M"
    # Table 7 prints 569·ρ² rounded (160: 569·(160/224)² = 290.3 -> "290"), not an exact count: the
    # exact count is 290.7 M at 160 (TF-slim: 291). Within one unit of the printed figure everywhere.
    assert round(569 * (size / 224) ** 2) == V1_TABLE7[size]
    assert abs(macs - V1_TABLE7[size]) < 1.0, f"{size}: {macs:.2f} M vs Table 7's {V1_TABLE7[size]} M"


@pytest.mark.slow
def test_v1_table1_structure(built):
    model = built("mobilenet_v1")
    dw = layers_of(model, keras.layers.DepthwiseConv2D)
    pw = [layer for layer in layers_of(model, keras.layers.Conv2D) if layer.name.endswith("_pw_conv")]
    assert model.get_layer("stem_conv").filters == 32 and model.get_layer("stem_conv").strides == (2, 2)
    assert [layer.filters for layer in pw] == [64, 128, 128, 256, 256, *[512] * 6, 1024, 1024]
    # Table 1's last dw is printed "s2" on a 7×7 map; the implementations (and 569 M) use s1.
    assert [layer.strides[0] for layer in dw] == [1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1]
    assert all(layer.kernel_size == (3, 3) for layer in dw)
    assert all(layer.kernel_size == (1, 1) for layer in pw)
    assert model.get_layer("stage5_block2_pw_relu6").output.shape[1:] == (7, 7, 1024)
    # BN + ReLU6 after every convolution (Fig. 3).
    convs = [layer for layer in model.layers if isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D))]
    assert len(convs) == 27
    for conv in convs:
        base = conv.name.rsplit("_", 1)[0]
        bn = model.get_layer(f"{base}_bn")
        act = model.get_layer(f"{base}_relu6")
        assert isinstance(bn, keras.layers.BatchNormalization) and producer(bn.input) == conv.name
        assert act.get_config()["activation"] == "relu6" and producer(act.input) == bn.name


def test_v1_width_multiplier_scales_every_layer():
    model = build_model("mobilenet_v1", input_shape=(32, 32, 3), stem="small", width_multiplier=0.5)
    pw = [layer.filters for layer in model.layers if layer.name.endswith("_pw_conv")]
    assert model.get_layer("stem_conv").filters == 16
    assert pw == [32, 64, 64, 128, 128, *[256] * 6, 512, 512]


# ================================================================================== MobileNet v2


@pytest.mark.slow
def test_v2_params_equal_keras_and_macs_match_paper(built):
    model = built("mobilenet_v2")
    assert count_params(model).trainable == V2_KERAS_TRAINABLE[1.0]
    macs = mmacs(model)
    # Paper Table 4: 300 M (and 3.4 M params, below the exact 3.50 M count that keras.applications and
    # torchvision share; the issue asks for the exact count). Exact: 300.8 M; torchvision prints 0.301 G.
    assert abs(macs - 300) < 1.0, f"{macs:.2f} M"
    assert f"{macs / 1e3:.3f}" == "0.301"


@pytest.mark.slow
def test_v2_width_1_4_equals_keras_and_keeps_the_paper_rule_for_the_last_layer(built):
    model = built("mobilenet_v2", width_multiplier=1.4)
    assert count_params(model).trainable == V2_KERAS_TRAINABLE[1.4]
    assert round(mmacs(model)) == V2_TFSLIM_MACS[1.4]
    assert model.get_layer("last_conv").filters == 1792  # scaled for α > 1
    small = build_model("mobilenet_v2", input_shape=(32, 32, 3), stem="small", width_multiplier=0.5)
    assert small.get_layer("last_conv").filters == 1280  # "all layers except the very last" (§6.1)
    assert small.get_layer("stem_conv").filters == 16


@pytest.mark.slow
def test_v2_bottleneck_table_is_data_and_drives_the_graph(built):
    assert BOTTLENECKS == ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))
    model = built("mobilenet_v2")
    names = {layer.name for layer in model.layers}
    in_channels, size = 32, 112
    for i, (t, c, n, s) in enumerate(BOTTLENECKS, start=1):
        assert f"stage{i}_block{n}_project_conv" in names and f"stage{i}_block{n + 1}_project_conv" not in names
        for j in range(1, n + 1):
            block = f"stage{i}_block{j}"
            stride = s if j == 1 else 1
            if t == 1:
                assert f"{block}_expand_conv" not in names
            else:
                assert model.get_layer(f"{block}_expand_conv").filters == t * in_channels
            dw = model.get_layer(f"{block}_dw_dwconv")
            assert dw.strides == (stride, stride) and dw.kernel_size == (3, 3)
            assert model.get_layer(f"{block}_project_conv").filters == c
            size //= stride
            assert model.get_layer(f"{block}_project_bn").output.shape[1:] == (size, size, c)
            assert (f"{block}_add" in names) == (stride == 1 and in_channels == c)  # inverted residual
            in_channels = c
    assert sum(name.endswith("_add") for name in names) == 10
    assert model.get_layer("last_conv").filters == 1280
    # Linear bottlenecks: nothing activates a projection's output.
    activations = [layer for layer in model.layers if isinstance(layer, keras.layers.Activation)]
    assert activations and not any(producer(layer.input).endswith("_project_bn") for layer in activations)
    assert {layer.get_config()["activation"] for layer in activations} == {"relu6"}


@pytest.mark.slow
@pytest.mark.parametrize("alpha", [0.75, 0.5, 0.35])
def test_v2_other_widths_equal_keras_and_tfslim(alpha):
    keras.backend.clear_session()
    theirs = count_params(keras.applications.MobileNetV2(alpha=alpha, weights=None)).trainable
    keras.backend.clear_session()
    ours = build_model("mobilenet_v2", width_multiplier=alpha)
    assert count_params(ours).trainable == theirs
    assert round(mmacs(ours)) == V2_TFSLIM_MACS[alpha]


# ================================================================================== MobileNet v3


@pytest.mark.slow
@pytest.mark.parametrize("name", list(V3_TRAINABLE))
def test_v3_params_equal_keras_and_macs_match_paper(name, built):
    model = built(name)
    assert count_params(model).trainable == V3_TRAINABLE[name]
    macs = count_macs(model).total
    # Our count (convolutions + dense layers) is 216.6 M / 56.5 M: torchvision's 0.217 / 0.057 G exactly at
    # its printed precision, and TF-slim's 217 M for Large. The paper's final Table 3 prints 219 M / 56 M,
    # which no single conv-count convention reproduces for both (the figures are 1.1 % low / 0.9 % high);
    # within the 2 %.
    assert f"{macs / 1e9:.3f}" == V3_TORCHVISION_GMACS[name]
    assert abs(macs / V3_PAPER_MACS[name] - 1) < 0.02, f"{name}: {macs / 1e6:.1f} M"


@pytest.mark.slow
@pytest.mark.parametrize("name", list(V3_075))
def test_v3_width_0_75_matches_table_3_and_keras(name, built):
    model = built(name, width_multiplier=0.75)
    paper_macs, paper_params, keras_total = V3_075[name]
    params = count_params(model)
    assert params.total == keras_total  # keras.applications' MobileNetV3 at alpha=0.75, same BN layers
    assert at_precision(params.trainable / 1e6, paper_params) == paper_params
    # Large: 154.6 M -> 155; Small: 43.4 M (keras.applications counts the same) vs the printed 44.
    assert abs(mmacs(model) - paper_macs) < 1.0, f"{name}: {mmacs(model):.2f} M"
    # TF-slim's scaling: exp = expansion ratio × scaled input; the stem and the 1280/1024 layer stay.
    assert model.get_layer("stem_conv").filters == 16
    assert model.get_layer("head_conv").units == (1280 if name.endswith("large") else 1024)
    if name.endswith("large"):
        assert model.get_layer("stage2_block1_expand_conv").filters == 64  # 4 × 16
        assert model.get_layer("last_conv").filters == 720  # 6 × make_divisible(0.75 · 160)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(V3_TRAINABLE))
def test_v3_width_0_5_equals_keras(name):
    cls = keras.applications.MobileNetV3Large if name.endswith("large") else keras.applications.MobileNetV3Small
    keras.backend.clear_session()
    theirs = cls(input_shape=(224, 224, 3), alpha=0.5, weights=None, include_preprocessing=False)
    keras.backend.clear_session()
    ours = build_model(name, width_multiplier=0.5)
    assert count_params(ours).trainable == count_params(theirs).trainable
    assert count_macs(ours).total == count_macs(theirs).total


def _bnecks(model: keras.Model) -> list[str]:
    """The block prefixes ``stage{i}_block{j}`` in table order."""
    return [layer.name[: -len("_dw_dwconv")] for layer in model.layers if layer.name.endswith("_dw_dwconv")]


@pytest.mark.slow
@pytest.mark.parametrize("name", list(V3_TRAINABLE))
def test_v3_table_rows_se_and_nonlinearities(name, built):
    model = built(name)
    arch = V3_ARCH[name]
    blocks = _bnecks(model)
    names = {layer.name for layer in model.layers}
    assert len(blocks) == len(arch.bnecks)
    se_widths = []
    in_channels = 16
    for block, row in zip(blocks, arch.bnecks):
        dw = model.get_layer(f"{block}_dw_dwconv")
        assert dw.kernel_size == (row.kernel, row.kernel) and dw.strides == (row.stride, row.stride)
        assert dw.output.shape[-1] == row.exp  # exp size of the table
        assert (f"{block}_expand_conv" in names) == (row.exp != in_channels)
        assert model.get_layer(f"{block}_project_conv").filters == row.out
        act = "hardswish" if row.nl == "HS" else "relu"
        assert f"{block}_dw_{act}" in names and f"{block}_dw_{'relu' if act == 'hardswish' else 'hardswish'}" not in names
        if row.nl == "HS":
            assert isinstance(model.get_layer(f"{block}_dw_hardswish"), HardSwish)
        assert (f"{block}_se_scale" in names) == row.se
        if row.se:
            # SE on the expanded channels after the depthwise conv: r = 4, hard-sigmoid gate (§5.3).
            reduce, expand = model.get_layer(f"{block}_se_reduce"), model.get_layer(f"{block}_se_expand")
            assert producer(model.get_layer(f"{block}_se_squeeze").input) == f"{block}_dw_{act}"
            assert reduce.filters == make_divisible(row.exp / 4, 8) and expand.filters == row.exp
            assert isinstance(model.get_layer(f"{block}_se_gate"), HardSigmoid)
            assert producer(model.get_layer(f"{block}_project_conv").input) == f"{block}_se_scale"
            se_widths.append(reduce.filters)
        assert (f"{block}_add" in names) == (row.stride == 1 and in_channels == row.out)
        in_channels = row.out
    assert se_widths == V3_SE_WIDTHS[name]
    assert isinstance(model.get_layer("stem_hardswish"), HardSwish)
    assert model.get_layer("stem_conv").filters == 16 and model.get_layer("stem_conv").strides == (2, 2)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(V3_TRAINABLE))
def test_v3_redesigned_last_stage(name, built):
    # Fig. 5 / §5.1: 1×1 conv-BN-h-swish (960 | 576) at 7×7, pool, 1×1 conv without BN (1280 | 1024) +
    # h-swish, dropout, classifier.
    model = built(name)
    last, point = (960, 1280) if name.endswith("large") else (576, 1024)
    assert model.get_layer("last_conv").filters == last
    assert model.get_layer("last_bn").output.shape[1:] == (7, 7, last)
    assert isinstance(model.get_layer("last_hardswish"), HardSwish)
    tail = [layer.name for layer in model.layers][-5:]
    assert tail == ["head_pool", "head_conv", "head_hardswish", "head_dropout", "head_fc"]
    head = model.get_layer("head_conv")
    assert head.units == point and head.use_bias  # "NBN": no batch norm, with bias
    assert isinstance(model.get_layer("head_hardswish"), HardSwish)
    assert model.get_layer("head_dropout").rate == 0.2


def test_hard_sigmoid_and_hard_swish_formulas():
    x = np.array([-5.0, -3.0, -1.5, 0.0, 1.0, 3.0, 4.0], dtype="float32")
    expected = np.clip(x + 3.0, 0.0, 6.0) / 6.0  # ReLU6(x + 3) / 6 (§5.2), not Keras 2's clip(0.2x + 0.5)
    hsig = keras.ops.convert_to_numpy(HardSigmoid()(x))
    np.testing.assert_allclose(hsig, expected, rtol=0, atol=1e-7)
    assert not np.allclose(hsig, np.clip(0.2 * x + 0.5, 0, 1))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(HardSwish()(x)), x * expected, rtol=0, atol=1e-6)


# ============================================================================ shared: knobs, errors


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mobilenet_v1", "mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small"])
def test_width_multiplier_and_small_variant(name, built):
    def small(**knobs):
        keras.backend.clear_session()
        return build_model(name, input_shape=(32, 32, 3), stem="small", **knobs)

    base, thin = small(), small(width_multiplier=0.5)
    assert count_params(thin).trainable < count_params(base).trainable
    assert count_macs(thin).total < count_macs(base).total
    # The small-input variant: total stride 8, a 4×4 final map at 32×32, the paper's parameters.
    features = [layer for layer in base.layers if layer.name == "head_pool"][0].input
    assert features.shape[1:3] == (4, 4)
    assert count_params(base).trainable == count_params(built(name)).trainable


@pytest.mark.parametrize("name", ["mobilenet_v1", "mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small"])
@pytest.mark.parametrize(
    "knobs, message",
    [
        ({"width_multiplier": 0}, "width_multiplier=0 is not valid; use a number in (0, 4]"),
        ({"width_multiplier": "wide"}, "width_multiplier='wide' is not valid"),
        ({"width_multiplier": True}, "width_multiplier=True is not valid"),
        ({"dropout": 1.0}, "dropout=1.0 is not valid; use a rate in [0, 1)"),
        ({"stem": "tiny"}, "stem='tiny' is not valid; choose one of ['imagenet', 'small']"),
        ({"alpha": 0.5}, "has no knob 'alpha'"),
        ({"input_shape": (28, 28, 1)}, "use a larger data.image_size or the small-input variant"),
    ],
)
def test_bad_knobs_raise_config_error(name, knobs, message):
    with pytest.raises(ConfigError) as info:
        build_model(name, **knobs)
    assert message in str(info.value)
    if "alpha" in knobs:
        assert "width_multiplier=1.0" in str(info.value)  # lists the valid knobs
