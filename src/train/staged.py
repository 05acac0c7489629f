"""Jobs made of several trainings (data distillation's teacher and students, DSD's dense, sparse and
re-dense phases): one job folder and MLflow run, each training an ordinary `src.train.train` job in a
sub-folder and a nested run.

A killed staged job resumes stage by stage: re-running the command finds the job again by its config's
fingerprint (`src.train.resume.earlier_job`), finished sub-trainings are skipped and an unfinished one
continues from its last epoch. A finished job is not run again.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from src.job_folder import (
    RESULTS_FILE,
    config_path,
    has_results,
    mark_stopped,
    point_to_job,
    read_results,
    write_config,
    write_job,
    write_results,
)
from src.tracking.provenance import git_info
from src.train.interrupt import sigterm_as_interrupt
from src.train.resume import earlier_job, job_fingerprint

log = logging.getLogger(__name__)


def _job_folder(cfg: DictConfig, fingerprint: str) -> tuple[Path, dict]:
    """This job's folder: an earlier unfinished (or, in a sweep, finished) one with the same config, else output_dir."""
    out = Path(cfg.output_dir)
    previous = earlier_job(cfg, fingerprint)
    if previous and (previous[0] == out or previous[1].get("status") != "finished" or cfg.get("skip_finished")):
        if previous[0] != out:
            log.info("continuing the earlier %s job in %s (same config)", cfg.task, previous[0])
        return previous
    return out, {}


def sub_config(cfg: DictConfig, name: str, folder: Path, run_id: str | None, **overrides: Any) -> DictConfig:
    """The plain training config of one stage: the job's config without its task block (``cfg[cfg.task]``),
    in ``folder/name``, a nested MLflow run named ``name``, with dotted-key ``overrides``."""
    sub = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    with open_dict(sub):
        sub.pop(cfg.task, None)
        sub.task = "train"
        sub.output_dir = str(folder / name)
        sub.parent_run_id = run_id
        sub.run_name = name
        sub.resume_root = None
        sub.skip_finished = True  # a finished stage is not trained again
        for key, value in overrides.items():
            OmegaConf.update(sub, key, value, merge=True)
    return sub


def run_staged_job(
    cfg: DictConfig,
    body: Callable[[DictConfig, Path, str | None], dict[str, Any]],
    metrics: Callable[[dict[str, Any]], dict[str, float]],
    artifacts: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Run (or resume) the staged job: ``body(cfg, out, run_id)`` trains the stages and returns the results,
    written to ``out/results.json`` and logged to the job's MLflow run as ``metrics(results)`` with
    ``artifacts`` (file names in ``out``)."""
    from src.train.loop import mark_run_killed, tracking_run

    started = time.perf_counter()
    fingerprint = job_fingerprint(cfg)
    out, record = _job_folder(cfg, fingerprint)
    point_to_job(Path(cfg.output_dir), out)
    if record.get("status") == "finished" and has_results(out):
        log.info("%s job finished before in %s with the same config: skipped", cfg.task, out)
        return read_results(out)
    out.mkdir(parents=True, exist_ok=True)
    with sigterm_as_interrupt():  # from before the claim: a stop at any point after it is recorded
        try:
            write_job(out, fresh=not record, fingerprint=fingerprint, status="running", pid=os.getpid(),
                      host=socket.gethostname(), resumes=int(record.get("resumes", -1)) + 1, error=None,
                      **git_info())
            write_config(out, cfg)  # resolved, no credentials
            with tracking_run(cfg, record.get("mlflow_run_id")) as run:
                run_id = run.info.run_id if run else None
                if run and not record.get("mlflow_run_id"):
                    write_job(out, mlflow_run_id=run_id)
                    _log_job_inputs(cfg, out)
                results = body(cfg, out, run_id)
                results["wall_seconds"] = time.perf_counter() - started  # this invocation (resumed: since resuming)
                results.update(git_info())
                write_results(out, results)
                if run:
                    import mlflow

                    mlflow.log_metrics(metrics(results))
                    for name in (RESULTS_FILE, *artifacts):
                        mlflow.log_artifact(str(out / name))
            write_job(out, status="finished")
        except BaseException as exc:
            interrupted = isinstance(exc, KeyboardInterrupt)
            marked = mark_stopped(out, "interrupted" if interrupted else "failed", exc)
            if interrupted and marked and marked.get("mlflow_run_id") and cfg.logger.get("enabled", True):
                mark_run_killed(cfg, marked["mlflow_run_id"])
            raise
    return results


def _log_job_inputs(cfg: DictConfig, out: Path) -> None:
    import mlflow

    from src.tracking import flatten_config

    mlflow.log_params(flatten_config(OmegaConf.to_container(cfg, resolve=True)))
    mlflow.set_tag("task", cfg.task)
    mlflow.log_artifact(str(config_path(out)))
