"""Security: no environment secrets in a run's params or tags; Lambda code in a model file is not run."""

from __future__ import annotations

import keras
import mlflow
import pytest

from src.errors import CheckpointError
from src.models import load_model
from src.train import train
from tests.helpers.config import compose_config

SECRET = "hunter2-do-not-log"


def test_environment_secrets_are_not_logged(tmp_path, tiny_job, tracking_uri, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("DATABASE_PASSWORD", SECRET)
    job = [o for o in tiny_job if o != "logger=none"] + ["train.epochs=1", "experiment_name=secrets_test"]
    results = train(compose_config(job, output_dir=tmp_path / "out"))
    run = mlflow.MlflowClient(tracking_uri).get_run(results["mlflow_run_id"])
    logged = {**run.data.params, **run.data.tags}
    assert logged and not [k for k, v in logged.items() if SECRET in str(v)]


def test_a_model_file_with_lambda_code_is_not_deserialised(tmp_path):
    inputs = keras.Input((2,))
    model = keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2)(inputs))
    model.save(tmp_path / "lambda.keras")
    with pytest.raises(CheckpointError, match="safe mode"):
        load_model(tmp_path / "lambda.keras")
