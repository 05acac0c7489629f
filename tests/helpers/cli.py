"""`python -m src.run` as a user runs it, in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.helpers.config import ROOT


def run_cli(args: list[str], tmp_path: Path, env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run the job command with Hydra's run and sweep folders under ``tmp_path`` (``out``, ``multi``)."""
    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    dirs = [f"hydra.run.dir={tmp_path}/out", f"hydra.sweep.dir={tmp_path}/multi"]
    return subprocess.run(
        [sys.executable, "-m", "src.run", *args, *dirs], cwd=ROOT, env=full_env,
        capture_output=True, text=True, timeout=timeout,
    )
