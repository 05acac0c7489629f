"""A shared tracking server on a real database: `mlflow server` backed by PostgreSQL (tests/scaleout/
conftest.py starts both on 127.0.0.1), written to by a parallel sweep and by `python -m src.train.carry`."""

from __future__ import annotations

import mlflow
import sqlalchemy

from tests.conftest import TINY_JOB
from tests.scaleout.conftest import DB_PASSWORD
from tests.test_cli import run_cli


def test_the_server_keeps_its_runs_in_postgresql(tracking_server, postgres_uri):
    client = mlflow.MlflowClient(tracking_server)
    experiment_id = client.create_experiment("pg_probe")
    run = client.create_run(experiment_id)
    client.log_metric(run.info.run_id, "probe", 1.5)
    with sqlalchemy.create_engine(postgres_uri).connect() as db:
        rows = db.execute(sqlalchemy.text("SELECT key, value FROM metrics WHERE run_uuid = :id"),
                          {"id": run.info.run_id}).all()
    assert [(k, v) for k, v in rows] == [("probe", 1.5)]


def test_a_parallel_sweep_logs_every_point_once_to_the_server(tracking_server, tmp_path):
    job = [o for o in TINY_JOB if o not in ("logger=none", "train.epochs=2")] + [
        "train.epochs=2", "experiment_name=server_sweep"]
    proc = run_cli(["-m", *job, "seed=1,2,3,4", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2"], tmp_path,
                   env={"MLFLOW_TRACKING_URI": tracking_server})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert DB_PASSWORD not in proc.stdout + proc.stderr
    client = mlflow.MlflowClient(tracking_server)
    runs = client.search_runs([client.get_experiment_by_name("server_sweep").experiment_id])
    parents = [r for r in runs if r.data.tags.get("sweep") == "parent"]
    points = [r for r in runs if r.data.tags.get("sweep") != "parent"]
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert sorted(r.data.params["seed"] for r in points) == ["1", "2", "3", "4"], "no point lost or duplicated"
    for r in points:
        assert r.info.status == "FINISHED" and r.data.tags["mlflow.parentRunId"] == parents[0].info.run_id
        assert [m.step for m in client.get_metric_history(r.info.run_id, "loss")] == [1, 2]
        assert "test_accuracy" in r.data.metrics
        assert {a.path for a in client.list_artifacts(r.info.run_id)} >= {"config.yaml"}, "artifacts via the server"
