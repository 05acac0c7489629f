"""MLflow tracking: the store, run provenance, per-epoch metrics, and sweep parent runs."""

from src.tracking.callback import MlflowMetrics
from src.tracking.provenance import compute_environment, flatten_config, git_info, library_versions
from src.tracking.store import resolve_tracking_uri, setup_experiment

__all__ = [
    "MlflowMetrics",
    "compute_environment",
    "flatten_config",
    "git_info",
    "library_versions",
    "resolve_tracking_uri",
    "setup_experiment",
]
