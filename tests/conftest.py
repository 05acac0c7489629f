"""Shared fixtures. Shared helpers (paths, the composed config, the tiny job) live in tests/helpers/."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pytest  # noqa: E402

# Re-exported for test files written before tests/helpers/ existed; import them from tests.helpers.config.
from tests.helpers.config import CONF, ROOT, TINY_JOB, compose_config  # noqa: E402, F401


@pytest.fixture
def tiny_job() -> list[str]:
    return list(TINY_JOB)


@pytest.fixture
def tracking_uri(tmp_path, monkeypatch) -> str:
    """A throw-away SQLite MLflow store, selected through $MLFLOW_TRACKING_URI."""
    uri = f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    (tmp_path / "mlruns").mkdir()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri
