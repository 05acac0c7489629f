"""SE-BN-Inception and SE-Inception-ResNet-v2 (Hu et al., SENet, arXiv:1709.01507, Figs. 2-3, Table 2)
against SENet's Table 2 (rows: 2.04 G vs 2.03 G; 11.76 G vs 11.75 G)."""

from __future__ import annotations

from pathlib import Path

import keras
import pytest
import yaml

from src.errors import ConfigError
from src.models import build_model
from src.models import inception_v2 as v2
from src.models.reference_figures import REFERENCE
from src.models.registry import get_spec
from src.profiling import count_macs, count_params

CONF = Path(__file__).resolve().parents[2] / "conf" / "model"
# The base networks at their ImageNet input (params: the golden table, src/models/reference_figures.py;
# MACs: our count_macs of the same graphs, 2.0326 G / 13.156 G). The ImageNet-input checks: -m slow.
BASE = {
    "se_inception_v2": ("inception_v2", REFERENCE["inception_v2"].params, 2_032_600_064),
    "se_inception_resnet_v2": ("inception_resnet_v2", REFERENCE["inception_resnet_v2"].params, 13_155_794_016),
}
#: SENet Table 2 multiply-adds ("GFLOPs", §0): (SE network, its re-implemented base network).
PAPER_MACS = {"se_inception_v2": (2.04e9, 2.03e9), "se_inception_resnet_v2": (11.76e9, 11.75e9)}
#: Where every SE unit sits (SENet Figs. 2-3): the layer feeding "<unit>_se_squeeze" and "<unit>_se_scale".
SE_INPUT_SUFFIX = {"se_inception_v2": "_concat", "se_inception_resnet_v2": "_up_conv"}
SMALL = {"input_shape": (32, 32, 3), "classes": 10, "stem": "small"}
NAMES = tuple(BASE)


