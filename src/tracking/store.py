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
        f"MLflow tracking server {uri} is unreachable ({problem}); nothing was trained. "
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
    existing = client.get_experiment_by_name(name)
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
