"""Entry point: ``python -m src.run [experiment=NAME] [model=...] [data=...] [key=value ...]``.

A thin Hydra wrapper around `src.train.train` (`src.distill.distill` for ``task=distill``,
`src.compress.job.compress` for ``task=compress``, `src.compress.dsd.dsd` for ``task=dsd``); user errors
(bad config, missing data, unknown model) print one clear message and exit with code 2 instead of a
traceback. In a sweep, a failing point is recorded and the sweep goes on (``fail_fast=false``)."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import hydra  # noqa: E402
from hydra.core.hydra_config import HydraConfig  # noqa: E402
from hydra.types import RunMode  # noqa: E402
from omegaconf import DictConfig, open_dict  # noqa: E402

from src.errors import SuiteError  # noqa: E402
from src.redact import redact, redact_file, redact_logging  # noqa: E402

log = logging.getLogger("src.run")

#: What a job does: train one network, a data-distillation job (teacher, pseudo-labels, students), a
#: Deep Compression job (base training, then compression in a child process) or a DSD job (dense, sparse,
#: re-dense phases and the equally long dense baseline).
TASKS = ("train", "distill", "compress", "dsd")


@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> float | None:
    hc = HydraConfig.get()
    redact_logging()  # run.log and the console: no credentials of a tracking URI
    records = [Path(hc.runtime.output_dir) / str(hc.output_subdir) / name for name in
               ("config.yaml", "overrides.yaml", "hydra.yaml")] if hc.output_subdir else []
    for path in [*records, Path(hc.sweep.dir) / "multirun.yaml"]:  # Hydra's record of the job, likewise
        redact_file(path)
    with open_dict(cfg):
        # Always from this invocation, so a re-run of a recorded config writes to a new folder and
        # never nests under the parent run of the sweep it was recorded in.
        cfg.output_dir = hc.runtime.output_dir
        cfg.parent_run_id = None
        # Where earlier jobs of this experiment live (resume=auto looks there for the same config):
        # outputs/<experiment>/ for single jobs, multirun/<experiment>/ for sweeps, whose finished
        # points are skipped on a re-run.
        multirun = hc.mode == RunMode.MULTIRUN
        cfg.resume_root = str(Path(hc.sweep.dir if multirun else hc.run.dir).parent)
        cfg.skip_finished = multirun
        if multirun:
            from src.tracking.sweep import read_parent_run_id

            cfg.parent_run_id = read_parent_run_id(hc.sweep.dir)
    task = cfg.get("task", "train")
    if task not in TASKS:
        print(f"error: task={task!r} is unknown; use one of {', '.join(TASKS)}.", file=sys.stderr)
        sys.exit(2)
    if task == "distill":
        from src.distill import distill as run_task
    elif task == "compress":
        from src.compress.job import compress as run_task
    elif task == "dsd":
        from src.compress.dsd import dsd as run_task
    else:
        from src.train import train as run_task

    go_on = multirun and not cfg.get("fail_fast", False)
    try:
        try:
            if cfg.get("logger") and cfg.logger.get("enabled", True):  # a bad store stops the job before its data loads
                from src.tracking.store import resolve_tracking_uri

                resolve_tracking_uri(cfg.logger.get("tracking_uri"))
            results = run_task(cfg)
        except Exception as exc:  # a corrupt or full MLflow store, raised deep in MLflow: one line too
            from src.tracking.store import StoreError, store_problem

            problem = None if isinstance(exc, SuiteError) else store_problem(exc)
            if problem is None:
                raise
            raise StoreError(problem) from None
    except SuiteError as exc:
        log.error("%s", exc)
        print(f"error: {redact(str(exc))}", file=sys.stderr)
        if go_on:  # the sweep goes on; SweepSummaryCallback lists this point at the end
            _record_failure(cfg, exc)
            return None
        sys.exit(2)
    except Exception as exc:  # noqa: BLE001 — a bug in one point must not cost the sweep its other points
        if not go_on:
            raise
        log.exception("point failed (the sweep goes on; fail_fast=true stops it instead)")
        _record_failure(cfg, exc)
        return None
    return results.get("test_accuracy")


def _record_failure(cfg: DictConfig, exc: BaseException) -> None:
    """Mark the point's folder failed when the job failed before writing its own record."""
    from src.train.jobfile import read_job, write_job

    out = Path(cfg.output_dir)
    if (read_job(out) or {}).get("status") not in ("failed", "interrupted"):
        write_job(out, status="failed", error=f"{type(exc).__name__}: {exc}"[:500])


if __name__ == "__main__":
    from src.cli_checks import check_overrides

    problem = check_overrides(sys.argv[1:])
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        sys.exit(2)
    main()
