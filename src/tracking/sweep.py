"""One parent MLflow run per Hydra sweep, holding each point as a nested child run.

The parent's id is written to ``<sweep dir>/mlflow_parent_run_id`` so that points run by other
processes (joblib launcher, SLURM) find it too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

PARENT_FILE = "mlflow_parent_run_id"


def parent_run_file(sweep_dir: str | Path) -> Path:
    return Path(sweep_dir) / PARENT_FILE


def read_parent_run_id(sweep_dir: str | Path) -> str | None:
    path = parent_run_file(sweep_dir)
    return path.read_text().strip() if path.exists() else None


def parent_run_client(config: DictConfig, sweep_dir: str | Path) -> tuple[Any, str] | None:
    """(MlflowClient on the configured store, the sweep's parent run id), or None when tracking is off
    or the sweep has no parent run."""
    run_id = read_parent_run_id(sweep_dir)
    if not config.logger.get("enabled", True) or not run_id:
        return None
    import mlflow

    from src.tracking import resolve_tracking_uri

    return mlflow.MlflowClient(resolve_tracking_uri(config.logger.get("tracking_uri"))), run_id


class MlflowSweepCallback(Callback):
    """Creates the parent run when a multirun starts and closes it when it ends."""

    def __init__(self) -> None:
        self.run_id: str | None = None
        self.uri: str | None = None

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        if not config.logger.get("enabled", True):
            return
        import mlflow

        from src.tracking import git_info, naming, resolve_tracking_uri, setup_experiment

        self.uri = resolve_tracking_uri(config.logger.get("tracking_uri"))
        choices = config.hydra.runtime.choices
        debug = choices.get("debug") if choices.get("debug") not in (None, "null") else None
        experiment = choices.get("experiment") if choices.get("experiment") not in (None, "null") else None
        experiment_id = setup_experiment(config.experiment_name, self.uri,
                                         naming.experiment_description(config, experiment))
        client = mlflow.MlflowClient(self.uri)
        sweep_dir = Path(config.hydra.sweep.dir)
        run = client.create_run(
            experiment_id,
            run_name=f"{config.experiment_name} sweep {sweep_dir.name}",
            tags={"sweep_dir": str(sweep_dir.resolve()), "sweep": "parent", **git_info(), **naming.debug_tags(debug),
                  "mlflow.note.content": f"The sweep `python -m src.run -m {' '.join(config.hydra.overrides.task)}`; "
                                         "its points are the nested runs."},
        )
        self.run_id = run.info.run_id
        sweep_dir.mkdir(parents=True, exist_ok=True)
        parent_run_file(sweep_dir).write_text(self.run_id)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if self.run_id and self.uri:
            import mlflow

            mlflow.MlflowClient(self.uri).set_terminated(self.run_id, "FINISHED")
