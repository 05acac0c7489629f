"""The job folder, the suite's central contract: every read and write of its files goes through here.

A training (or staged) job's folder holds

- ``job.json``: the record (config fingerprint, status, pid and host, MLflow run id, git commit, data
  fingerprint), read-modify-written under an flock on ``.job.lock`` (`job_lock`, `update_job_if`);
- ``config.yaml``: the resolved config the job ran with, credentials masked (`write_config`, `load_config`);
- ``history.csv``: one row per epoch, kept across resumptions (`read_history`, `truncate_history`);
- ``results.json``: the final metrics, present only when the job finished (`write_results`, `read_results`);
- ``model.keras``: the trained network (`load_trained_model`);
- ``resumed_in.txt`` in a Hydra folder whose job ran in another folder (`point_to_job`, `resolved_job_dir`).

`job_data` and `verification_set` give a job's data as it was trained (the `Source` its config names and
its normalisation), for the training loop and every tool that works on a finished job after it.

Every write here is atomic (src/atomic_files.py); ``history.csv`` is appended to once per epoch by the
training loop's CSV logger (`history_path`), and ``model.keras`` is saved by Keras (`model_path`).
The record half is kept free of Keras, TensorFlow and OmegaConf (imported inside the functions that
need them), so that the watchdog (src/train/watchdog.py) starts in milliseconds.
"""

from __future__ import annotations

import csv
import fcntl
import json
import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from src.atomic_files import atomic_write_text
from src.errors import ConfigError
from src.redact import redact, redact_tree

if TYPE_CHECKING:
    import keras
    import numpy as np
    from omegaconf import DictConfig

    from src.data.pipeline import Normalization
    from src.data.sources import Source

JOB_FILE = "job.json"
#: Held (flock) by whoever reads-then-writes job.json: a job claiming it, its watchdog marking it killed.
LOCK_FILE = ".job.lock"
CONFIG_FILE = "config.yaml"
HISTORY_FILE = "history.csv"
RESULTS_FILE = "results.json"
MODEL_FILE = "model.keras"
#: In a job folder whose job ran (or was found finished) in another folder: the path of that folder.
POINTER_FILE = "resumed_in.txt"
#: Hydra's own record of a point's config and overrides (written before the job starts), and its files.
HYDRA_DIR = ".hydra"
HYDRA_RECORD_FILES = ("config.yaml", "overrides.yaml", "hydra.yaml")
#: Training images an int8 export calibrates its activation ranges on.
CALIBRATION_IMAGES = 256

_held = threading.local()


# --- the record: job.json ---------------------------------------------------------------------------

def read_job(job_dir: Path) -> dict[str, Any] | None:
    """The job record of ``job_dir``, or None when there is none (or it cannot be read)."""
    try:
        return json.loads((Path(job_dir) / JOB_FILE).read_text())
    except (OSError, ValueError):
        return None


def job_record_path(job_dir: Path) -> Path:
    return Path(job_dir) / JOB_FILE


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


def job_folders(root: Path) -> Iterator[Path]:
    """The job folders (holding a job.json) at depth 1–3 under ``root``: outputs/<exp>/<job>,
    multirun/<exp>/<sweep>/<point>."""
    root = Path(root)
    if root.is_dir():
        for pattern in (f"*/{JOB_FILE}", f"*/*/{JOB_FILE}", f"*/*/*/{JOB_FILE}"):
            for path in root.glob(pattern):
                yield path.parent


def point_to_job(folder: Path, job_dir: Path) -> None:
    """Record in ``folder`` (a new Hydra folder) that its job lives in ``job_dir`` (resumed or skipped)."""
    if Path(folder).resolve() != Path(job_dir).resolve():
        Path(folder).mkdir(parents=True, exist_ok=True)
        atomic_write_text(Path(folder) / POINTER_FILE, f"{job_dir}\n")


