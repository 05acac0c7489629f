"""The Hydra Deep Compression job (task=compress): config checks, settings, and a tiny end-to-end job."""

from __future__ import annotations

import pytest

from src.compress.job import check_compress_config, compress
from src.compress.run import read_settings, weight_layer_names
from src.errors import ConfigError
from src.models import build_model
from tests.helpers.config import compose_config

TINY_COMPRESS = [
    "experiment=deep_compression", "hydra.mode=RUN", "data=synthetic", "data.num_train=256", "data.num_val=32",
    "data.num_test=64", "data.image_size=28", "data.channels=1", "data.batch_size=32", "train.epochs=2",
    "train.jit_compile=false", "train.checkpoint=false", "compress.prune_epochs=3", "compress.share_epochs=1",
    "compress.batch_size=32", "seed=1",
]


def test_the_experiment_picks_settings_and_learning_rate_by_network():
    for model, lr in (("lenet_300_100", 0.1), ("lenet5", 0.01)):
        cfg = compose_config(["experiment=deep_compression", f"model={model}"])
        assert cfg.compress.settings == f"conf/compress/{model}.yaml" and cfg.train.learning_rate == lr
        check_compress_config(cfg)


def test_a_network_without_settings_is_refused_with_the_ones_that_exist():
    cfg = compose_config(["experiment=deep_compression", "model=resnet20", "+compress.base_learning_rate.resnet20=0.1"])
    with pytest.raises(ConfigError, match=r"conf/compress/resnet20.yaml.*does not exist.*lenet5.yaml"):
        check_compress_config(cfg)


def test_an_unknown_pruning_schedule_is_refused_with_the_choices():
    cfg = compose_config(["experiment=deep_compression", "compress.prune_schedule=linear"])
    with pytest.raises(ConfigError, match=r"prune_schedule.*linear.*constant.*cosine"):
        check_compress_config(cfg)


def test_a_default_setting_covers_every_weight_layer_of_squeezenet(tmp_path):
    model = build_model("squeezenet1_1", input_shape=(28, 28, 1), classes=10, stem="small")
    names = weight_layer_names(model)
    settings = read_settings("conf/compress/squeezenet1_1.yaml", names)
    assert set(settings) == set(names) and len(names) == 26  # conv1, 8 Fires x 3, conv10
    assert {s.kept_fraction for s in settings.values()} == {0.33}
    bad = tmp_path / "bad.yaml"
    bad.write_text("layers: {no_such_layer: {kept_fraction: 0.1, weight_bits: 5, index_bits: 5}}\n")
    with pytest.raises(ConfigError, match="no_such_layer.*not weight layers"):
        read_settings(bad, names)


@pytest.mark.slow
def test_compress_job_end_to_end_and_resumable(tmp_path, tracking_uri):
    import mlflow

    results = compress(compose_config(TINY_COMPRESS, tmp_path / "job"))
    assert results["ratio_pqh"] > results["ratio_pq"] > 10
    assert results["kept_fraction"] == pytest.approx(0.082, abs=0.01)  # LeNet-300-100's 8/9/26 %
    assert results["accuracy_drop"] == pytest.approx(results["dense_accuracy"] - results["quantised_accuracy"])
    assert results["dense_accuracy"] == pytest.approx(results["base_test_accuracy"], abs=1e-6)  # the twin is exact
    assert (tmp_path / "job" / "compressed" / "compressed.keras").exists()
    mlflow.set_tracking_uri(tracking_uri)
    runs = mlflow.search_runs(experiment_names=["deep_compression"])
    assert len(runs) == 2 and runs["metrics.ratio_pq"].notna().sum() == 1  # job run + nested base run
    assert runs["metrics.test_accuracy"].notna().all()  # both runs: base and compressed model
    assert results["test_accuracy"] == results["quantised_accuracy"]
    assert compress(compose_config(TINY_COMPRESS, tmp_path / "job")) == results  # finished: read back
