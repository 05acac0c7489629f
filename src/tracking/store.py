"""Where runs are stored: ``$MLFLOW_TRACKING_URI`` > config ``logger.tracking_uri`` > the local
SQLite store ``sqlite:///mlruns/mlflow.db`` with artifacts under ``mlruns/artifacts`` (MLflow ≥ 3.13
refuses the old ``./mlruns`` file store). A server URI is checked before training starts, so a job
never trains for an hour and then loses its results. A corrupt or full store is reported in one line
naming its file and the fix (`store_problem`), and no message shows a URI's credentials (src/redact.py)."""

from __future__ import annotations

import errno
import os
import sqlite3
import urllib.error
import urllib.request
from pathlib import Path

import mlflow

from src.errors import ConfigError, SuiteError
from src.redact import redact

DEFAULT_STORE_DIR = Path("mlruns")
SQLITE_HEADER = b"SQLite format 3\x00"
#: sqlite's words for a damaged file, and for a full disk or quota.
_CORRUPT = ("file is not a database", "malformed", "file is encrypted")
_FULL = ("database or disk is full", "disk i/o error")


class StoreError(SuiteError):
    """The MLflow store cannot be used: its file is corrupt, or its disk is full."""


def _sqlite_path(uri: str | None) -> Path | None:
    return Path(uri[len("sqlite:///"):]) if uri and uri.startswith("sqlite:///") else None


def _corrupt_message(db: Path, detail: str) -> str:
    return (f"the MLflow store {db} is corrupt ({detail}); move it aside (mv {db} {db}.corrupt) to start a new "
            "store there, or point MLFLOW_TRACKING_URI at another one")


def store_problem(exc: BaseException, uri: str | None = None) -> str | None:
    """One line naming the store's file and the fix when ``exc`` (or an exception it was raised from) says
    the MLflow store at ``uri`` (default: MLflow's current one) is corrupt or its disk is full; else None."""
    uri = uri or mlflow.get_tracking_uri()
    db = _sqlite_path(uri)
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        text = str(exc).lower()
        if isinstance(exc, sqlite3.Error) or type(exc).__module__.startswith("sqlalchemy"):
            where = db or redact(uri)
            if any(word in text for word in _CORRUPT):
                return _corrupt_message(where, str(exc).splitlines()[0][:120])
            if any(word in text for word in _FULL):
                return (f"the MLflow store {where} cannot grow ({str(exc).splitlines()[0][:120]}): its disk is full; "
                        f"free space on it or point MLFLOW_TRACKING_URI at a store on another disk")
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT) and db is not None:
            filename = Path(str(exc.filename or "")).resolve()
            if exc.filename and filename.is_relative_to(db.resolve().parent):
                return (f"the MLflow store {db.parent} is full ({exc.strerror} writing {exc.filename}); free space "
                        f"on its disk or point MLFLOW_TRACKING_URI at a store on another disk")
        exc = exc.__cause__ or exc.__context__
    return None


def _check_sqlite_file(db: Path) -> None:
    """A store file that is not SQLite (damaged, or another file) is refused before anything runs."""
    try:
        with open(db, "rb") as fh:
            header = fh.read(len(SQLITE_HEADER))
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StoreError(f"the MLflow store {db} cannot be read ({exc.strerror}); fix its permissions or point "
                         "MLFLOW_TRACKING_URI at another store") from None
    if header and header != SQLITE_HEADER:
        raise StoreError(_corrupt_message(db, "it is not an SQLite file"))


def default_tracking_uri(store_dir: Path = DEFAULT_STORE_DIR) -> str:
    return f"sqlite:///{(store_dir / 'mlflow.db').resolve()}"


def resolve_tracking_uri(configured: str | None = None, store_dir: Path = DEFAULT_STORE_DIR,
                         explicit: bool = False) -> str:
    """The tracking URI to use, created (SQLite folder) or checked (server health) up front.
    ``explicit``: ``configured`` (a command-line flag) wins over ``$MLFLOW_TRACKING_URI``."""
    uri = ((configured if explicit else None) or os.environ.get("MLFLOW_TRACKING_URI") or configured
           or default_tracking_uri(store_dir))
    if uri.startswith(("http://", "https://")):
        _check_server(uri)
    elif uri.startswith("sqlite:///"):
        Path(uri[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        _check_sqlite_file(Path(uri[len("sqlite:///"):]))
    elif uri.startswith("file:") or "://" not in uri:
        raise ConfigError(
            f"MLflow tracking URI {redact(uri)!r} is a file store, which this MLflow refuses; "
            f"use the default {default_tracking_uri(store_dir)!r} or a server (http://host:port)."
        )
    return uri


def _check_server(uri: str, timeout: float = 5.0) -> None:
    health = uri.rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(health, timeout=timeout) as resp:  # noqa: S310 (http(s) only)
            if resp.status == 200:
                return
            problem = f"HTTP {resp.status}"
    except (urllib.error.URLError, OSError) as exc:
        problem = str(getattr(exc, "reason", exc))
    raise ConfigError(
        f"MLflow tracking server {redact(uri)} is unreachable ({redact(problem)}); nothing was trained. "
        "Start the server, fix MLFLOW_TRACKING_URI / logger.tracking_uri, or unset them to use the "
        f"local store {default_tracking_uri()}."
    )


NOTE_TAG = "mlflow.note.content"  # what the MLflow UI shows as an experiment's or run's description
#: MLflow 3's UI opens an experiment of this kind on its runs ("Model training"), not on the GenAI traces page.
KIND_TAGS = {"mlflow.experimentKind": "custom_model_development"}


def setup_experiment(name: str, tracking_uri: str, description: str | None = None) -> str:
    """Point MLflow at the store and return the id of experiment ``name`` (created if needed, with
    ``description`` unless it has one).

    With a SQLite store, artifacts go to ``artifacts/`` beside the database file."""
    mlflow.set_tracking_uri(tracking_uri)
    client = mlflow.MlflowClient(tracking_uri)
    try:
        existing = client.get_experiment_by_name(name)
    except Exception as exc:  # noqa: BLE001 — sqlalchemy's and MLflow's errors: kept unless we can name the fix
        problem = store_problem(exc, tracking_uri)
        if problem:
            raise StoreError(problem) from None
        raise
    if existing is not None:
        wanted = {**KIND_TAGS, **({NOTE_TAG: description} if description else {})}
        for key, value in wanted.items():
            if key not in existing.tags:
                client.set_experiment_tag(existing.experiment_id, key, value)
        return existing.experiment_id
    artifact_location = None
    if tracking_uri.startswith("sqlite:///"):
        artifact_location = (Path(tracking_uri[len("sqlite:///"):]).parent / "artifacts").resolve().as_uri()
    try:
        return client.create_experiment(name, artifact_location=artifact_location,
                                        tags={**KIND_TAGS, **({NOTE_TAG: description} if description else {})})
    except mlflow.exceptions.MlflowException:  # created meanwhile by a parallel sweep point
        return client.get_experiment_by_name(name).experiment_id
