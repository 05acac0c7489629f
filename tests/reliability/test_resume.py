"""Kill -9 for real: a killed job, or a killed sweep, resumes where it stopped when its command is re-run.

The job is a subprocess (`python -m src.run`) killed with SIGKILL right after an epoch's state was
written (so mid-way through the next epoch); the same command is then run again."""

from __future__ import annotations

import json
import signal
import time

import mlflow
import numpy as np
import pytest

from tests.helpers.jobs import JOB, final_weights, fresh_store, kill_after_epoch, run, start, wait_for_the_watchdog


def test_killed_job_resumes_in_its_folder_and_mlflow_run_and_ends_as_if_never_killed(tmp_path):
    uri, env = fresh_store(tmp_path)
    outputs = tmp_path / "outputs"

    proc = start([*JOB, f"hydra.run.dir={outputs}/first"], env)
    killed_dir = kill_after_epoch(proc, "*/state/latest.json", outputs)
    assert proc.returncode == -signal.SIGKILL and killed_dir == outputs / "first"
    assert not (killed_dir / "results.json").exists()
    # The job's watchdog (src/train/watchdog.py) marks it killed while it is dead: job.json within about a
    # second, then the MLflow run once mlflow is imported (seconds).
    deadline = time.monotonic() + 60
    record = wait_for_the_watchdog(killed_dir, deadline)
    assert record["status"] == "killed" and record["mlflow_run_id"]
    client = mlflow.MlflowClient(env["MLFLOW_TRACKING_URI"])
    while client.get_run(record["mlflow_run_id"]).info.status == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.5)
    assert client.get_run(record["mlflow_run_id"]).info.status == "KILLED"
    saved_at_kill = json.loads((killed_dir / "state" / "latest.json").read_text())["epoch"]
    assert 1 <= saved_at_kill < 5

    log = run([*JOB, f"hydra.run.dir={outputs}/second"], env)  # the same command, a new Hydra folder
    assert f"resuming the unfinished job in {killed_dir} after epoch {saved_at_kill}" in log
    assert (outputs / "second" / "resumed_in.txt").read_text().strip() == str(killed_dir)
    record = json.loads((killed_dir / "job.json").read_text())
    assert record["status"] == "finished" and record["resumes"] == 1
    assert "error" not in record, "the kill is no longer the finished job's error"
    history = (killed_dir / "history.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in history[1:]] == ["1", "2", "3", "4", "5"], history

    client = mlflow.MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("resume_test").experiment_id])
    assert [r.info.run_id for r in runs] == [record["mlflow_run_id"]], "one run, continued, not duplicated"
    assert runs[0].info.status == "FINISHED" and runs[0].data.tags["resumed_after_epoch"] == str(saved_at_kill)
    assert [m.step for m in client.get_metric_history(runs[0].info.run_id, "loss")] == [1, 2, 3, 4, 5]

    # The same config run without interruption (another output root: nothing to resume).
    run([*JOB, f"hydra.run.dir={tmp_path}/reference/run", "logger=none"], {})
    resumed = json.loads((killed_dir / "results.json").read_text())
    reference = json.loads((tmp_path / "reference" / "run" / "results.json").read_text())
    assert resumed["test_loss"] == reference["test_loss"] and resumed["test_accuracy"] == reference["test_accuracy"]
    for a, b in zip(final_weights(killed_dir), final_weights(tmp_path / "reference" / "run"), strict=True):
        np.testing.assert_array_equal(a, b)  # bit-identical: restored state + (seed, epoch)-pure data order


@pytest.mark.slow
def test_killed_sweep_skips_finished_points_resumes_the_killed_one_and_runs_the_rest(tmp_path):
    uri, env = fresh_store(tmp_path)
    multi = tmp_path / "multirun"
    sweep = ["-m", *JOB, "train.epochs=3", "seed=1,2,3"]

    proc = start([*sweep, f"hydra.sweep.dir={multi}/first"], env)
    killed_point = kill_after_epoch(proc, "first/1/state/latest.json", multi)  # point 1, after its epoch 1
    assert killed_point == multi / "first" / "1"
    assert (multi / "first" / "0" / "results.json").exists() and not (multi / "first" / "2").exists()

    log = run([*sweep, f"hydra.sweep.dir={multi}/second"], env)
    assert f"finished before in {multi / 'first' / '0'}" in log
    assert f"resuming the unfinished job in {killed_point}" in log
    assert (multi / "second" / "2" / "results.json").exists()
    assert not (multi / "second" / "0" / "results.json").exists()
    assert json.loads((killed_point / "job.json").read_text())["status"] == "finished"

    client = mlflow.MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("resume_test").experiment_id])
    points = [r for r in runs if r.data.tags.get("sweep") != "parent"]
    assert sorted(r.data.tags["seed"] for r in points) == ["1", "2", "3"], "one run per point, none duplicated"
    assert all(r.info.status == "FINISHED" for r in points)


@pytest.mark.slow
def test_sigterm_marks_the_run_killed_and_the_job_resumes(tmp_path):
    uri, env = fresh_store(tmp_path)
    outputs = tmp_path / "outputs"
    job = [*JOB, "train.epochs=3"]
    proc = start([*job, f"hydra.run.dir={outputs}/first"], env)
    deadline = time.monotonic() + 600
    while not (outputs / "first" / "state" / "latest.json").exists():
        assert proc.poll() is None and time.monotonic() < deadline, "the job ended before it could be stopped"
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    output = proc.communicate(timeout=120)[0]
    assert proc.returncode != 0 and "marked KILLED" in output, output[-3000:]
    record = json.loads((outputs / "first" / "job.json").read_text())
    assert record["status"] == "interrupted"
    client = mlflow.MlflowClient(uri)
    assert client.get_run(record["mlflow_run_id"]).info.status == "KILLED"

    run([*job, f"hydra.run.dir={outputs}/second"], env)
    assert client.get_run(record["mlflow_run_id"]).info.status == "FINISHED"
    assert json.loads((outputs / "first" / "job.json").read_text())["status"] == "finished"
