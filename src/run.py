"""Entry point: ``python -m src.run [experiment=NAME] [model=...] [data=...] [key=value ...]``.

A thin Hydra wrapper around `src.train.train` (or `src.distill.distill` for ``task=distill``); user errors (bad config, missing data, unknown
model) print one clear message and exit with code 2 instead of a traceback."""

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

log = logging.getLogger("src.run")

#: What a job does: train one network, or a data-distillation job (teacher, pseudo-labels, students).
TASKS = ("train", "distill")


@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> float | None:
    hc = HydraConfig.get()
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
    else:
        from src.train import train as run_task

    try:
        results = run_task(cfg)
    except SuiteError as exc:
        log.error("%s", exc)
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    return results.get("test_accuracy")


if __name__ == "__main__":
    from src.cli_checks import check_overrides

    problem = check_overrides(sys.argv[1:])
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        sys.exit(2)
    main()
