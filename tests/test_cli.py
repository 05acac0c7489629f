"""`python -m src.run` as a user runs it: clear errors, exit codes, sweeps with nested MLflow runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import mlflow

from tests.helpers.cli import run_cli
from tests.helpers.config import ROOT, TINY_JOB


def test_unknown_model_gives_one_clear_line_and_exit_2(tmp_path):
    proc = run_cli([*TINY_JOB, "model.name=resnt20"], tmp_path)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Unknown model 'resnt20'. Did you mean 'resnet20'?" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unreachable_tracking_server_stops_before_training(tmp_path):
    job = [o for o in TINY_JOB if o != "logger=none"]
    proc = run_cli(job, tmp_path, env={"MLFLOW_TRACKING_URI": "http://127.0.0.1:9"})
    assert proc.returncode == 2
    assert "unreachable" in proc.stderr and "nothing was trained" in proc.stderr
    assert not (tmp_path / "out" / "model.keras").exists()


def test_sweep_gets_a_parent_run_with_one_nested_run_per_point(tmp_path):
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    job = [o for o in TINY_JOB if o not in ("logger=none", "train.epochs=2")]
    proc = run_cli(["-m", *job, "debug=smoke", "train.epochs=1", "experiment_name=sweep_test", "seed=1,2"], tmp_path,
                   env={"MLFLOW_TRACKING_URI": uri})
    assert proc.returncode == 0, proc.stderr[-3000:]
    client = mlflow.MlflowClient(uri)
    experiment = client.get_experiment_by_name("sweep_test")
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if r.data.tags.get("sweep") == "parent"]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId")]
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert len(children) == 2 and {r.data.tags["mlflow.parentRunId"] for r in children} == {parents[0].info.run_id}
    assert sorted(r.data.params["seed"] for r in children) == ["1", "2"]
    assert all(r.info.status == "FINISHED" and "test_accuracy" in r.data.metrics for r in children)
    # named for a person: the parent after the experiment, points by model and seed, with descriptions
    assert parents[0].info.run_name == "sweep_test sweep multi"
    assert sorted(r.info.run_name.split()[:2] for r in children) == [["resnet20", "seed=1"], ["resnet20", "seed=2"]]
    assert all("resnet20 on synthetic" in r.data.tags["mlflow.note.content"] for r in children)
    assert "Ad-hoc runs of resnet20" in experiment.tags["mlflow.note.content"]
    assert all(r.data.tags.get("debug") == "smoke" for r in runs)  # smoke runs are told from real ones
    assert all("not a result" in r.data.tags["mlflow.note.content"] for r in children)


def test_rerunning_the_recorded_config_reproduces_the_job(tmp_path):
    first = run_cli([*TINY_JOB, "train.epochs=1", "seed=11"], tmp_path / "a")
    assert first.returncode == 0, first.stderr[-2000:]
    recorded = tmp_path / "a" / "out" / ".hydra"
    again = subprocess.run(
        [sys.executable, "-m", "src.run", "--config-path", str(recorded), "--config-name", "config",
         f"hydra.run.dir={tmp_path}/b"],
        cwd=ROOT, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, capture_output=True, text=True, timeout=600,
    )
    assert again.returncode == 0, again.stderr[-2000:]
    a = json.loads((tmp_path / "a" / "out" / "results.json").read_text())
    b = json.loads((tmp_path / "b" / "results.json").read_text())
    assert a["test_loss"] == b["test_loss"] and a["test_accuracy"] == b["test_accuracy"]


def test_rerun_by_job_folder_or_mlflow_run_id_warns_on_changed_data_or_commit(tmp_path):
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    job = [o for o in TINY_JOB if o != "logger=none"]
    first = run_cli([*job, "train.epochs=1", "seed=5", "+target.test_accuracy=1.01"], tmp_path / "a",
                    env={"MLFLOW_TRACKING_URI": uri})
    assert first.returncode == 0, first.stderr[-2000:]
    folder = tmp_path / "a" / "out"
    # the end-of-job summary: target verdict, job folder, the run and how to open it
    assert "test_accuracy" in first.stdout and "vs target >= 1.01: FAIL" in first.stdout
    assert f"job folder: {folder}" in first.stdout
    assert f"mlflow ui --backend-store-uri {uri}" in first.stdout and "/runs/" in first.stdout
    record = json.loads((folder / "job.json").read_text())
    run_id = record["mlflow_run_id"]
    expected = json.loads((folder / "results.json").read_text())["test_loss"]

    by_id = run_cli(["--rerun", run_id], tmp_path / "b", env={"MLFLOW_TRACKING_URI": uri})
    assert by_id.returncode == 0, by_id.stderr[-2000:]
    assert f"re-running MLflow run {run_id}" in by_id.stderr
    assert "fingerprint" not in by_id.stderr  # same data
    assert json.loads((tmp_path / "b" / "out" / "results.json").read_text())["test_loss"] == expected

    (folder / "job.json").write_text(json.dumps({**record, "data_fingerprint": "0" * 64, "git_commit": "deadbeef" * 5}))
    by_folder = run_cli(["--rerun", str(folder), "logger.enabled=false"], tmp_path / "c")
    assert by_folder.returncode == 0, by_folder.stderr[-2000:]
    assert "warning: the data's fingerprint is" in by_folder.stderr
    assert "warning: the job ran at git commit deadbeefde" in by_folder.stderr
    assert json.loads((tmp_path / "c" / "out" / "results.json").read_text())["test_loss"] == expected


def test_rerun_of_an_unknown_run_or_with_a_group_override_is_one_line_and_exit_2(tmp_path):
    proc = run_cli(["--rerun", "0123456789abcdef"], tmp_path,
                   env={"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"})
    assert proc.returncode == 2
    assert "no such MLflow run" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_cli(["--rerun", str(tmp_path), "logger=none"], tmp_path)
    assert proc.returncode == 2 and "not config groups (logger=none)" in proc.stderr


def _quiet_env() -> dict:
    return {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}  # the suite's own default


def test_tensorflow_start_up_notices_are_hidden_unless_verbose(tmp_path):
    command = [sys.executable, "-m", "src.run", "--rerun", str(tmp_path / "no_job")]  # fails after TF's import
    quiet = subprocess.run(command, cwd=ROOT, env=_quiet_env(), capture_output=True, text=True, timeout=600)
    loud = subprocess.run([*command, "--verbose"], cwd=ROOT, env=_quiet_env(), capture_output=True, text=True,
                          timeout=600)
    for proc in (quiet, loud):
        assert proc.returncode == 2 and "no such job folder" in proc.stderr, proc.stderr[-2000:]
    assert "port.cc" in loud.stderr  # TensorFlow's "oneDNN custom operations are on" (src/__init__ turns it on)
    assert quiet.stderr.splitlines()[0].startswith("error: --rerun"), quiet.stderr[-2000:]


def test_sigterm_stops_a_job_with_one_line_saying_what_to_rerun(tmp_path):
    import signal
    import time

    job = [o for o in TINY_JOB if o != "train.epochs=2"] + ["train.epochs=200", f"hydra.run.dir={tmp_path}/out"]
    proc = subprocess.Popen([sys.executable, "-m", "src.run", *job], cwd=ROOT, env=_quiet_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not (tmp_path / "out" / "history.csv").exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 130, stderr[-2000:]
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    assert "interrupted: the job is marked so" in stderr and "python -m src.run model=resnet20" in stderr
    assert json.loads((tmp_path / "out" / "job.json").read_text())["status"] == "interrupted"
