"""Real training jobs: `python -m src.run` started, killed after an epoch and re-run; job folders as
training leaves them, made without training; a saved model's weights."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest

from src.job_folder import write_job
from tests.helpers.config import ROOT, TINY_JOB

#: ~1 s epochs (4,096 synthetic 16x16 images), long enough to be killed mid-way, with MLflow tracking.
JOB = [o for o in TINY_JOB if o.split("=")[0] not in ("logger", "data.num_train", "train.epochs")] + [
    "data.num_train=4096", "train.epochs=5", "experiment_name=resume_test",
]


def start(args: list[str], env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "src.run", *args], cwd=ROOT, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **env},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def kill_after_epoch(proc: subprocess.Popen, state_pointer_glob: str, root: Path, epoch: int = 1) -> Path:
    """SIGKILL ``proc`` as soon as a state pointer under ``root`` says ``epoch`` epochs are saved."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        for pointer in root.glob(state_pointer_glob):
            try:
                saved = json.loads(pointer.read_text())["epoch"]
            except (OSError, ValueError, KeyError):
                continue
            if saved >= epoch:
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=60)
                return pointer.parent.parent
        if proc.poll() is not None:
            pytest.fail(f"the job ended (code {proc.returncode}) before it could be killed:\n{proc.stdout.read()[-3000:]}")
        time.sleep(0.02)
    proc.kill()
    pytest.fail("no epoch was saved within 10 minutes")


def wait_for_the_watchdog(job_dir: Path, deadline: float) -> dict:
    """The job record once the dead job's watchdog has marked it (or, at ``deadline``, as it then stands)."""
    while json.loads((job_dir / "job.json").read_text())["status"] == "running" and time.monotonic() < deadline:
        time.sleep(0.2)
    return json.loads((job_dir / "job.json").read_text())


def fresh_store(tmp_path: Path) -> tuple[str, dict]:
    """A new SQLite MLflow store under ``tmp_path``: its URI and the environment that selects it."""
    (tmp_path / "store").mkdir()
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    return uri, {"MLFLOW_TRACKING_URI": uri}


def run(args: list[str], env: dict) -> str:
    """Run the job command to its end; it must succeed. Its stdout and stderr."""
    proc = subprocess.run(
        [sys.executable, "-m", "src.run", *args], cwd=ROOT, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **env},
        capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def weights_of(path: Path) -> list[np.ndarray]:
    """The weights of the model saved at ``path`` (a .keras file)."""
    return [np.asarray(w) for w in keras.saving.load_model(path).get_weights()]


def final_weights(job_dir: Path) -> list[np.ndarray]:
    from src.models import load_model

    return [np.asarray(w) for w in load_model(job_dir / "model.keras").get_weights()]


def stopped_job(root: Path, epoch: int = 2, status: str = "killed") -> Path:
    """A job folder as training leaves it, without training: config, job record, state pointer + file."""
    job = root / "sweep" / "0"
    (job / "state").mkdir(parents=True)
    (job / ".hydra").mkdir()
    (job / ".hydra" / "overrides.yaml").write_text("- model=resnet20\n")
    (job / "config.yaml").write_text(f"model: {{name: resnet20}}\ntrain: {{epochs: 5}}\nresume_root: {root}\n")
    (job / "history.csv").write_text("epoch,loss\n0,2.0\n1,1.5\n")
    (job / "state" / f"epoch-{epoch:04d}.weights.h5").write_bytes(os.urandom(4096))
    (job / "state" / "latest.json").write_text(json.dumps({"epoch": epoch, "weights": f"epoch-{epoch:04d}.weights.h5"}))
    (job / "state" / ".epoch-0003.weights.h5.tmp.weights.h5").write_bytes(b"half-written")
    (job / "checkpoints").mkdir()
    (job / "checkpoints" / "last.keras").write_bytes(b"model")
    write_job(job, fingerprint="f" * 64, status=status, pid=None, host="elsewhere")
    return job