def se_params(channels: int, r: int = 16) -> int:
    """One ``squeeze_excite`` unit on C channels: 1×1 convs C → max(1, C//r) → C, both with biases."""
    reduced = max(1, channels // r)
    return 2 * channels * reduced + reduced + channels


def inbound(model: keras.Model, name: str) -> list[str]:
    """Names of the layers whose outputs feed layer ``name``."""
    return [t._keras_history.operation.name for t in keras.tree.flatten(model.get_layer(name).input)]


def se_units(model: keras.Model) -> list[str]:
    """Prefixes ``<unit>`` of every SE unit (``<unit>_se_scale`` layers), in graph order."""
    return [layer.name[: -len("_se_scale")] for layer in model.layers if layer.name.endswith("_se_scale")]


def se_overhead(model: keras.Model, r: int = 16) -> int:
    """Σ of the SE units' parameters from the channel counts of the tensors they rescale."""
    return sum(se_params(model.get_layer(f"{u}_se_scale").output.shape[-1], r) for u in se_units(model))


@pytest.fixture(scope="module")
def imagenet_models():
    keras.backend.clear_session()
    return {name: build_model(name) for name in NAMES}


@pytest.fixture(scope="module")
def small_models():
    keras.backend.clear_session()
    models = {("se_inception_v2", r): build_model("se_inception_v2", se_reduction=r, **SMALL) for r in (16, 8)}
    models[("se_inception_resnet_v2", 16)] = build_model("se_inception_resnet_v2", **SMALL)
    return models


@pytest.fixture(scope="module")
def structure_models(small_models):
    """The SE networks at their small input: the same modules and SE units as at the ImageNet input."""
    return {name: small_models[(name, 16)] for name in NAMES}


@pytest.fixture(scope="module")
def paper_layout_models():
    """SE-Inception-ResNet-v2, Fig. 15 layout, r = 16 and 8 (slow tests only)."""
    return {
        ("se_inception_resnet_v2_paper", r): build_model("se_inception_resnet_v2", layout="paper", se_reduction=r, **SMALL)
        for r in (16, 8)
    }


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_imagenet_params_grow_by_exactly_the_se_units(name, imagenet_models):
    model = imagenet_models[name]
    base_params = BASE[name][1]
    assert count_params(model).trainable == base_params + se_overhead(model)


@pytest.mark.slow
def test_imagenet_params_from_the_paper_channel_counts(imagenet_models):
    # Figure 5's module widths for SE-BN-Inception; 10 A blocks at 320, 20 B at 1088, 10 C at 2080 for IR-v2.
    v2_delta = sum(se_params(c) for c in v2.MODULE_CHANNELS.values())
    ir_delta = 10 * se_params(320) + 20 * se_params(1088) + 10 * se_params(2080)
    assert (v2_delta, ir_delta) == (646_398, 8_543_980)
    assert count_params(imagenet_models["se_inception_v2"]).trainable == 11_285_224 + v2_delta
    assert count_params(imagenet_models["se_inception_resnet_v2"]).trainable == 55_813_192 + ir_delta


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_imagenet_macs_overhead_is_small_like_table_2(name, imagenet_models):
    macs = count_macs(imagenet_models[name]).total
    base_macs = BASE[name][2]
    se_macs, base_paper = PAPER_MACS[name]
    assert 0 < macs - base_macs < 0.01 * base_macs  # SE adds < 1 %
    assert macs - base_macs < 0.02e9  # Table 2: +0.01 G on two-decimal rounded figures
    if name == "se_inception_v2":  # same network as the paper's re-implementation: absolute figure too
        assert abs(macs / se_macs - 1) < 0.01, f"{macs / 1e9:.4f} G"
        assert se_macs - base_paper == pytest.approx(0.01e9)


@pytest.mark.parametrize("name, units", [("se_inception_v2", 10), ("se_inception_resnet_v2", 10 + 20 + 10)])
def test_one_se_unit_per_module_at_the_figure_position(name, units, structure_models):
    model = structure_models[name]
    found = se_units(model)
    if name == "se_inception_v2":
        assert found == [f"inception{m}" for m, _ in v2.INCEPTION_TABLE]
    else:
        n_blocks = {f"{layer.name[:-len('_up_conv')]}" for layer in model.layers if layer.name.endswith("_up_conv")}
        assert set(found) == n_blocks
    assert len(found) == units
    suffix = SE_INPUT_SUFFIX[name]
    for unit in found:
        # Fig. 2: SE takes the module's concatenation; Fig. 3: the residual branch's 1×1 up-projection.
        assert inbound(model, f"{unit}_se_squeeze") == [f"{unit}{suffix}"]
        assert inbound(model, f"{unit}_se_scale") == [f"{unit}{suffix}", f"{unit}_se_gate"]


def test_ir_se_is_on_the_branch_before_the_scaling_and_the_addition(structure_models):
    model = structure_models["se_inception_resnet_v2"]
    assert inbound(model, "stage1_block1_scale") == ["stage1_block1_se_scale"]
    assert inbound(model, "stage1_block1_add") == ["stem_mixed5b", "stage1_block1_scale"]
    assert inbound(model, "stage1_block2_add") == ["stage1_block1_out", "stage1_block2_scale"]
    # The last C block (keras layout) is unscaled: the SE output goes straight into the addition.
    assert inbound(model, "stage3_block10_out")[1] == "stage3_block10_se_scale"
    # The identity path skips the SE: the add's first input is the block's input, not an SE layer.
    assert all("_se_" not in inbound(model, f"stage2_block{j}_add")[0] for j in range(1, 21))


def test_se_bn_inception_feeds_the_next_module_with_the_rescaled_map(structure_models):
    model = structure_models["se_inception_v2"]
    assert inbound(model, "inception3b_1x1_conv") == ["inception3a_se_scale"]
    assert inbound(model, "inception4a_pool") == ["inception3c_se_scale"]
    # The classifier head's global pool reads the last module's SE output.
    assert inbound(model, "head_pool") == ["inception5b_se_scale"]


@pytest.mark.parametrize(
    "name", ["se_inception_v2", pytest.param("se_inception_resnet_v2_paper", marks=pytest.mark.slow)]
)
def test_se_reduction_changes_params_exactly(name, request):
    models = request.getfixturevalue("small_models" if name == "se_inception_v2" else "paper_layout_models")
    m16, m8 = models[(name, 16)], models[(name, 8)]
    p16, p8 = count_params(m16).trainable, count_params(m8).trainable
    assert p8 - p16 == se_overhead(m8, 8) - se_overhead(m16, 16) > 0
    assert m16.get_layer(f"{se_units(m16)[0]}_se_reduce").filters * 16 == m16.get_layer(
        f"{se_units(m16)[0]}_se_scale").output.shape[-1]


@pytest.mark.slow
def test_paper_layout_has_one_se_per_block(paper_layout_models):
    model = paper_layout_models[("se_inception_resnet_v2_paper", 16)]
    assert len(se_units(model)) == 5 + 10 + 5
    assert "stem_mixed3" in {layer.name for layer in model.layers}


@pytest.mark.parametrize(
    "name, shape",
    [
        ("se_inception_v2", (32, 32, 3)),
        ("se_inception_resnet_v2", (32, 32, 3)),
        pytest.param("se_inception_resnet_v2", (28, 28, 1), marks=pytest.mark.slow),  # se_inception_v2: test_zoo.py
    ],
)
def test_small_variant_builds(name, shape, small_models):
    if shape == (32, 32, 3):
        model = small_models[(name, 16)]
    else:
        keras.backend.clear_session()
        model = build_model(name, input_shape=shape, classes=10, stem="small")
    assert model.output.shape == (None, 10)
    last = se_units(model)[-1]
    assert min(model.get_layer(f"{last}_se_scale").output.shape[1:3]) >= 1


@pytest.mark.parametrize("base", ["inception_v2", pytest.param("inception_resnet_v2", marks=pytest.mark.slow)])
def test_base_networks_have_no_se(base):
    keras.backend.clear_session()
    model = build_model(base, **SMALL)
    assert not se_units(model) and not any("_se_" in layer.name for layer in model.layers)
    assert "se_reduction" not in get_spec(base).knobs()


@pytest.mark.parametrize(
    "name, kwargs, match",
    [
        ("se_inception_v2", {"se_reduction": 0}, "se_reduction=0"),
        ("se_inception_v2", {"se_reduction": 2.5}, "se_reduction=2.5"),
        ("se_inception_v2", {"se_reduction": True}, "se_reduction=True"),
        ("se_inception_v2", {"stem": "cifar"}, "stem"),
        ("se_inception_resnet_v2", {"se_reduction": -4}, "se_reduction=-4"),
        ("se_inception_resnet_v2", {"se_reduction": "16"}, "se_reduction='16'"),
        ("se_inception_resnet_v2", {"layout": "tf-slim"}, "layout='tf-slim'"),
        ("se_inception_resnet_v2", {"residual_scale": 1.5}, "residual_scale=1.5"),
    ],
)
def test_bad_knobs_raise_config_error(name, kwargs, match):
    with pytest.raises(ConfigError, match=match.replace("(", r"\(").replace(".", r"\.")):
        build_model(name, **{**SMALL, **kwargs})


@pytest.mark.parametrize("name", NAMES)
def test_registry_and_hydra_config(name):
    spec = get_spec(name)
    base = get_spec(BASE[name][0])
    assert spec.family == "se_inception" and "1709.01507" in spec.paper and "Table 2" in spec.paper
    assert spec.default_input_shape == base.default_input_shape and spec.small_input_shape == (32, 32, 3)
    assert spec.small_knobs == base.small_knobs
    knobs = spec.knobs()
    assert knobs == {**base.knobs(), "se_reduction": 16}
    assert set(spec.knob_choices) == set(knobs)
    assert all(choices[0] == knobs[k] and len(choices) >= 2 for k, choices in spec.knob_choices.items())
    conf = yaml.safe_load((CONF / f"{name}.yaml").read_text())
    assert conf.pop("name") == name and conf == knobs
