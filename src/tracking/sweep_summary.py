"""The end of a sweep: which points failed, and the sweep's exit status.

A failing point does not stop a sweep (unless ``fail_fast=true``): `src.run` records the failure in
the point's ``job.json`` and its MLflow run, and returns, so Hydra launches the next point. When all
points have run, this callback prints a table of every point (`sweep_table`), lists the
failed ones with their overrides and error, tags the
sweep's MLflow parent run, and ends the command with exit code 1. The summary is read from the job
folders, so it also covers points run by other processes (joblib launcher). Re-running the same
command re-runs only the failed and unfinished points (finished ones are skipped).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from src.job_folder import point_folders, point_overrides, read_job, read_results, resolved_job_dir

#: job.json statuses of a point that did not finish.
NOT_FINISHED = ("failed", "interrupted", "killed", "running", "carried")


def failed_points(sweep_dir: Path) -> list[tuple[str, str, str]]:
    """(point folder, the overrides that tell it from the other points, status + error) of every point of
    the sweep that did not finish."""
    points = point_folders(sweep_dir)
    overrides = {p.name: point_overrides(p) for p in points}
    shared = set.intersection(*(set(o) for o in overrides.values())) if len(points) > 1 else set()
    failures = []
    for point in points:
        record = read_job(point) or {}
        job = resolved_job_dir(point)
        if job != point:  # the point continued an earlier job in that job's folder
            record = read_job(job) or record
        status = record.get("status", "failed")
        if not record or status in NOT_FINISHED:
            error = record.get("error") or "no job record: it failed before it started"
            own = " ".join(o for o in overrides[point.name] if o not in shared) or point.name
            failures.append((point.name, own, f"{status}: {error}"))
    return failures


def sweep_table(sweep_dir: Path) -> str:
    """One line per point of a sweep: its own overrides, status, test accuracy and TFLite agreement, then
    the report's folder when the sweep wrote one."""
    points = point_folders(sweep_dir)
    overrides = {p.name: point_overrides(p) for p in points}
    shared = set.intersection(*(set(o) for o in overrides.values())) if len(points) > 1 else set()
    rows = [f"{'point':>5}  {'status':<11} {'test acc':>8} {'tflite agr':>10}  overrides"]
    for point in points:
        job = resolved_job_dir(point)
        status = (read_job(job) or {}).get("status", "failed")
        try:
            results = read_results(job) or {}
        except (OSError, ValueError):
            results = {}
        acc, agreement = results.get("test_accuracy"), results.get("tflite_top1_agreement")
        own = " ".join(o for o in overrides[point.name] if o not in shared) or "-"
        rows.append(f"{point.name:>5}  {status:<11} {'-' if acc is None else f'{acc:.4f}':>8} "
                    f"{'-' if agreement is None else f'{agreement:.4f}':>10}  {own}")
    report = Path(sweep_dir) / "report"
    if report.is_dir():
        rows.append(f"report: {report}")
    return "\n".join(rows)


class SweepSummaryCallback(Callback):
    """Lists a sweep's failed points at its end and makes the command exit 1 if there are any."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        if not sweep_dir.is_dir():
            return
        failures = failed_points(sweep_dir)
        points = len(point_folders(sweep_dir))
        print(sweep_table(sweep_dir), flush=True)
        if not failures:
            print(f"sweep finished: all {points} points succeeded ({sweep_dir})")
            return
        lines = [f"sweep finished with {len(failures)} of {points} points failed ({sweep_dir}):"]
        lines += [f"  point {name} [{overrides}]: {error}" for name, overrides, error in failures]
        lines.append("Re-run the same command to run the failed points again (finished ones are skipped).")
        print("\n".join(lines), file=sys.stderr)
        _tag_parent_run(config, sweep_dir, failures)
        sys.exit(1)


def _tag_parent_run(config: DictConfig, sweep_dir: Path, failures: list[tuple[str, str, str]]) -> None:
    from src.tracking.sweep import parent_run_client

    parent = parent_run_client(config, sweep_dir)
    if parent is None:
        return
    client, run_id = parent
    client.set_tag(run_id, "failed_points", ", ".join(f"{n} [{o}]" for n, o, _ in failures)[:5000])
    client.set_terminated(run_id, "FAILED")
