"""The README's "Scaling out" commands through the real CLI, at smoke size (the sweeps and the tracking
server are in test_submitit_sweep.py and test_tracking_server.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.helpers.cli import run_cli
from tests.helpers.config import ROOT

SMOKE = ["model=lenet5", "data=synthetic", "data.num_train=64", "data.num_val=32", "data.num_test=32",
         "data.image_size=28", "data.batch_size=32", "train.epochs=1", "train.warmup_epochs=0", "logger=none",
         "export=none"]


def test_the_mirrored_command_trains_on_this_machines_devices(tmp_path):
    proc = run_cli([*SMOKE, "train.distribution=mirrored"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert 0 <= results["test_accuracy"] <= 1


def test_the_slurm_sweep_command_composes_submitits_slurm_launcher_with_requeue_on_time_outs():
    """No SLURM cluster here: Hydra composes the README's launcher settings (it would submit them as is)."""
    proc = subprocess.run(
        [sys.executable, "-m", "src.run", "experiment=shufflenet_groups", "hydra/launcher=submitit_slurm",
         "hydra.launcher.partition=gpu", "hydra.launcher.gpus_per_node=1", "hydra.launcher.timeout_min=240",
         "hydra.launcher.max_num_timeout=3", "--cfg", "hydra", "-p", "hydra.launcher"],
        cwd=ROOT, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    for line in ("_target_: hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher",
                 "partition: gpu", "gpus_per_node: 1", "timeout_min: 240", "max_num_timeout: 3",
                 "signal_delay_s: 120"):
        assert line in proc.stdout.splitlines(), (line, proc.stdout)


def test_tracking_uris_are_printed_without_their_password(tmp_path):
    from src.redact import redact

    assert redact("postgresql+psycopg2://mlflow:pw@db:5432/mlflow") == "postgresql+psycopg2://***@db:5432/mlflow"
    assert redact("http://127.0.0.1:5000") == "http://127.0.0.1:5000"
    proc = run_cli([o for o in SMOKE if o != "logger=none"], tmp_path, env={"MLFLOW_TRACKING_URI": "http://team:hunter2@127.0.0.1:9"})
    assert proc.returncode == 2 and "http://***@127.0.0.1:9 is unreachable" in proc.stderr, proc.stderr[-2000:]
    assert "hunter2" not in proc.stdout + proc.stderr
