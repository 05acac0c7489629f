"""Sweeps through hydra-submitit-launcher, as on a SLURM cluster: `hydra/launcher=submitit_local` runs
each point as a submitit job (its own process, pickled submission, submitit's signal handling), the
same machinery `hydra/launcher=submitit_slurm` uses on a cluster."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import mlflow
import pytest

from tests.helpers.jobs import JOB, fresh_store, run, start


def test_submitit_sweep_nests_points_under_the_parent_and_a_preempted_point_is_requeued_and_resumes(tmp_path):
    uri, env = fresh_store(tmp_path)
    multi = tmp_path / "multirun" / "sweep"
    proc = start(["-m", *JOB, "train.epochs=3", "seed=1,2", "hydra/launcher=submitit_local",
                  f"hydra.sweep.dir={multi}"], env)
    # Preempt point 1 after its first epoch, as SLURM does: submitit's preemption signal (USR2) to the task.
    first_pid = signal_after_first_epoch(multi / "1", proc, signal.SIGUSR2)
    output = proc.communicate(timeout=900)[0]
    assert proc.returncode == 0, output[-4000:]
    assert "sweep finished: all 2 points succeeded" in output

    logs = "".join(p.read_text() for p in (multi / ".submitit").rglob("*_log.*"))
    assert "this job is preempted" in logs and "Requeued job" in logs, logs[-3000:]
    record = json.loads((multi / "1" / "job.json").read_text())
    assert record["status"] == "finished" and record["resumes"] == 1 and record["pid"] != first_pid
    history = (multi / "1" / "history.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in history[1:]] == ["1", "2", "3"], "resumed, not restarted"

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


@pytest.mark.slow  # two sweeps of training processes (~2 CPU-minutes)
def test_a_killed_submitit_point_resumes_when_the_sweep_is_re_run(tmp_path):
    uri, env = fresh_store(tmp_path)
    multi = tmp_path / "multirun"
    sweep = ["-m", *JOB, "train.epochs=3", "seed=1,2", "hydra/launcher=submitit_local"]
    proc = start([*sweep, f"hydra.sweep.dir={multi}/first"], env)
    killed = multi / "first" / "1"
    signal_after_first_epoch(killed, proc, signal.SIGKILL)
    output = proc.communicate(timeout=900)[0]
    assert proc.returncode != 0, "the launcher reports the killed point"

    assert "sweep finished: all 2 points succeeded" in run([*sweep, f"hydra.sweep.dir={multi}/second"], env)
    log = "".join(p.read_text() for p in (multi / "second" / ".submitit").rglob("*_log.*"))  # the points' logs
    assert f"resuming the unfinished job in {killed}" in log, log[-3000:]
    assert f"finished before in {multi / 'first' / '0'}" in log
    record = json.loads((killed / "job.json").read_text())
    assert record["status"] == "finished" and record["resumes"] == 1, output[-2000:]
    client = mlflow.MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("resume_test").experiment_id])
    points = [r for r in runs if r.data.tags.get("sweep") != "parent"]
    assert sorted(r.data.params["seed"] for r in points) == ["1", "2"], "one run per point, none duplicated"
    assert all(r.info.status == "FINISHED" for r in points)
    assert [m.step for m in client.get_metric_history(record["mlflow_run_id"], "loss")] == [1, 2, 3]


def signal_after_first_epoch(point: Path, proc: subprocess.Popen, signum: int) -> int:
    """Send ``signum`` to the submitit task running sweep ``point`` once it has saved its first epoch;
    return the task's pid."""
    pointer, deadline = point / "state" / "latest.json", time.monotonic() + 600
    while True:
        assert proc.poll() is None and time.monotonic() < deadline, "the sweep ended before the point was signalled"
        try:
            if json.loads(pointer.read_text())["epoch"] >= 1:
                break
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.02)
    pid = json.loads((point / "job.json").read_text())["pid"]
    os.kill(pid, signum)
    return pid
