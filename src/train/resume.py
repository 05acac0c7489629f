"""Resuming killed jobs: training state written atomically every epoch, found again by the job's config.

Every job writes ``job.json`` into its folder (the config's fingerprint, its status and its MLflow run
id) and, after every epoch, its training state: model and optimizer variables (which hold the
iteration count, hence the learning-rate schedule) plus the number of finished epochs. The data stream
is a pure function of (seed, epoch) (src/data/pipeline.py), so a job restarted at epoch k sees the
batches an uninterrupted one would. Re-running the same command finds the newest earlier job with the
same fingerprint under the same output root and continues it in its folder and MLflow run; a finished
sweep point is skipped instead.

Written by hand because Keras' `BackupAndRestore` writes the weights and the epoch counter as two
plain file writes: a kill between (or during) them leaves a state that resumes from the wrong epoch.
Here the weights go to a new file and a pointer file is replaced atomically (write, fsync, rename).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
from pathlib import Path
from typing import Any

import keras
from omegaconf import DictConfig, OmegaConf

from src.atomic_files import atomic_path, atomic_write_text
from src.errors import CheckpointError, ConfigError
from src.job_folder import job_folders, job_lock, job_record_path, pid_alive, read_job, write_job

STATE_DIR = "state"
POINTER = "latest.json"
#: Config fields that say where and how a job runs, or what it is checked against, not what it computes:
#: left out of the fingerprint.
VOLATILE_FIELDS = ("output_dir", "parent_run_id", "resume", "resume_root", "skip_finished", "run_name",
                   "train.progress_every_s", "target")


#: Config fields added after jobs had been recorded, in the order they were added, with their defaults.
#: At its default such a field is left out of the fingerprint, so a job recorded before it existed keeps
#: its fingerprint; `accepted_fingerprints` also matches records written while only the older ones existed.
LATER_FIELDS: tuple[tuple[str, str, Any], ...] = (
    ("train", "sparsity", None),
    ("train", "precision", "float32"),
    ("train", "distribution", "none"),
    ("data", "subset_seed", None),
)


def _digest(resolved: dict) -> str:
    return hashlib.sha256(json.dumps(resolved, sort_keys=True, default=str).encode()).hexdigest()


def _resolved_without_volatile(cfg: DictConfig) -> dict:
    resolved = OmegaConf.to_container(cfg, resolve=True)
    for key in VOLATILE_FIELDS:
        section, _, name = key.rpartition(".")  # "train.progress_every_s" or a top-level key
        (resolved.get(section, {}) if section else resolved).pop(name, None)
    return resolved


def _without_later_fields(resolved: dict, fields: tuple[tuple[str, str, Any], ...]) -> dict:
    resolved = json.loads(json.dumps(resolved, default=str))  # a deep copy
    for section, key, default in fields:
        if key in resolved.get(section, {}) and resolved[section][key] == default:
            del resolved[section][key]
    return resolved


def job_fingerprint(cfg: DictConfig) -> str:
    """SHA-256 of the resolved config without the fields that only place the job (VOLATILE_FIELDS) and
    without LATER_FIELDS at their defaults."""
    return _digest(_without_later_fields(_resolved_without_volatile(cfg), LATER_FIELDS))


def accepted_fingerprints(cfg: DictConfig) -> set[str]:
    """`job_fingerprint` and the fingerprints the same config had while only the first k LATER_FIELDS
    existed (written at their defaults): an earlier job with any of them is this job."""
    resolved = _resolved_without_volatile(cfg)
    return {_digest(_without_later_fields(resolved, LATER_FIELDS[k:])) for k in range(len(LATER_FIELDS) + 1)}


def find_previous_job(fingerprints: str | set[str], root: Path, exclude: Path | None = None) -> tuple[Path, dict] | None:
    """The newest job folder under ``root`` (`job_folders`) whose config has one of ``fingerprints``."""
    accepted = {fingerprints} if isinstance(fingerprints, str) else set(fingerprints)
    found = []
    for job_dir in job_folders(root):
        if exclude is not None and job_dir.resolve() == Path(exclude).resolve():
            continue
        record = read_job(job_dir)
        if record and record.get("fingerprint") in accepted:
            found.append((job_record_path(job_dir).stat().st_mtime, job_dir, record))
    if not found:
        return None
    _, job_dir, record = max(found, key=lambda item: item[0])
    return job_dir, record


def earlier_job(cfg: DictConfig, fingerprint: str) -> tuple[Path, dict] | None:
    """An earlier job with this config (``fingerprint`` or one of its `accepted_fingerprints`): the job's
    own folder (a fixed ``hydra.run.dir``), else the newest one under ``resume_root`` (src.run sets it to
    the experiment's output folder); None with ``resume=never``."""
    out = Path(cfg.output_dir)
    if cfg.get("resume", "auto") == "never":
        return None
    accepted = {fingerprint} | accepted_fingerprints(cfg)
    own = read_job(out)
    if own and own.get("fingerprint") in accepted:
        return out, own
    if cfg.get("resume_root"):
        return find_previous_job(accepted, Path(cfg.resume_root), exclude=out)
    return None


def _other_process_on_this_host(record: dict[str, Any]) -> bool:
    """The record says "running" for a process of this host other than this one."""
    return (record.get("status") == "running" and record.get("pid") != os.getpid()
            and record.get("host") == socket.gethostname())


def running_elsewhere(record: dict[str, Any]) -> bool:
    """Whether the job ``record`` describes is marked running by a live process other than this one
    (on this host; a recycled pid reads as alive, and the error then names ``resume=never``)."""
    return _other_process_on_this_host(record) and bool(record.get("pid")) and pid_alive(record["pid"])


def reap_dead_jobs(root: Path) -> list[Path]:
    """Mark the jobs under ``root`` that say "running" but whose process on this host is gone (SIGKILL,
    a lost machine) as "killed"; returns their folders. The job's watchdog normally does this; this is
    the fallback, run by the next job of the experiment. Each mark is the watchdog's compare-and-swap."""
    from src.train.watchdog import mark_killed

    reaped = []
    for job_dir in job_folders(root):
        record = read_job(job_dir)
        if record and _other_process_on_this_host(record) and not running_elsewhere(record):
            if mark_killed(job_dir, record.get("pid")):
                reaped.append(job_dir)
    return reaped


def claim_job(job_dir: Path, fresh: bool, **fields: Any) -> dict[str, Any]:
    """Mark ``job_dir``'s job "running" by this process: under `job_lock` (the lock a watchdog marks a
    job killed under), refuse with one line if a live process of this host holds it, else write
    ``fields`` with status "running", this pid and host. Returns the new record."""
    with job_lock(job_dir):
        record = read_job(job_dir) or {}
        if running_elsewhere(record):
            raise ConfigError(
                f"the same job is running now (pid {record['pid']} on {record['host']}) in {job_dir}; "
                "wait for it, or start a separate one with resume=never."
            )
        return write_job(job_dir, fresh=fresh, **fields, status="running", pid=os.getpid(), host=socket.gethostname())


def _read_pointer(job_dir: Path) -> dict[str, Any] | None:
    """``state/latest.json`` of ``job_dir`` (None: no state saved); a pointer that exists but cannot be read
    is refused with one line naming it and ``resume=never``, never taken for "no state"."""
    path = Path(job_dir) / STATE_DIR / POINTER
    try:
        text = path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):  # nothing saved (state/ may be a file: written by no epoch)
        return None
    except OSError as exc:
        problem = exc.strerror or str(exc)
    else:
        try:
            pointer = json.loads(text)
            if isinstance(pointer, dict) and isinstance(pointer.get("epoch"), int) and pointer["epoch"] >= 0 \
                    and isinstance(pointer.get("weights"), str) and "/" not in pointer["weights"]:
                return pointer
            problem = "it does not hold an epoch number and a weights file name"
        except ValueError as exc:
            problem = f"not JSON: {exc}"
    raise CheckpointError(
        f"the resume state {path} is corrupt ({problem}); re-run with resume=never to start afresh "
        f"(or delete {path.parent} to let this folder start over)."
    )


