"""The end of a sweep: which points failed, and the sweep's exit status.

A failing point does not stop a sweep (unless ``fail_fast=true``): `src.run` records the failure in
the point's ``job.json`` and its MLflow run, and returns, so Hydra launches the next point. When all
points have run, this callback prints a table of every point (src.train.summary.sweep_table), lists the
failed ones with their overrides and error, tags the
sweep's MLflow parent run, and ends the command with exit code 1. The summary is read from the job
folders, so it also covers points run by other processes (joblib launcher). Re-running the same
command re-runs only the failed and unfinished points (finished ones are skipped).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from src.train.jobfile import POINTER_FILE, read_job


#: job.json statuses of a point that did not finish.
NOT_FINISHED = ("failed", "interrupted", "killed", "running", "carried")


def _overrides(point_dir: Path) -> list[str]:
    """The point's overrides as Hydra recorded them in ``.hydra/overrides.yaml``."""
    try:
        return [str(o) for o in yaml.safe_load((point_dir / ".hydra" / "overrides.yaml").read_text()) or []]
    except (OSError, yaml.YAMLError):
        return []


def point_dirs(sweep_dir: Path) -> list[Path]:
    """The sweep's point folders (0, 1, ...) in order."""
    return sorted((p for p in Path(sweep_dir).iterdir() if p.is_dir() and p.name.isdigit()), key=lambda p: int(p.name))


def failed_points(sweep_dir: Path) -> list[tuple[str, str, str]]:
    """(point folder, the overrides that tell it from the other points, status + error) of every point of
    the sweep that did not finish."""
    points = point_dirs(sweep_dir)
    overrides = {p.name: _overrides(p) for p in points}
    shared = set.intersection(*(set(o) for o in overrides.values())) if len(points) > 1 else set()
    failures = []
    for point in points:
        record = read_job(point) or {}
        resumed = point / POINTER_FILE
        if resumed.exists():  # the point continued an earlier job in that job's folder
            record = read_job(Path(resumed.read_text().strip())) or record
        status = record.get("status", "failed")
        if not record or status in NOT_FINISHED:
            error = record.get("error") or "no job record: it failed before it started"
            own = " ".join(o for o in overrides[point.name] if o not in shared) or point.name
            failures.append((point.name, own, f"{status}: {error}"))
    return failures


class SweepSummaryCallback(Callback):
    """Lists a sweep's failed points at its end and makes the command exit 1 if there are any."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        if not sweep_dir.is_dir():
            return
        failures = failed_points(sweep_dir)
        points = len(point_dirs(sweep_dir))
        from src.train.summary import sweep_table

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
