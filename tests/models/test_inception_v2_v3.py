"""BN-Inception (Ioffe & Szegedy 2015, Figure 5) and Inception-v3 (Szegedy et al. 2016, Table 1) against
the papers' tables (SENet Table 2). Their parameters and multiply-adds at the
ImageNet input are in the one golden table (src/models/reference_figures.py); the structure checks at
the ImageNet input run under ``-m slow``. Forward pass, round trip, pooling: tests/models/test_zoo.py."""

from __future__ import annotations

import keras
import pytest

from src.errors import ConfigError
from src.models import build_model
from src.models import inception_v2 as v2
from src.models import inception_v3 as v3
from src.profiling import count_params


@pytest.fixture(scope="module")
def imagenet_models():
    keras.backend.clear_session()
    return {name: build_model(name) for name in ("inception_v2", "inception_v3")}


@pytest.mark.slow
def test_v2_modules_follow_figure_5(imagenet_models):
    model = imagenet_models["inception_v2"]
    channels = model.get_layer("stem_pool2").output.shape[-1]
    for module, row in v2.INCEPTION_TABLE:
        out = model.get_layer(f"inception{module}_concat").output
        channels = v2.module_output_channels(row, channels)
        assert out.shape[-1] == channels == v2.MODULE_CHANNELS[module]
    assert model.get_layer("inception3b_concat").output.shape[1:3] == (28, 28)
    assert model.get_layer("inception3c_concat").output.shape[1:3] == (14, 14)
    assert model.get_layer("inception4e_concat").output.shape[1:3] == (7, 7)
    # 3c / 4e: no 1×1 branch and no pool projection; every conv is followed by BN; no 5×5 anywhere.
    names = {layer.name for layer in model.layers}
    assert "inception3c_1x1_conv" not in names and "inception4e_pool_proj_conv" not in names
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert all(f"{c.name[:-len('_conv')]}_bn" in names for c in convs)
    assert max(c.kernel_size[0] for c in convs if not c.name.startswith("stem")) == 3


@pytest.mark.slow
def test_v3_module_outputs_at_the_three_grids(imagenet_models):
    model = imagenet_models["inception_v3"]
    for module, channels in v3.MODULE_CHANNELS.items():
        assert model.get_layer(module).output.shape[-1] == channels
    assert model.get_layer("mixed2").output.shape[1:] == (35, 35, 288)
    assert model.get_layer("mixed7").output.shape[1:] == (17, 17, 768)
    assert model.get_layer("mixed8").output.shape[1:] == (8, 8, 1280)
    assert model.get_layer("mixed10").output.shape[1:] == (8, 8, 2048)
    assert not any(layer.name.startswith("aux") for layer in model.layers)


@pytest.mark.parametrize("shape", [(32, 32, 3), (28, 28, 1)])
def test_small_stems_build(shape):
    keras.backend.clear_session()
    m2 = build_model("inception_v2", input_shape=shape, classes=10, stem="small")
    assert m2.get_layer("inception5b_concat").output.shape[1:3] == (shape[0] // 4,) * 2
    m3 = build_model("inception_v3", input_shape=shape, classes=10, stem="small")
    assert m3.get_layer("mixed10").output.shape[1:3] == (shape[0] // 4,) * 2
    assert m3.output.shape == (None, 10)


def test_v3_aux_head_on_mixed7_and_inference_model_drops_it():
    keras.backend.clear_session()
    model = build_model("inception_v3", input_shape=(32, 32, 3), classes=10, stem="small", aux_logits=True)
    assert len(model.outputs) == 2 and v3.AUX_LOSS_WEIGHT == 0.4
    assert model.get_layer("aux_pool").input is model.get_layer(v3.AUX_AFTER).output
    assert model.outputs[1].shape == (None, 10)
    deployed = v3.inference_model(model)
    assert len(deployed.outputs) == 1
    assert not any(layer.name.startswith("aux") for layer in deployed.layers)
    # same main-branch weights as the aux-free network
    plain = build_model("inception_v3", input_shape=(32, 32, 3), classes=10, stem="small")
    assert count_params(deployed).trainable == count_params(plain).trainable


def test_bad_knobs_are_config_errors():
    for name in ("inception_v2", "inception_v3"):
        with pytest.raises(ConfigError, match="stem"):
            build_model(name, stem="cifar")
    with pytest.raises(ConfigError, match="aux_logits"):
        build_model("inception_v3", aux_logits="yes")
    with pytest.raises(ConfigError, match="include_top"):
        build_model("inception_v3", aux_logits=True, include_top=False)
    with pytest.raises(ConfigError, match="minimum"):
        build_model("inception_v3", input_shape=(32, 32, 3))
