"""A shared tracking server on a real database: `mlflow server` backed by PostgreSQL (tests/scaleout/
conftest.py starts both on 127.0.0.1), written to by a parallel sweep and by `python -m src.train.carry`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import mlflow
import pytest
import sqlalchemy

from tests.helpers.cli import run_cli
from tests.helpers.config import ROOT, TINY_JOB
from tests.helpers.jobs import JOB, fresh_store, kill_after_epoch, run, start, wait_for_the_watchdog
from tests.helpers.tracking_server import DB_PASSWORD


def test_a_parallel_sweep_logs_every_point_once_to_the_server_and_its_database(tracking_server, postgres_uri, tmp_path):
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
    with sqlalchemy.create_engine(postgres_uri).connect() as db:  # the runs are PostgreSQL's rows
        stored = db.execute(sqlalchemy.text("SELECT run_uuid FROM runs WHERE experiment_id = :id"),
                            {"id": int(parents[0].info.experiment_id)}).scalars().all()
    assert sorted(stored) == sorted(r.info.run_id for r in runs)


def _carry(*args: str, uri: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "src.train.carry", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "MLFLOW_TRACKING_URI": uri, "TF_CPP_MIN_LOG_LEVEL": "3"}, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert DB_PASSWORD not in proc.stdout + proc.stderr
    return proc.stdout


def _same_run(a_uri: str, a_id: str, b_uri: str, b_id: str) -> None:
    a, b = mlflow.MlflowClient(a_uri), mlflow.MlflowClient(b_uri)
    assert a.get_run(a_id).data.params == b.get_run(b_id).data.params
    assert [(m.step, m.value) for m in a.get_metric_history(a_id, "loss")] == \
        [(m.step, m.value) for m in b.get_metric_history(b_id, "loss")]
    assert {x.path for x in a.list_artifacts(a_id)} == {x.path for x in b.list_artifacts(b_id)}


@pytest.mark.slow  # a killed training, four carry processes and a resumed training: ~1.5 CPU-minutes
def test_carry_moves_a_job_from_sqlite_to_the_server_and_back_and_it_resumes_on_the_server(tracking_server, tmp_path):
    (tmp_path / "laptop").mkdir()
    (tmp_path / "back").mkdir()
    sqlite_uri, env = fresh_store(tmp_path / "laptop")
    job = [*JOB, "train.epochs=2"]
    proc = start([*job, f"hydra.run.dir={tmp_path}/laptop/outputs/first"], env)
    killed = kill_after_epoch(proc, "*/state/latest.json", tmp_path / "laptop" / "outputs")
    deadline = time.monotonic() + 60  # the watchdog marks the run, then job.json
    laptop_run = wait_for_the_watchdog(killed, deadline)["mlflow_run_id"]

    _carry("pack", str(killed), str(tmp_path / "to_server.tar.gz"), uri=sqlite_uri)
    out = _carry("unpack", str(tmp_path / "to_server.tar.gz"), "--root", str(tmp_path / "cluster" / "outputs"),
                 uri=tracking_server)
    on_server = tmp_path / "cluster" / "outputs" / "first"
    assert f"into {on_server}" in out
    server_run = json.loads((on_server / "job.json").read_text())["mlflow_run_id"]
    assert mlflow.MlflowClient(tracking_server).get_run(server_run).info.status == "KILLED"
    _same_run(sqlite_uri, laptop_run, tracking_server, server_run)

    back_uri, _ = fresh_store(tmp_path / "back")
    _carry("pack", str(on_server), str(tmp_path / "back.tar.gz"), uri=tracking_server)
    _carry("unpack", str(tmp_path / "back.tar.gz"), "--root", str(tmp_path / "back" / "outputs"), uri=back_uri)
    back_run = json.loads((tmp_path / "back" / "outputs" / "first" / "job.json").read_text())["mlflow_run_id"]
    assert mlflow.MlflowClient(back_uri).get_run(back_run).data.tags["carried_from_run_id"] == server_run
    _same_run(tracking_server, server_run, back_uri, back_run)

    # The job's command, run against the server, resumes the carried job in its server run.
    log = run([*job, f"hydra.run.dir={tmp_path}/cluster/outputs/second"], {"MLFLOW_TRACKING_URI": tracking_server})
    assert f"resuming the unfinished job in {on_server} after epoch 1" in log
    client = mlflow.MlflowClient(tracking_server)
    assert client.get_run(server_run).info.status == "FINISHED"
    assert [m.step for m in client.get_metric_history(server_run, "loss")] == [1, 2]
