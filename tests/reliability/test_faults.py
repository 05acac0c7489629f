"""Faults done for real on tiny jobs: a diverging loss."""

from __future__ import annotations

import json

import mlflow

from tests.conftest import TINY_JOB
from tests.test_cli import run_cli


def test_nan_loss_stops_the_job_marks_it_failed_and_names_the_knob(tmp_path):
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    (tmp_path / "store").mkdir()
    job = [o for o in TINY_JOB if o != "logger=none"] + [
        "train.learning_rate=1e12", "train.epochs=3", "experiment_name=nan_test",
    ]
    proc = run_cli(job, tmp_path, env={"MLFLOW_TRACKING_URI": uri})
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert "training loss became nan" in proc.stderr and "Lower train.learning_rate (now 1000000000000.0)" in proc.stderr
    out = tmp_path / "out"
    record = json.loads((out / "job.json").read_text())
    assert record["status"] == "failed" and "TrainingDivergedError" in record["error"]
    assert not (out / "results.json").exists()
    pointer = out / "state" / "latest.json"  # the diverged epoch never replaces the last good state
    assert not pointer.exists() or json.loads(pointer.read_text())["epoch"] < 3
    client = mlflow.MlflowClient(uri)
    (run,) = client.search_runs([client.get_experiment_by_name("nan_test").experiment_id])
    assert run.info.status == "FAILED"
