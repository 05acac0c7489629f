"""Slow: a finished smoke sweep, opened in the real MLflow UI (mlflow server on 127.0.0.1) in headless
Chromium: the compare-runs view shows every point and its metrics."""

from __future__ import annotations

import pytest

from tests.helpers.cli import run_cli
from tests.helpers.config import TINY_JOB


@pytest.mark.slow
def test_compare_view_shows_every_point_and_metric(tmp_path):
    from src.report.mlflow_screenshot import compare_view, sweep_runs

    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    job = [o for o in TINY_JOB if o not in ("logger=none", "train.epochs=2")] + ["train.epochs=1"]
    proc = run_cli(["-m", *job, "seed=1,2,3", "experiment_name=ui_check"], tmp_path, env={"MLFLOW_TRACKING_URI": uri})
    assert proc.returncode == 0, proc.stderr[-2000:]
    _, runs = sweep_runs(uri, "ui_check")
    assert len(runs) == 3
    text = compare_view(uri, "ui_check", tmp_path / "compare.png", metrics=("test_accuracy", "val_accuracy"))
    for run in runs:
        assert run.info.run_name in text
    assert "seed" in text and "train.learning_rate" in text  # knobs line up as params
    assert (tmp_path / "compare.png").stat().st_size > 20_000


@pytest.mark.slow
def test_compare_view_of_a_single_jobs_experiment_and_across_experiments(tmp_path):
    from src.report.mlflow_screenshot import compare_view, experiments_runs

    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    job = [o for o in TINY_JOB if o not in ("logger=none", "train.epochs=2")] + ["train.epochs=1"]
    for experiment, seed in (("solo_a", 1), ("solo_b", 2)):
        proc = run_cli([*job, f"seed={seed}", f"experiment_name={experiment}"], tmp_path / experiment,
                       env={"MLFLOW_TRACKING_URI": uri})
        assert proc.returncode == 0, proc.stderr[-2000:]
    text = compare_view(uri, "solo_a", tmp_path / "solo.png")
    assert "resnet20 seed=1" in text and "test_accuracy" in text
    _, runs = experiments_runs(uri, ["solo_a", "solo_b"])
    text = compare_view(uri, ["solo_a", "solo_b"], tmp_path / "both.png")
    assert all(r.info.run_name in text for r in runs) and len(runs) == 2
    assert (tmp_path / "both.png").stat().st_size > 20_000