def resolved_job_dir(folder: Path) -> Path:
    """The folder ``folder``'s job lives in: the one its ``resumed_in.txt`` names, else ``folder`` itself."""
    pointer = Path(folder) / POINTER_FILE
    return Path(pointer.read_text().strip()) if pointer.exists() else Path(folder)


# --- Hydra's record of a sweep point ----------------------------------------------------------------

def point_folders(sweep_dir: Path) -> list[Path]:
    """A sweep's point folders (0, 1, ...) in order."""
    return sorted((p for p in Path(sweep_dir).iterdir() if p.is_dir() and p.name.isdigit()), key=lambda p: int(p.name))


def point_overrides(point_dir: Path) -> list[str]:
    """The point's overrides as Hydra recorded them in ``.hydra/overrides.yaml`` (empty when unreadable)."""
    import yaml

    try:
        return [str(o) for o in yaml.safe_load((Path(point_dir) / HYDRA_DIR / HYDRA_RECORD_FILES[1]).read_text()) or []]
    except (OSError, yaml.YAMLError):
        return []


# --- config.yaml ------------------------------------------------------------------------------------

def has_config(job_dir: Path) -> bool:
    return (Path(job_dir) / CONFIG_FILE).exists()


def config_path(job_dir: Path) -> Path:
    return Path(job_dir) / CONFIG_FILE


def write_config(job_dir: Path, cfg: DictConfig) -> None:
    """``config.yaml``: ``cfg`` resolved, credentials masked, atomically."""
    from omegaconf import OmegaConf

    atomic_write_text(Path(job_dir) / CONFIG_FILE, redact(OmegaConf.to_yaml(cfg, resolve=True)))


def load_config(job_dir: Path) -> DictConfig:
    """The job's ``config.yaml`` as an OmegaConf config; ConfigError when the folder has none."""
    from omegaconf import OmegaConf

    path = Path(job_dir) / CONFIG_FILE
    if not path.exists():
        raise ConfigError(f"{job_dir} has no {CONFIG_FILE}: it is not a training job's folder (or it never started).")
    return OmegaConf.load(path)


def read_config(job_dir: Path, hydra_folder: Path | None = None) -> dict[str, Any]:
    """The job's ``config.yaml`` as plain containers (interpolations left as written); without one, Hydra's
    record of ``hydra_folder`` (a point that stopped before its job wrote its config); else {}."""
    from omegaconf import OmegaConf

    hydra_record = [Path(hydra_folder) / HYDRA_DIR / HYDRA_RECORD_FILES[0]] if hydra_folder else []
    for path in (Path(job_dir) / CONFIG_FILE, *hydra_record):
        if path.exists():
            return OmegaConf.to_container(OmegaConf.load(path), resolve=False)  # type: ignore[return-value]
    return {}


# --- history.csv ------------------------------------------------------------------------------------

def history_path(job_dir: Path) -> Path:
    return Path(job_dir) / HISTORY_FILE


def read_history_csv(path: Path) -> dict[str, list[float]]:
    """A per-epoch CSV log as columns of floats (a cell that is not a number reads as NaN); epochs are
    numbered from 1 (files written before that was so are renumbered)."""
    with Path(path).open() as fh:
        rows = list(csv.DictReader(fh))
    columns: dict[str, list[float]] = {}
    for row in rows:
        for key, value in row.items():
            try:
                columns.setdefault(key, []).append(float(value))
            except (TypeError, ValueError):
                columns.setdefault(key, []).append(float("nan"))
    if columns.get("epoch") and columns["epoch"][0] == 0:  # written before epochs were numbered from 1
        columns["epoch"] = [float(i + 1) for i in range(len(columns["epoch"]))]
    return columns


def read_history(job_dir: Path) -> dict[str, list[float]] | None:
    """The job's ``history.csv`` (every epoch, across resumptions) as columns; None when it has none."""
    path = history_path(job_dir)
    return read_history_csv(path) if path.exists() else None


