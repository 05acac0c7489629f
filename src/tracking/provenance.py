"""What a run needs to be reproduced: config, git commit, library versions, and the compute settings
that change its numbers (Keras backend, TensorFlow's oneDNN switch, the CPU)."""

from __future__ import annotations

import platform
import subprocess
from collections.abc import Mapping
from importlib import metadata
from typing import Any

from src.compute_env import compute_environment, tensorflow_onednn
from src.redact import redact

__all__ = ["compute_environment", "flatten_config", "git_info", "library_versions", "tensorflow_onednn"]

LIBRARIES = (
    "tensorflow", "keras", "tf-keras", "tensorflow-model-optimization", "hydra-core", "omegaconf",
    "mlflow", "ai-edge-litert", "numpy", "jax", "jaxlib",
)


def git_info(cwd: str | None = None) -> dict[str, str]:
    """Commit hash and whether the work tree has uncommitted changes ("unknown" outside git)."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return {"git_commit": "unknown", "git_dirty": "unknown"}
    return {"git_commit": commit, "git_dirty": str(dirty).lower()}


def library_versions(names: tuple[str, ...] = LIBRARIES) -> dict[str, str]:
    """Installed versions of ``names`` (default: the libraries that change results; ones not installed
    are left out), plus Python and platform."""
    versions = {"python": platform.python_version(), "platform": platform.platform()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return versions


def flatten_config(cfg: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """{'train': {'lr': 0.1}} -> {'train.lr': '0.1'}; lists are kept as one value; credentials (a
    ``logger.tracking_uri`` with a password) masked (src/redact.py)."""
    flat: dict[str, str] = {}
    for key, value in cfg.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten_config(value, prefix=f"{name}."))
        else:
            flat[name] = redact(str(value))
    return flat
