"""Networks with auxiliary classifiers train on the weighted loss and ship without the heads."""

from __future__ import annotations

import json

import keras
import pytest

from src.errors import ConfigError
from src.train import train
from src.train.aux_heads import aux_loss_weight, inference_network
from tests.helpers.config import compose_config


@pytest.mark.parametrize("network", [
    ["model.batch_norm=true"],
    # the zoo record's network (no BN, bfloat16); a low lr, since random data makes it diverge at 0.01
    ["model.batch_norm=false", "train.precision=mixed_bfloat16", "train.learning_rate=0.001"],
], ids=["bn-float32", "paper-bfloat16"])
def test_googlenet_with_aux_heads_trains_and_ships_only_the_main_output(tmp_path, tiny_job, network):
    job = [o for o in tiny_job if not o.startswith("model=")] + [
        "model=googlenet", "model.aux_logits=true", *network, "train.epochs=1", "export=tflite",
    ]
    results = train(compose_config(job, tmp_path))
    header = (tmp_path / "history.csv").read_text().splitlines()[0].split(",")
    # the main head's accuracy under the usual names, each auxiliary loss logged separately
    assert {"accuracy", "val_accuracy", "aux1_fc2_loss", "aux2_fc2_loss"} <= set(header)
    saved = keras.saving.load_model(tmp_path / "model.keras")
    assert len(saved.outputs) == 1 and not any(layer.name.startswith("aux") for layer in saved.layers)
    assert results["params_total"] == saved.count_params()  # counted without the auxiliary heads
    assert results["tflite_top1_agreement"] == 1.0
    assert all(w.dtype == "float32" for w in saved.weights)  # float32 whatever the training precision
    assert json.loads((tmp_path / "results.json").read_text())["test_accuracy"] == results["test_accuracy"]


def test_aux_loss_weight_is_the_papers_unless_overridden():
    assert aux_loss_weight("googlenet") == 0.3  # Szegedy et al. 2015, §5
    assert aux_loss_weight("googlenet", 0.5) == 0.5
    with pytest.raises(ConfigError, match="aux_loss_weight"):
        aux_loss_weight("googlenet", -1)
    with pytest.raises(ConfigError, match="AUX_LOSS_WEIGHT"):
        aux_loss_weight("resnet20")


def test_inference_network_shares_the_weights_of_the_main_output():
    from src.models import build_model

    model = build_model("googlenet", input_shape=(32, 32, 3), classes=10, stem="small", aux_logits=True)
    deployed = inference_network(model)
    assert len(deployed.outputs) == 1
    assert {id(w) for w in deployed.weights} < {id(w) for w in model.weights}
    keras.backend.clear_session()
    single = build_model("googlenet", input_shape=(32, 32, 3), classes=10, stem="small")
    assert inference_network(single) is single
