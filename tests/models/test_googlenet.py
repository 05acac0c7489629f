"""GoogLeNet / Inception-v1 (Szegedy et al. 2015, Table 1 and §5). The paper-size (224×224) checks run
under ``-m slow``; Table 1's parameters and multiply-adds are in the golden table (src/models/reference_figures.py)."""

from __future__ import annotations

import keras
import pytest

from src.errors import ConfigError
from src.models import build_model
from src.models.googlenet import AUX_LOSS_WEIGHT, INCEPTION_TABLE, inference_model
from src.profiling import count_params


@pytest.fixture(scope="module")
def paper_net():
    keras.backend.clear_session()
    return build_model("googlenet")


@pytest.mark.slow
def test_counts_every_bias_and_the_real_5x5s(paper_net):
    # Table 1 prints 6.8 M (the golden table's figure, to 3 %); ours counts every bias and the real 5×5s.
    assert count_params(paper_net).trainable == 6_998_552


@pytest.mark.slow
def test_module_outputs_are_table_1s_depths(paper_net):
    for module, row in INCEPTION_TABLE:
        if row is None:
            continue
        n1, _, n3, _, n5, proj = row
        concat = paper_net.get_layer(f"inception{module}_concat")
        assert concat.output.shape[-1] == n1 + n3 + n5 + proj
    # 3a–3b at 28×28, 4a–4e at 14×14, 5a–5b at 7×7 (Table 1's output sizes)
    assert paper_net.get_layer("inception3b_concat").output.shape[1:] == (28, 28, 480)
    assert paper_net.get_layer("inception4e_concat").output.shape[1:] == (14, 14, 832)
    assert paper_net.get_layer("inception5b_concat").output.shape[1:] == (7, 7, 1024)


def test_aux_heads_sit_on_4a_and_4d_and_inference_model_drops_them():
    keras.backend.clear_session()
    model = build_model("googlenet", input_shape=(32, 32, 3), classes=10, stem="small", aux_logits=True)
    assert len(model.outputs) == 3 and AUX_LOSS_WEIGHT == 0.3
    assert model.get_layer("aux1_pool").input is model.get_layer("inception4a_concat").output
    assert model.get_layer("aux2_pool").input is model.get_layer("inception4d_concat").output
    deployed = inference_model(model)
    assert len(deployed.outputs) == 1
    assert not any(layer.name.startswith("aux") for layer in deployed.layers)


def test_bad_knobs_are_config_errors():
    with pytest.raises(ConfigError, match="stem"):
        build_model("googlenet", stem="cifar")
    with pytest.raises(ConfigError, match="include_top"):
        build_model("googlenet", aux_logits=True, include_top=False)
