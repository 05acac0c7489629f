"""Entry point: ``python -m src.run [experiment=NAME] [model=...] [data=...] [key=value ...]``, or
``python -m src.run --rerun <MLflow run id | job folder> [key=value ...]`` (src/tracking/rerun.py).

A thin Hydra wrapper around `src.train.train` (`src.distill.distill` for ``task=distill``,
`src.compress.job.compress` for ``task=compress``, `src.compress.dsd.dsd` for ``task=dsd``); user errors
(bad config, missing data, unknown model) print one clear message and exit with code 2 instead of a
traceback. In a sweep, a failing point is recorded and the sweep goes on (``fail_fast=false``)."""

from __future__ import annotations

if __name__ == "__main__":  # first of all: a stop while the modules below load (a second or more) is one line too
    from src.train.interrupt import exit_while_loading

    exit_while_loading()

import logging
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, open_dict

from src.config_schema import validate_config
from src.errors import ConfigError, SuiteError
from src.job_folder import HYDRA_RECORD_FILES
from src.redact import redact, redact_file, redact_logging
from src.train.interrupt import NOT_STARTED

log = logging.getLogger("src.run")

#: What a job does: train one network, a data-distillation job (teacher, pseudo-labels, students), a
#: Deep Compression job (base training, then compression in a child process) or a DSD job (dense, sparse,
#: re-dense phases and the equally long dense baseline).
TASKS = ("train", "distill", "compress", "dsd")
#: The folder of the job this process runs now (the last one Hydra made) and whether it is a sweep's point,
#: for the message of an interrupt.
_JOB: list[tuple[Path, bool]] = []


@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> float | None:
    hc = HydraConfig.get()
    _JOB[:] = [(Path(hc.runtime.output_dir), hc.mode == RunMode.MULTIRUN)]
    redact_logging()  # run.log and the console: no credentials of a tracking URI
    records = [Path(hc.runtime.output_dir) / str(hc.output_subdir) / name for name in
               HYDRA_RECORD_FILES] if hc.output_subdir else []
    for path in [*records, Path(hc.sweep.dir) / "multirun.yaml"]:  # Hydra's record of the job, likewise
        redact_file(path)
    with open_dict(cfg):
        # Always from this invocation, so a re-run of a recorded config writes to a new folder and
        # never nests under the parent run of the sweep it was recorded in.
        cfg.output_dir = hc.runtime.output_dir
        cfg.parent_run_id = None
        if not cfg.get("run_name"):  # a name that says what the run is (src/tracking/naming.py)
            from src.tracking.naming import run_name

            cfg.run_name = run_name(cfg.model.name, cfg.seed, hc.overrides.task)
        # Where earlier jobs of this experiment live (resume=auto looks there for the same config):
        # outputs/<experiment>/ for single jobs, multirun/<experiment>/ for sweeps, whose finished
        # points are skipped on a re-run.
        multirun = hc.mode == RunMode.MULTIRUN
        cfg.resume_root = str(Path(hc.sweep.dir if multirun else hc.run.dir).parent)
        cfg.skip_finished = multirun
        if multirun:
            from src.tracking.sweep import read_parent_run_id

            cfg.parent_run_id = read_parent_run_id(hc.sweep.dir)
    go_on = multirun and not cfg.get("fail_fast", False)
    try:
        validate_config(cfg)  # checked before Hydra started too, except for configs given by --config-path
        run_task = _task(cfg.get("task", "train"))
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
        _report(exc)
        if go_on:  # the sweep goes on; SweepSummaryCallback lists this point at the end
            _record_failure(cfg, exc)
            return None
        if isinstance(exc, ConfigError) and not multirun:
            _drop_refused_folder(Path(cfg.output_dir), f"{hc.job.name}.log")
        sys.exit(2)
    except Exception as exc:  # noqa: BLE001 — a bug in one point must not cost the sweep its other points
        if not go_on:
            raise
        log.exception("point failed (the sweep goes on; fail_fast=true stops it instead)")
        _record_failure(cfg, exc)
        return None
    return results.get("test_accuracy")


