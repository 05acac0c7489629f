"""One MLflow run per job with everything needed to reproduce it; export verified and logged."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import mlflow
import pytest

from src.errors import ConfigError
from src.tracking import compute_environment, flatten_config, git_info, library_versions
from src.tracking.store import resolve_tracking_uri
from src.train import train
from tests.helpers.config import ROOT, compose_config


def test_job_is_recorded_with_config_provenance_metrics_and_artifacts(tmp_path, tiny_job, tracking_uri):
    overrides = [o for o in tiny_job if not o.startswith(("logger=", "export="))]
    cfg = compose_config(overrides + ["logger=mlflow", "export=tflite", "experiment_name=tracking_test"], tmp_path / "job")
    results = train(cfg)
    client = mlflow.MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name("tracking_test")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.run_id == results["mlflow_run_id"] and run.info.status == "FINISHED"
    params, tags, metrics = run.data.params, run.data.tags, run.data.metrics
    assert params["model.name"] == "resnet20" and params["seed"] == "42" and params["data.image_size"] == "16"
    assert len(params["data.fingerprint"]) == 64 and "mean" in params["data.normalization"]
    assert tags["seed"] == "42" and re.fullmatch(r"[0-9a-f]{40}", tags["git_commit"])
    assert tags["git_dirty"] in ("true", "false")
    assert tags["version.tensorflow"].startswith("2.21") and tags["version.keras"].startswith("3.")
    assert tags["env.keras_backend"] == "tensorflow" and tags["env.tf_onednn"] == "on" and tags["env.cpu"]
    assert metrics["test_accuracy"] == pytest.approx(results["test_accuracy"])
    assert metrics["params_trainable"] == 269_434 and metrics["macs"] > 0
    assert metrics["tflite_top1_agreement"] >= 0.999 and metrics["tflite_max_abs_logit_diff"] < 1e-3
    history = client.get_metric_history(run.info.run_id, "loss")
    assert [m.step for m in history] == [1, 2]
    for key in ("val_accuracy", "learning_rate", "epoch_seconds", "images_per_s"):
        assert len(client.get_metric_history(run.info.run_id, key)) == 2, key
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"config.yaml", "model.keras", "results.json", "history.csv", "curves.png", "macs.txt", "tflite"} <= artifacts
    tflite = {a.path for a in client.list_artifacts(run.info.run_id, "tflite")}
    assert tflite == {"tflite/resnet20.tflite", "tflite/resnet20.tflite.json"}


def test_unreachable_server_fails_fast(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    with pytest.raises(ConfigError, match="unreachable.*nothing was trained"):
        resolve_tracking_uri(None)


def test_file_store_is_refused(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with pytest.raises(ConfigError, match="file store"):
        resolve_tracking_uri("./mlruns")


def test_default_store_is_sqlite_under_mlruns(monkeypatch, tmp_path):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    uri = resolve_tracking_uri(None, store_dir=tmp_path / "mlruns")
    assert uri == f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}" and (tmp_path / "mlruns").is_dir()


def test_provenance_helpers():
    assert flatten_config({"a": {"b": 1, "c": [1, 2]}, "d": None}) == {"a.b": "1", "a.c": "[1, 2]", "d": "None"}
    assert library_versions()["tensorflow"].startswith("2.21")


def test_git_info_is_the_checked_out_commit_and_unknown_only_outside_git(tmp_path):
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    info = git_info(cwd=str(ROOT))
    assert re.fullmatch(r"[0-9a-f]{40}", info["git_commit"]) and info["git_commit"] == head
    assert info["git_dirty"] in ("true", "false")
    assert git_info(cwd=str(tmp_path)) == {"git_commit": "unknown", "git_dirty": "unknown"}  # not a repository


ONEDNN_PROBE = ("import src, tensorflow; from src.tracking.provenance import tensorflow_onednn; "
                "print(tensorflow_onednn())")


@pytest.mark.parametrize("setting, expected", [(None, "on"), ("0", "off")])
def test_importing_the_package_turns_tensorflows_onednn_on_unless_the_user_said_no(setting, expected):
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    if setting is not None:
        env["TF_ENABLE_ONEDNN_OPTS"] = setting
    proc = subprocess.run([sys.executable, "-c", ONEDNN_PROBE], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == expected


def test_compute_environment_names_backend_onednn_and_cpu():
    env = compute_environment()
    assert env["keras_backend"] == "tensorflow" and env["tf_onednn"] in ("on", "off")
    assert env["cpu"] and int(env["cpu_count"]) >= 1
