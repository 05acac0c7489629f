"""A job's watchdog: marks the job killed (job.json "killed", MLflow run KILLED) when its process dies
without saying so, e.g. after SIGKILL or an out-of-memory kill, which no process can catch itself.

    python -m src.train.watchdog PID JOB_DIR [RUN_ID]     # the store: $MLFLOW_TRACKING_URI

Started by `src.train.loop` in a session of its own (so a kill of the job's process group spares it),
with the tracking URI in its environment, not on its command line (which any user can read).
It polls every POLL_SECONDS and exits as soon as the job's status is no longer "running" (finished,
failed, interrupted) or its record names another process (a resumed job has its own watchdog).

Marking is a compare-and-swap under the job folder's lock (`src.job_folder.job_lock`), the lock a
resuming job claims the folder under: job.json becomes "killed" only if it still says "running" for the
dead pid. MLflow is imported only after that (it takes seconds), and the run is set KILLED only if,
again under the lock, job.json still says "killed" for that pid: a job that resumed meanwhile keeps its
live run.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

POLL_SECONDS = 0.5
KILLED_ERROR = "the process died without a word (SIGKILL, out of memory?)"


def mark_killed(job_dir: Path, pid: int) -> bool:
    """job.json "killed" if, under the lock, it still says "running" for ``pid`` and ``pid`` is dead;
    returns whether it marked."""
    from src.job_folder import job_lock, pid_alive, read_job, write_job

    with job_lock(job_dir):
        record = read_job(job_dir) or {}
        if record.get("status") != "running" or record.get("pid") != pid or (pid and pid_alive(pid)):
            return False
        write_job(job_dir, status="killed", error=KILLED_ERROR)
        return True


def mark_run_killed(job_dir: Path, pid: int, tracking_uri: str, run_id: str) -> bool:
    """The MLflow run KILLED, if job.json still says "killed" for ``pid`` and names ``run_id`` (no job
    resumed it meanwhile); checked and written under the lock. Returns whether it marked."""
    import mlflow  # seconds: only once the job is known dead

    from src.job_folder import job_lock, read_job

    with job_lock(job_dir):
        record = read_job(job_dir) or {}
        if record.get("status") != "killed" or record.get("pid") != pid or record.get("mlflow_run_id") != run_id:
            return False
        mlflow.MlflowClient(tracking_uri).set_terminated(run_id, "KILLED")
        return True


def watch(pid: int, job_dir: Path, tracking_uri: str | None = None, run_id: str | None = None) -> str:
    """Block until the job ends; returns "ended" (it said so, or another process took the folder over) or
    "killed" (its process died silently and this watchdog marked it)."""
    from src.job_folder import pid_alive, read_job

    while True:
        record = read_job(job_dir) or {}
        if record.get("status") != "running" or record.get("pid") != pid:
            return "ended"
        if not pid_alive(pid):
            if not mark_killed(job_dir, pid):
                return "ended"
            if tracking_uri and run_id:
                mark_run_killed(job_dir, pid, tracking_uri, run_id)
            return "killed"
        time.sleep(POLL_SECONDS)


if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) not in (2, 3):
        raise SystemExit(__doc__.splitlines()[3].strip())
    watch(int(args[0]), Path(args[1]), os.environ.get("MLFLOW_TRACKING_URI"), args[2] if len(args) == 3 else None)
