"""The DSD job end to end on tiny synthetic data: phases, masks held and released, baseline of equal
length, MLflow runs, and a re-run that trains nothing again."""

from __future__ import annotations

import pytest

from src.compress.dsd import STAGES, check_dsd_config, dsd
from src.errors import ConfigError
from tests.helpers.config import compose_config

TINY_DSD = [
    "experiment=dsd",
    "hydra.mode=RUN",
    "model=resnet20",
    "data=synthetic",
    "data.num_train=128",
    "data.num_val=32",
    "data.num_test=32",
    "data.image_size=16",
    "data.batch_size=32",
    "train.jit_compile=false",
    "train.checkpoint=false",
    "train.clip_norm=null",
    "dsd.dense_epochs=2",
    "dsd.sparse_epochs=1",
    "dsd.redense_epochs=1",
    "seed=2",
]


def test_dsd_job_runs_every_phase_and_compares_with_equally_long_dense_training(tmp_path, tracking_uri):
    import mlflow

    results = dsd(compose_config(TINY_DSD, tmp_path / "job"))
    stages = results["stages"]
    assert set(stages) == set(STAGES)
    assert stages["sparse"]["kernel_sparsity"] == pytest.approx(0.5, abs=0.01)  # the mask held in training
    assert stages["redense"]["kernel_sparsity"] < 0.05  # released: pruned weights trained again
    assert stages["continued"]["kernel_sparsity"] < 0.05
    assert results["dsd_gain"] == pytest.approx(stages["redense"]["test_accuracy"] - stages["continued_low"]["test_accuracy"])
    for stage, epochs in {"dense": 2, "sparse": 1, "redense": 1, "continued": 1, "continued_low": 1}.items():
        assert len((tmp_path / "job" / stage / "history.csv").read_text().splitlines()) == 1 + epochs
    mlflow.set_tracking_uri(tracking_uri)
    runs = mlflow.search_runs(experiment_names=["dsd"])
    parent = runs[runs["tags.mlflow.parentRunId"].isna()]
    assert len(parent) == 1 and parent.iloc[0]["metrics.dsd_gain"] == pytest.approx(results["dsd_gain"])
    children = runs[runs["tags.mlflow.parentRunId"] == parent.iloc[0]["run_id"]]
    assert sorted(children["tags.mlflow.runName"]) == sorted(STAGES)
    again = dsd(compose_config(TINY_DSD, tmp_path / "job"))  # finished: nothing trains again
    assert again == results and len(mlflow.search_runs(experiment_names=["dsd"])) == 6


@pytest.mark.parametrize("override, message", [
    ("dsd.sparsity=1.0", "dsd.sparsity"),
    ("dsd.sparse_epochs=0", "dsd.sparse_epochs"),
    ("dsd.redense_lr_factor=2", "redense_lr_factor"),
    ("train.sparsity=0.3", "leave them null"),
])
def test_a_dsd_config_that_cannot_work_is_refused_before_training(override, message):
    with pytest.raises(ConfigError, match=message):
        check_dsd_config(compose_config([*TINY_DSD, override]))
