"""A default job's console holds no library notices that look like problems; ``--verbose`` brings them back."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT, TINY_JOB

#: LiteRT's XNNPACK notice, MLflow's store creation and alembic's migration lines (issue 46, item 7).
NOTICES = ("Created TensorFlow Lite XNNPACK delegate", "Creating initial MLflow database tables",
           "Updating database tables", "Context impl SQLiteImpl", "Will assume non-transactional DDL")


def _job(tmp_path, *extra: str) -> subprocess.CompletedProcess:
    """A tiny tracked and exported job through the CLI, on a store that does not exist yet."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("TF_CPP_MIN_LOG_LEVEL", "MLFLOW_LOGGING_LEVEL", "CNN_ZOO_VERBOSE")}
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    job = [o for o in TINY_JOB if o not in ("logger=none", "export=none", "train.epochs=2")]
    return subprocess.run(
        [sys.executable, "-m", "src.run", *job, "train.epochs=1", "export.max_eval_examples=16",
         f"hydra.run.dir={tmp_path}/out", *extra],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False,
    )


def test_a_default_job_prints_no_litert_or_mlflow_store_notices_and_verbose_does(tmp_path):
    quiet = _job(tmp_path / "quiet")
    assert quiet.returncode == 0, quiet.stderr[-3000:]
    assert (tmp_path / "quiet" / "out" / "resnet20.tflite").exists()  # LiteRT did verify an export
    assert (tmp_path / "quiet" / "mlruns" / "mlflow.db").exists()  # and MLflow did create its store
    console = quiet.stdout + quiet.stderr
    assert [n for n in NOTICES if n in console] == [], console[-3000:]

    loud = _job(tmp_path / "loud", "--verbose")
    assert loud.returncode == 0, loud.stderr[-3000:]
    console = loud.stdout + loud.stderr
    assert "Created TensorFlow Lite XNNPACK delegate" in console and "Creating initial MLflow database tables" in console
