"""A job's watchdog: marks the job killed (job.json "killed", MLflow run KILLED) when its process dies
without saying so, e.g. after SIGKILL or an out-of-memory kill, which no process can catch itself.

    python -m src.train.watchdog PID JOB_DIR [TRACKING_URI RUN_ID]

Started by `src.train.loop` in a session of its own (so a kill of the job's process group spares it);
it polls every second and exits as soon as the job's status is no longer "running" (finished, failed,
interrupted) or its record names another process (a resumed job has its own watchdog).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

POLL_SECONDS = 1.0


def watch(pid: int, job_dir: Path, tracking_uri: str | None = None, run_id: str | None = None) -> str:
    """Block until the job ends; returns "ended" (it said so) or "killed" (its process died silently)."""
    from src.train.jobfile import pid_alive, read_job, write_job

    while True:
        record = read_job(job_dir) or {}
        if record.get("status") != "running" or record.get("pid") != pid:
            return "ended"
        if not pid_alive(pid):
            if tracking_uri and run_id:  # the run first: job.json "killed" then means both are marked
                import mlflow

                mlflow.MlflowClient(tracking_uri).set_terminated(run_id, "KILLED")
            write_job(job_dir, status="killed", error="the process died without a word (SIGKILL, out of memory?)")
            return "killed"
        time.sleep(POLL_SECONDS)


if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) not in (2, 4):
        raise SystemExit(__doc__.splitlines()[3].strip())
    watch(int(args[0]), Path(args[1]), *(args[2:4] or [None, None]))
