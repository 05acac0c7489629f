"""A failing sweep point does not stop the sweep: the others run, failures are listed at the end, marked in
MLflow and in the exit code; ``fail_fast=true`` stops at the first failure instead."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import mlflow

from tests.helpers.cli import run_cli
from tests.helpers.config import ROOT, TINY_JOB

DIVERGES = "1e12"  # a learning rate whose loss turns NaN in the first epoch


def test_failed_point_is_listed_and_the_sweep_goes_on(tmp_path):
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    job = [o for o in TINY_JOB if o not in ("logger=none", "train.epochs=2")] + ["train.epochs=1"]
    proc = run_cli(["-m", *job, f"train.learning_rate={DIVERGES},0.05", "experiment_name=failing_sweep"], tmp_path,
                   env={"MLFLOW_TRACKING_URI": uri})
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "sweep finished with 1 of 2 points failed" in proc.stderr
    assert "point 0 [train.learning_rate=1000000000000.0]: failed: TrainingDivergedError" in proc.stderr
    assert "Traceback" not in proc.stderr
    table = proc.stdout[proc.stdout.index("point  status"):].splitlines()  # the sweep's table, every point
    assert table[1].split()[:3] == ["0", "failed", "-"] and table[1].endswith("train.learning_rate=1000000000000.0")
    assert table[2].split()[:2] == ["1", "finished"] and float(table[2].split()[2]) >= 0
    assert (tmp_path / "multi" / "1" / "results.json").exists()  # the point after the failure ran
    assert json.loads((tmp_path / "multi" / "0" / "job.json").read_text())["status"] == "failed"
    client = mlflow.MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("failing_sweep").experiment_id])
    parent = [r for r in runs if r.data.tags.get("sweep") == "parent"]
    assert len(parent) == 1 and parent[0].info.status == "FAILED"
    assert parent[0].data.tags["failed_points"] == "0 [train.learning_rate=1000000000000.0]"
    statuses = sorted(r.info.status for r in runs if r.data.tags.get("sweep") != "parent")
    assert statuses == ["FAILED", "FINISHED"]
    # The same command again (a new sweep folder): the finished point is skipped, not listed as failed.
    again = subprocess.run(
        [sys.executable, "-m", "src.run", "-m", *job, f"train.learning_rate={DIVERGES},0.05",
         "experiment_name=failing_sweep", f"hydra.sweep.dir={tmp_path}/multi2"],
        cwd=ROOT, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "MLFLOW_TRACKING_URI": uri},
        capture_output=True, text=True, timeout=600,
    )
    assert again.returncode == 1 and "sweep finished with 1 of 2 points failed" in again.stderr
    assert "point 1 [" not in again.stderr and (tmp_path / "multi2" / "1" / "resumed_in.txt").exists()


def test_fail_fast_stops_at_the_first_failing_point(tmp_path):
    job = [o for o in TINY_JOB if o != "train.epochs=2"] + ["train.epochs=1"]
    proc = run_cli(["-m", *job, f"train.learning_rate={DIVERGES},0.05", "fail_fast=true"], tmp_path)
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "training loss became " in proc.stderr and "not finite or above 1000 stops the job" in proc.stderr
    assert not (tmp_path / "multi" / "1").exists()
