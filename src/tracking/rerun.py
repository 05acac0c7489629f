"""``python -m src.run --rerun <MLflow run id | job folder> [overrides]``: run a recorded job again.

The recorded ``config.yaml`` is taken from the job folder, or downloaded from the MLflow run (from the
store of `src.tracking.store`'s rule, so nothing writes a stray ``mlflow.db``). Before anything trains,
the run's git commit and data fingerprint are compared with the checkout's and the data's now; a
mismatch is a warning (the re-run may differ), not an error.
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from src.errors import ConfigError
from src.job_folder import CONFIG_FILE, has_config, job_data, load_config, read_job

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"


@dataclass
class Recorded:
    """What a finished (or stopped) job recorded about itself."""

    config_dir: Path  # holds config.yaml
    source: str  # the job folder or "MLflow run <id>"
    git_commit: str | None
    data_fingerprint: str | None


def from_job_folder(job_dir: Path) -> Recorded:
    if not has_config(job_dir):
        raise ConfigError(f"{job_dir} has no {CONFIG_FILE}; give a job folder (outputs/<experiment>/<time>) "
                          "or an MLflow run id.")
    record = read_job(job_dir) or {}
    return Recorded(job_dir, str(job_dir), record.get("git_commit"), record.get("data_fingerprint"))


def from_mlflow_run(run_id: str, into: Path) -> Recorded:
    import mlflow

    from src.tracking.store import resolve_tracking_uri

    uri = resolve_tracking_uri()
    client = mlflow.MlflowClient(uri)
    try:
        run = client.get_run(run_id)
    except mlflow.exceptions.MlflowException:
        raise ConfigError(f"--rerun {run_id}: no such job folder, and no such MLflow run in {uri}; set "
                          "MLFLOW_TRACKING_URI to the store the job logged to.") from None
    try:
        mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=CONFIG_FILE, dst_path=str(into),
                                            tracking_uri=uri)
    except (mlflow.exceptions.MlflowException, OSError) as exc:
        raise ConfigError(f"MLflow run {run_id} has no {CONFIG_FILE} artifact ({exc}); it cannot be re-run.") from None
    tags = run.data.tags
    return Recorded(into, f"MLflow run {run_id}", tags.get("git_commit"), tags.get("data_fingerprint"))


def fetch(source: str, into: Path) -> Recorded:
    """The recorded job named by ``source``: a job folder if one exists at that path, else an MLflow run id."""
    path = Path(source)
    if path.is_dir():
        return from_job_folder(path.resolve())
    return from_mlflow_run(source, into)


def mismatches(recorded: Recorded) -> list[str]:
    """Warnings for a git commit or data fingerprint that differ from the recorded ones."""
    from src.tracking.provenance import git_info

    warnings = []
    now = git_info(str(Path(__file__).resolve().parents[2]))
    if recorded.git_commit and now["git_commit"] != recorded.git_commit:
        warnings.append(f"the job ran at git commit {recorded.git_commit[:10]}, the checkout is at "
                        f"{now['git_commit'][:10]}: the code may differ (git checkout {recorded.git_commit[:10]} "
                        "to re-run it exactly)")
    elif now.get("git_dirty") == "true":
        warnings.append("the checkout has uncommitted changes: the code may differ from the recorded run's")
    if recorded.data_fingerprint:
        fingerprint = job_data(load_config(recorded.config_dir).data)[0].fingerprint
        if fingerprint != recorded.data_fingerprint:
            warnings.append(f"the data's fingerprint is {fingerprint}, the job's was {recorded.data_fingerprint}: "
                            "the images, labels or split differ")
    else:
        warnings.append("the job recorded no data fingerprint, so the data could not be checked")
    return warnings


def rerun_argv(argv: list[str]) -> list[str] | None:
    """Rewrite ``--rerun SOURCE [overrides]`` into Hydra's ``--config-path DIR --config-name config
    [overrides]`` (None when ``--rerun`` is absent), after printing provenance warnings to stderr."""
    if "--rerun" not in argv and not any(a.startswith("--rerun=") for a in argv):
        return None
    rest, source = [], None
    it = iter(argv)
    for arg in it:
        if arg == "--rerun":
            source = next(it, None)
        elif arg.startswith("--rerun="):
            source = arg.split("=", 1)[1]
        else:
            rest.append(arg)
    if not source:
        raise ConfigError("--rerun needs a job folder or an MLflow run id, e.g. --rerun outputs/<experiment>/<time>.")
    groups = [a for a in rest if "=" in a and (CONF_DIR / a.split("=")[0].lstrip("+~")).is_dir()]
    if groups:
        raise ConfigError(f"--rerun takes field overrides (train.epochs=3, logger.enabled=false), not config groups "
                          f"({', '.join(groups)}): the recorded config is already composed.")
    recorded = fetch(source, Path(tempfile.mkdtemp(prefix="rerun-")))
    print(f"re-running {recorded.source}", file=sys.stderr)
    for warning in mismatches(recorded):
        print(f"warning: {warning}", file=sys.stderr)
    run_dir = [] if any(a.startswith("hydra.run.dir=") for a in rest) else [
        "hydra.run.dir=outputs/${experiment_name}/${now:%Y-%m-%d_%H-%M-%S}"]
    return ["--config-path", str(recorded.config_dir), "--config-name", "config", *run_dir, *rest]