def truncate_history(job_dir: Path, epochs: int) -> None:
    """Keep the first ``epochs`` rows of ``history.csv`` (an epoch logged but not saved is redone)."""
    path = history_path(job_dir)
    if not path.exists():
        return
    lines = path.read_text().splitlines(keepends=True)
    atomic_write_text(path, "".join(lines[: 1 + epochs]))


# --- results.json -----------------------------------------------------------------------------------

def results_path(job_dir: Path) -> Path:
    return Path(job_dir) / RESULTS_FILE


def has_results(job_dir: Path) -> bool:
    """Whether the job finished (only a finished job writes results.json)."""
    return results_path(job_dir).exists()


def read_results(job_dir: Path) -> dict[str, Any] | None:
    """The job's final metrics, or None when it has not finished (no results.json); a results.json that
    is not JSON raises ValueError."""
    path = results_path(job_dir)
    return json.loads(path.read_text()) if path.exists() else None


def write_results(job_dir: Path, results: Mapping[str, Any]) -> Path:
    """``results.json`` (atomically); returns its path."""
    path = results_path(job_dir)
    atomic_write_text(path, json.dumps(dict(results), indent=2))
    return path


# --- the job's data and model, as trained -----------------------------------------------------------

def model_path(job_dir: Path) -> Path:
    return Path(job_dir) / MODEL_FILE


def is_trained_job(job_dir: Path) -> bool:
    """Whether ``job_dir`` holds a trained model and the config it was trained with."""
    return model_path(job_dir).exists() and has_config(job_dir)


def load_trained_model(job_dir: Path, compile: bool = False) -> keras.Model:
    """The job's ``model.keras`` (safe mode, src/models/saving.py)."""
    from src.models.saving import load_model

    return load_model(model_path(job_dir), compile=compile)


def job_data(data_cfg: Mapping[str, Any]) -> tuple[Source, Normalization]:
    """The `Source` a job's ``data`` config names (in memory, or streamed from disk) and its normalisation."""
    from src.data import open_source
    from src.data.pipeline import Normalization

    source = open_source(data_cfg)
    norm = Normalization.create(data_cfg["normalize"]["mean"], data_cfg["normalize"]["std"], int(data_cfg["channels"]))
    return source, norm


def verification_set(source: Source, norm: Normalization, max_examples: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(normalised test images, their labels, normalised int8 calibration images) for verifying a TFLite
    export: the first ``max_examples`` test images (all for None; a streamed test set is never loaded
    whole: at most STREAMED_VERIFY_LIMIT) and CALIBRATION_IMAGES training images."""
    from src.data.sources import STREAMED_VERIFY_LIMIT

    if max_examples is None and source.streaming:
        max_examples = STREAMED_VERIFY_LIMIT
    x_test, y_test = source.take("test", max_examples)
    calibration = norm.apply_numpy(source.take("train", CALIBRATION_IMAGES)[0])
    return norm.apply_numpy(x_test), y_test, calibration


def job_arrays(job_dir: Path, what: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_test, y_test) of a finished job, adapted and normalised as it was trained, for
    tools that hold the whole data set in memory (``what`` names the tool in the error for a streamed one)."""
    from src.data import STREAMING, load_splits
    from src.data.pipeline import Normalization, adapt_images
    from src.errors import ConfigError

    d = load_config(job_dir).data
    if d.get("name") in STREAMING:
        raise ConfigError(f"{what} holds its data set in memory and cannot read data={d.get('name')}; use a job "
                          "trained on an in-memory data set (data=image_folder for a small folder).")
    splits = load_splits(d)
    norm = Normalization.create(d.normalize.mean, d.normalize.std, int(d.channels))

    def prep(images):
        return norm.apply_numpy(adapt_images(images, int(d.image_size), int(d.channels), d.get("resize", "pad")))

    return prep(splits.x_train), splits.y_train, prep(splits.x_test), splits.y_test
