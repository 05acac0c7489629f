"""Slow: every experiment config runs end to end with debug=smoke, its sweep included."""

from __future__ import annotations

import mlflow
import pytest

from src.report.ablation_specs import SPECS
from tests.helpers.cli import run_cli
from tests.helpers.config import CONF

EXPERIMENTS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))


@pytest.mark.slow
@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_smoke_run(name, tmp_path):
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    proc = run_cli([f"experiment={name}", "debug=smoke"], tmp_path, env={"MLFLOW_TRACKING_URI": uri}, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    client = mlflow.MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name(name).experiment_id])
    points = [r for r in runs if r.data.tags.get("sweep") != "parent"]
    # a training point logs test_accuracy; a distillation job logs baseline.test_accuracy (its teacher and
    # students are nested runs with their own test_accuracy)
    assert points and all(r.info.status == "FINISHED" and any(k.split(".")[-1] == "test_accuracy" for k in r.data.metrics)
                          for r in points)
    if name in SPECS:  # an ablation: its sweep's report, written at the end, is on the parent run
        parent = next(r for r in runs if r.data.tags.get("sweep") == "parent")
        logged = {a.path for a in client.list_artifacts(parent.info.run_id, "report")}
        assert {"report/README.md", "report/results.csv"} <= logged, proc.stderr[-3000:]
