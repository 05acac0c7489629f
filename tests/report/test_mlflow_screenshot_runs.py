"""Which runs the MLflow screenshot compares (src/report/mlflow_screenshot.sweep_runs); the browser part
is the slow UI test's."""

from __future__ import annotations

import json

import mlflow

from src.job_folder import POINTER_FILE
from src.report.mlflow_screenshot import sweep_runs


def _point(folder, run_id=None, finished=True, pointer=None):
    folder.mkdir(parents=True)
    if pointer is not None:
        (folder / POINTER_FILE).write_text(str(pointer))
        return
    (folder / "config.yaml").write_text("seed: 1\n")
    (folder / "job.json").write_text(json.dumps({"mlflow_run_id": run_id}))
    if finished:
        (folder / "results.json").write_text(json.dumps({"test_accuracy": 0.5}))


def test_sweep_dirs_give_the_finished_points_runs_following_skips_to_earlier_jobs(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    experiment_id = mlflow.create_experiment("exp", artifact_location=str(tmp_path / "artifacts"))
    ids = []
    for name in ("old", "new", "killed", "unrelated"):
        with mlflow.start_run(experiment_id=experiment_id, run_name=name) as run:
            ids.append(run.info.run_id)
    old_sweep, new_sweep = tmp_path / "sweep1", tmp_path / "sweep2"
    _point(old_sweep / "0", ids[0])
    _point(new_sweep / "0", pointer=old_sweep / "0")  # skipped: finished in the earlier sweep
    _point(new_sweep / "1", ids[1])
    _point(new_sweep / "2", ids[2], finished=False)  # killed: no results, not compared
    _, runs = sweep_runs(uri, "exp", [new_sweep])
    assert sorted(r.info.run_name for r in runs) == ["new", "old"]


def test_a_single_jobs_experiment_gives_its_newest_finished_real_runs_and_experiments_combine(tmp_path):
    from src.report.mlflow_screenshot import experiments_runs

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.MlflowClient(uri)
    names = {}
    for experiment in ("single", "other"):
        experiment_id = client.create_experiment(experiment, artifact_location=(tmp_path / experiment).as_uri())
        for name, status, tags, logged in [("real1", "FINISHED", {}, True), ("real2", "FINISHED", {}, True),
                                           ("smoke", "FINISHED", {"debug": "smoke"}, True),
                                           ("killed", "KILLED", {}, True), ("no_metric", "FINISHED", {}, False)]:
            run = client.create_run(experiment_id, run_name=f"{experiment}-{name}", tags=tags)
            if logged:
                client.log_metric(run.info.run_id, "test_accuracy", 0.9)
            client.set_terminated(run.info.run_id, status)
        names[experiment] = experiment_id
    ids, runs = experiments_runs(uri, ["single"])
    assert ids == [names["single"]] and sorted(r.info.run_name for r in runs) == ["single-real1", "single-real2"]
    ids, runs = experiments_runs(uri, ["single", "other"])
    assert ids == [names["single"], names["other"]]
    assert sorted(r.info.run_name for r in runs) == ["other-real1", "other-real2", "single-real1", "single-real2"]
