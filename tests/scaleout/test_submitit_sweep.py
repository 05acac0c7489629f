"""Sweeps through hydra-submitit-launcher, as on a SLURM cluster: `hydra/launcher=submitit_local` runs
each point as a submitit job (its own process, pickled submission, submitit's signal handling), the
same machinery `hydra/launcher=submitit_slurm` uses on a cluster."""

from __future__ import annotations

import json
import os
import signal
import time

import mlflow

from tests.reliability.test_resume import JOB, fresh_store, start


def test_submitit_sweep_nests_points_under_the_parent_and_a_preempted_point_is_requeued_and_resumes(tmp_path):
    uri, env = fresh_store(tmp_path)
    multi = tmp_path / "multirun" / "sweep"
    proc = start(["-m", *JOB, "train.epochs=3", "seed=1,2", "hydra/launcher=submitit_local",
                  f"hydra.sweep.dir={multi}"], env)
    # Preempt point 1 after its first epoch, as SLURM does: submitit's preemption signal (USR2) to the task.
    pointer, deadline = multi / "1" / "state" / "latest.json", time.monotonic() + 600
    while True:
        assert proc.poll() is None and time.monotonic() < deadline, "the sweep ended before point 1 could be preempted"
        try:
            if json.loads(pointer.read_text())["epoch"] >= 1:
                break
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.02)
    first_pid = json.loads((multi / "1" / "job.json").read_text())["pid"]
    os.kill(first_pid, signal.SIGUSR2)
    output = proc.communicate(timeout=900)[0]
    assert proc.returncode == 0, output[-4000:]
    assert "sweep finished: all 2 points succeeded" in output

    logs = "".join(p.read_text() for p in (multi / ".submitit").rglob("*_log.*"))
    assert "this job is preempted" in logs and "Requeued job" in logs, logs[-3000:]
    record = json.loads((multi / "1" / "job.json").read_text())
    assert record["status"] == "finished" and record["resumes"] == 1 and record["pid"] != first_pid
    history = (multi / "1" / "history.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in history[1:]] == ["0", "1", "2"], "resumed, not restarted"

    client = mlflow.MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("resume_test").experiment_id])
    parents = [r for r in runs if r.data.tags.get("sweep") == "parent"]
    points = [r for r in runs if r.data.tags.get("sweep") != "parent"]
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert parents[0].info.run_id == (multi / "mlflow_parent_run_id").read_text().strip()
    assert sorted(r.data.params["seed"] for r in points) == ["1", "2"], "one run per point, none duplicated"
    assert {r.data.tags["mlflow.parentRunId"] for r in points} == {parents[0].info.run_id}
    assert all(r.info.status == "FINISHED" and "test_accuracy" in r.data.metrics for r in points)
    preempted = next(r for r in points if r.info.run_id == record["mlflow_run_id"])
    assert preempted.data.tags["resumed_after_epoch"] == "1"
    assert [m.step for m in client.get_metric_history(preempted.info.run_id, "loss")] == [1, 2, 3]