def _task(task: str) -> Callable[[DictConfig], dict]:
    """The function that runs ``task`` (imported only now: Keras and TensorFlow take seconds)."""
    if task not in TASKS:
        raise ConfigError(f"task={task!r} is unknown; use one of {', '.join(TASKS)}.")
    if task == "distill":
        from src.distill import distill as run_task
    elif task == "compress":
        from src.compress.job import compress as run_task
    elif task == "dsd":
        from src.compress.dsd import dsd as run_task
    else:
        from src.train import train as run_task
    return run_task


def _report(exc: BaseException) -> None:
    """The error once on the console (stderr) and in the job's log file (not again on stdout)."""
    print(f"error: {redact(str(exc))}", file=sys.stderr)
    record = log.makeRecord(log.name, logging.ERROR, __file__, 0, "%s", (exc,), None)
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handle(record)


def _drop_refused_folder(out: Path, log_name: str) -> None:
    """Remove the folder Hydra made for a job whose config was refused before it trained or tracked anything:
    it holds only Hydra's record, the log and a failed job.json (no MLflow run)."""
    from src.job_folder import HYDRA_DIR, JOB_FILE, LOCK_FILE, POINTER_FILE, read_job

    if not out.is_dir() or (read_job(out) or {}).get("mlflow_run_id"):
        return
    if {p.name for p in out.iterdir()} <= {HYDRA_DIR, log_name, JOB_FILE, POINTER_FILE, LOCK_FILE}:
        shutil.rmtree(out, ignore_errors=True)


def _record_failure(cfg: DictConfig, exc: BaseException) -> None:
    """Mark the point's folder failed when the job failed before writing its own record."""
    from src.job_folder import read_job, write_job

    out = Path(cfg.output_dir)
    if (read_job(out) or {}).get("status") not in ("failed", "interrupted"):
        write_job(out, status="failed", error=f"{type(exc).__name__}: {exc}"[:500])


def _interrupted(argv: list[str], job_dir: Path | None, sweep: bool) -> None:
    """One line instead of a traceback when the job is stopped (Ctrl-C, SIGTERM), saying what its record
    says and what to run; exit status 130."""
    import shlex

    from src.job_folder import POINTER_FILE, read_job

    again = f"  python -m src.run {shlex.join(argv)}"
    if sweep:
        print(f"interrupted: the sweep stopped. Re-run it to skip its finished points and resume the rest:\n{again}",
              file=sys.stderr)
        sys.exit(130)
    if job_dir is not None and (job_dir / POINTER_FILE).is_file():  # a resumed job lives in an earlier folder
        job_dir = Path((job_dir / POINTER_FILE).read_text().strip())
    status = (read_job(job_dir) or {}).get("status") if job_dir is not None else None
    if status == "interrupted":
        print(f"interrupted: the job is marked so. To resume it from its last finished epoch, re-run:\n{again}",
              file=sys.stderr)
    elif status == "finished":
        print(f"interrupted after the job finished: its results are in {job_dir}.", file=sys.stderr)
    else:
        print(f"{NOT_STARTED}. To start it, re-run:\n{again}", file=sys.stderr)
    sys.exit(130)


def _cli(verbose: bool, command: list[str]) -> None:
    from src.cli_checks import check_overrides, check_values
    from src.console import quiet_tensorflow_import

    # Before Hydra starts: a refused config creates no output folder and opens no MLflow run.
    problem = check_overrides(command) or check_values(command)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        sys.exit(2)
    quiet_tensorflow_import(verbose)  # before any of our modules imports TensorFlow
    from src.tracking.rerun import rerun_argv

    try:
        rerun = rerun_argv(sys.argv[1:])  # --rerun <run id | job folder>: its recorded config
    except SuiteError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    if rerun is not None:
        sys.argv = [sys.argv[0], *rerun]
    main()


if __name__ == "__main__":
    from src.console import pop_flag
    from src.train.interrupt import install_sigterm_interrupt

    verbose = pop_flag(sys.argv, "--verbose")  # TensorFlow's start-up notices and tracebacks of interrupts
    command = sys.argv[1:]
    try:
        install_sigterm_interrupt()  # from here on, SIGTERM raises KeyboardInterrupt (src/train/interrupt.py)
        _cli(verbose, command)
    except KeyboardInterrupt:
        if verbose:
            raise
        _interrupted(command, *(_JOB[0] if _JOB else (None, False)))
