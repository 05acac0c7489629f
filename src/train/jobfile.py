"""The job record ``job.json`` (fingerprint, status, pid, MLflow run id), written atomically.

Kept free of Keras and TensorFlow so that the watchdog (src/train/watchdog.py) starts in milliseconds.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from src.redact import redact_tree

JOB_FILE = "job.json"
#: Held (flock) by whoever reads-then-writes job.json: a job claiming it, its watchdog marking it killed.
LOCK_FILE = ".job.lock"
_held = threading.local()


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old or the new content, never a torn file."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_job(job_dir: Path) -> dict[str, Any] | None:
    try:
        return json.loads((Path(job_dir) / JOB_FILE).read_text())
    except (OSError, ValueError):
        return None


@contextmanager
def job_lock(job_dir: Path) -> Iterator[None]:
    """Hold the job folder's lock (an flock on ``.job.lock``, released when the process dies); re-entrant
    within a thread. Every read-modify-write of job.json runs under it, so a watchdog's "killed" and a
    resuming job's "running" cannot interleave."""
    key = str(Path(job_dir).resolve())
    held = getattr(_held, "dirs", None)
    if held is None:
        held = _held.dirs = set()
    if key in held:
        yield
        return
    fd = os.open(Path(job_dir) / LOCK_FILE, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        held.add(key)
        try:
            yield
        finally:
            held.discard(key)
    finally:
        os.close(fd)  # closing releases the flock


def write_job(job_dir: Path, fresh: bool = False, **fields: Any) -> dict[str, Any]:
    """Update ``job.json`` of ``job_dir`` with ``fields`` (atomically, under `job_lock`); a field given as
    None is removed, ``fresh`` drops the old record. Credentials in any value are masked (src/redact.py)."""
    with job_lock(job_dir):
        merged = {**({} if fresh else read_job(job_dir) or {}), **fields}
        record = redact_tree({key: value for key, value in merged.items() if value is not None})
        atomic_write_text(Path(job_dir) / JOB_FILE, json.dumps(record, indent=2))
    return record


def update_job_if(job_dir: Path, expected: dict[str, Any], **fields: Any) -> dict[str, Any] | None:
    """Compare-and-swap on job.json: under `job_lock`, write ``fields`` only if the record still holds
    every ``expected`` key/value (e.g. status "running" and the pid the caller saw die); returns the new
    record, or None (and writes nothing) when it changed meanwhile."""
    with job_lock(job_dir):
        record = read_job(job_dir) or {}
        if any(record.get(key) != value for key, value in expected.items()):
            return None
        return write_job(job_dir, **fields)


def mark_stopped(job_dir: Path, status: str, exc: BaseException) -> dict[str, Any] | None:
    """job.json ``status`` ("interrupted", "failed") with ``exc`` as its error, only over this process's own
    "running" claim: never over a finished job, nor over the record of a live job that refused the claim.
    Returns the new record, or None when it was not this process's to mark."""
    return update_job_if(job_dir, {"status": "running", "pid": os.getpid()}, status=status,
                         error=f"{type(exc).__name__}: {exc}"[:500])


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host (a recycled pid reads as alive)."""
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def job_folders(root: Path):
    """The job folders (holding a job.json) at depth 1–3 under ``root``: outputs/<exp>/<job>,
    multirun/<exp>/<sweep>/<point>."""
    root = Path(root)
    if root.is_dir():
        for pattern in (f"*/{JOB_FILE}", f"*/*/{JOB_FILE}", f"*/*/*/{JOB_FILE}"):
            for path in root.glob(pattern):
                yield path.parent



#: In a job folder whose job ran (or was found finished) in another folder: the path of that folder.
POINTER_FILE = "resumed_in.txt"


def point_to_job(folder: Path, job_dir: Path) -> None:
    """Record in ``folder`` (a new Hydra folder) that its job lives in ``job_dir`` (resumed or skipped)."""
    if Path(folder).resolve() != Path(job_dir).resolve():
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / POINTER_FILE).write_text(f"{job_dir}\n")
