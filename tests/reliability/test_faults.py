"""Faults done for real on tiny jobs: a diverging loss, parallel writers to one store, a corrupt state."""

from __future__ import annotations

import json

import mlflow
import pytest

from tests.helpers.cli import run_cli
from tests.helpers.config import TINY_JOB


def test_nan_loss_stops_the_job_marks_it_failed_and_names_the_knob(tmp_path):
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    (tmp_path / "store").mkdir()
    job = [o for o in TINY_JOB if o != "logger=none"] + [
        "train.learning_rate=1e12", "train.epochs=3", "experiment_name=nan_test",
    ]
    proc = run_cli(job, tmp_path, env={"MLFLOW_TRACKING_URI": uri})
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert "training loss became " in proc.stderr and "not finite or above 1000 stops the job" in proc.stderr
    assert "Lower train.learning_rate (now 1000000000000.0)" in proc.stderr
    out = tmp_path / "out"
    record = json.loads((out / "job.json").read_text())
    assert record["status"] == "failed" and "TrainingDivergedError" in record["error"]
    assert not (out / "results.json").exists()
    pointer = out / "state" / "latest.json"  # the diverged epoch never replaces the last good state
    assert not pointer.exists() or json.loads(pointer.read_text())["epoch"] < 3
    client = mlflow.MlflowClient(uri)
    (run,) = client.search_runs([client.get_experiment_by_name("nan_test").experiment_id])
    assert run.info.status == "FAILED"


@pytest.mark.slow
def test_two_sweep_points_writing_one_local_store_in_parallel_lose_nothing(tmp_path):
    """Hydra's joblib launcher, 2 worker processes, 4 points, one SQLite MLflow store."""
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    (tmp_path / "store").mkdir()
    job = [o for o in TINY_JOB if o != "logger=none"] + ["experiment_name=parallel_test"]
    proc = run_cli(["-m", *job, "seed=1,2,3,4", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2"], tmp_path,
                   env={"MLFLOW_TRACKING_URI": uri})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "database is locked" not in proc.stderr
    client = mlflow.MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("parallel_test").experiment_id])
    parents = [r for r in runs if r.data.tags.get("sweep") == "parent"]
    points = [r for r in runs if r.data.tags.get("sweep") != "parent"]
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert sorted(r.data.tags["seed"] for r in points) == ["1", "2", "3", "4"]
    for r in points:
        assert r.info.status == "FINISHED" and r.data.tags["mlflow.parentRunId"] == parents[0].info.run_id
        assert "test_accuracy" in r.data.metrics and len(client.get_metric_history(r.info.run_id, "loss")) == 2


def test_a_corrupt_training_state_is_refused_with_the_way_out(tmp_path, tiny_job):
    from src.errors import CheckpointError
    from src.job_folder import write_job
    from src.train import train
    from tests.helpers.config import compose_config

    cfg = compose_config([*tiny_job, "train.epochs=1"], output_dir=tmp_path)
    train(cfg)
    write_job(tmp_path, status="running")  # as if killed after its epoch was saved
    (weights,) = (tmp_path / "state").glob("epoch-*.weights.h5")
    weights.write_bytes(b"\x89HDF\r\n\x1a\n" + b"garbage" * 100)
    with pytest.raises(CheckpointError, match="cannot be read.*resume=never"):
        train(cfg)
    cfg_never = compose_config([*tiny_job, "train.epochs=1", "resume=never"], output_dir=tmp_path)
    assert train(cfg_never)["test_accuracy"] >= 0  # the way out works


@pytest.mark.parametrize("content", [None, b"", b"PK\x03\x04 not really a zip", b"\x00" * 64])
def test_missing_or_corrupt_model_files_are_refused_clearly(tmp_path, content):
    from src.errors import CheckpointError
    from src.models import load_model

    path = tmp_path / "model.keras"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(CheckpointError, match="model.keras"):
        load_model(path)


def test_an_output_that_cannot_be_written_mid_job_gives_a_clear_error(tmp_path, tiny_job):
    from src.errors import ArtifactWriteError
    from src.train import train
    from tests.helpers.config import compose_config

    (tmp_path / "state").write_text("a file where the state folder goes")  # every state write fails
    with pytest.raises(ArtifactWriteError, match=r"could not write .*state.*writable hydra.run.dir"):
        train(compose_config([*tiny_job, "train.epochs=1"], output_dir=tmp_path))
    assert json.loads((tmp_path / "job.json").read_text())["status"] == "failed"
    assert not list(tmp_path.glob("**/*.tmp*"))  # nothing half-written left under a final name