def saved_epoch(job_dir: Path) -> int:
    """Number of epochs whose training state ``job_dir`` holds (0: none); a corrupt pointer raises
    `CheckpointError`."""
    pointer = _read_pointer(job_dir)
    return 0 if pointer is None else pointer["epoch"]


def clear_state(job_dir: Path) -> None:
    """Remove a folder's saved training state (a new job in a reused folder must not resume it)."""
    state = Path(job_dir) / STATE_DIR
    if state.is_dir():
        shutil.rmtree(state)


def restore_state(model: keras.Model, job_dir: Path) -> int:
    """Load the last saved training state of ``job_dir`` into the compiled ``model``; return its epoch."""
    state = Path(job_dir) / STATE_DIR
    pointer = _read_pointer(job_dir)
    if pointer is None:
        return 0
    if model.optimizer is not None and not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    weights = state / str(pointer.get("weights"))
    try:
        model.load_weights(str(weights))
    except Exception as exc:  # noqa: BLE001 — h5py/Keras raise OSError, ValueError, KeyError… for bad files
        raise CheckpointError(
            f"the saved training state {weights} cannot be read ({type(exc).__name__}: {str(exc)[:200]}); it is "
            f"corrupt or was written by another architecture. Re-run with resume=never to start afresh, or "
            f"delete {state}."
        ) from None
    return int(pointer["epoch"])


class TrainingState(keras.callbacks.Callback):
    """After every epoch: the whole model to ``checkpoint`` (a loadable ``.keras`` file, written to a
    temporary name and renamed), model + optimizer variables to ``state/epoch-NNNN.weights.h5``, then the
    pointer ``state/latest.json`` replaced atomically, then older state files removed. Put it last in
    the callback list, so that an epoch's logs are written before the epoch counts as saved."""

    def __init__(self, job_dir: Path, checkpoint: Path | None = None):
        super().__init__()
        self.state = Path(job_dir) / STATE_DIR
        self.checkpoint = Path(checkpoint) if checkpoint else None

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        from src.train.callbacks import loss_diverged

        if loss_diverged((logs or {}).get("loss")):
            return  # a diverged epoch (LossGuard) must not replace the last good state
        if self.checkpoint is not None:
            self.checkpoint.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(self.checkpoint, suffix=".keras") as tmp:
                self.model.save(str(tmp))
        self.state.mkdir(parents=True, exist_ok=True)
        name = f"epoch-{epoch + 1:04d}.weights.h5"
        with atomic_path(self.state / name, suffix=".weights.h5") as tmp:
            self.model.save_weights(str(tmp), overwrite=True)
        atomic_write_text(self.state / POINTER, json.dumps({"epoch": epoch + 1, "weights": name}))
        for old in self.state.glob("epoch-*.weights.h5"):
            if old.name != name:
                old.unlink(missing_ok=True)
