"""Where runs are stored: ``$MLFLOW_TRACKING_URI`` > config ``logger.tracking_uri`` > the local
SQLite store ``sqlite:///mlruns/mlflow.db`` with artifacts under ``mlruns/artifacts`` (MLflow ≥ 3.13
refuses the old ``./mlruns`` file store). A server URI is checked before training starts, so a job
never trains for an hour and then loses its results."""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from pathlib import Path

import mlflow

from src.errors import ConfigError

DEFAULT_STORE_DIR = Path("mlruns")


def default_tracking_uri(store_dir: Path = DEFAULT_STORE_DIR) -> str:
    return f"sqlite:///{(store_dir / 'mlflow.db').resolve()}"


def resolve_tracking_uri(configured: str | None = None, store_dir: Path = DEFAULT_STORE_DIR) -> str:
    """The tracking URI to use, created (SQLite folder) or checked (server health) up front."""
    uri = os.environ.get("MLFLOW_TRACKING_URI") or configured or default_tracking_uri(store_dir)
    if uri.startswith(("http://", "https://")):
        _check_server(uri)
    elif uri.startswith("sqlite:///"):
        Path(uri[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    elif uri.startswith("file:") or "://" not in uri:
        raise ConfigError(
            f"MLflow tracking URI {uri!r} is a file store, which this MLflow refuses; "
            f"use the default {default_tracking_uri(store_dir)!r} or a server (http://host:port)."
        )
    return uri


def redact_uri(uri: str) -> str:
    """``uri`` with the password of its user part (``scheme://user:password@host``) replaced by ``***``,
    for messages and logs."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


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
        f"MLflow tracking server {redact_uri(uri)} is unreachable ({problem}); nothing was trained. "
        "Start the server, fix MLFLOW_TRACKING_URI / logger.tracking_uri, or unset them to use the "
        f"local store {default_tracking_uri()}."
    )


def setup_experiment(name: str, tracking_uri: str) -> str:
    """Point MLflow at the store and return the id of experiment ``name`` (created if needed).

    With a SQLite store, artifacts go to ``artifacts/`` beside the database file."""
    mlflow.set_tracking_uri(tracking_uri)
    client = mlflow.MlflowClient(tracking_uri)
    existing = client.get_experiment_by_name(name)
    if existing is not None:
        return existing.experiment_id
    artifact_location = None
    if tracking_uri.startswith("sqlite:///"):
        artifact_location = (Path(tracking_uri[len("sqlite:///"):]).parent / "artifacts").resolve().as_uri()
    try:
        return client.create_experiment(name, artifact_location=artifact_location)
    except mlflow.exceptions.MlflowException:  # created meanwhile by a parallel sweep point
        return client.get_experiment_by_name(name).experiment_id
