"""The ablation report written at the end of every sweep, and attached to the sweep's MLflow parent run.

A Hydra callback (conf/config.yaml): when a multirun of an experiment that has an ablation spec
(src/report/ablation_specs.py) ends, `src.report.ablation.write_report` writes ``<sweep dir>/report/``
(README.md, results.csv, plots) and the folder is logged as the parent run's ``report`` artifacts.
The committed ``experiments/<name>/`` is written only on request (``python -m src.report
experiment=<name>``), so that smoke and test sweeps never overwrite it. A report that fails is a
warning: the points' results are safe in their folders and runs either way.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig


def report_sweep(config: DictConfig, sweep_dir: Path) -> Path | None:
    """Write the sweep's report into ``sweep_dir/report`` and log it to the parent run; the folder or None."""
    from src.report.ablation import write_report
    from src.report.ablation_specs import SPECS, ablation_name

    experiment = str(config.experiment_name)
    if ablation_name(experiment) not in SPECS or not sweep_dir.is_dir():
        return None
    out = sweep_dir / "report"
    write_report(experiment, [sweep_dir], out)
    print(f"sweep report: {out / 'README.md'}")
    from src.tracking.sweep import parent_run_client

    parent = parent_run_client(config, sweep_dir)
    if parent is not None:
        client, run_id = parent
        client.log_artifacts(run_id, str(out), artifact_path="report")
    return out


class SweepReportCallback(Callback):
    """Runs `report_sweep` when a multirun ends (registered last, so that Hydra, which calls end hooks in
    reverse order, runs it before the failure summary may end the command)."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        try:
            report_sweep(config, Path(config.hydra.sweep.dir))
        except Exception as exc:  # noqa: BLE001 - a report must never cost the sweep its exit status
            print(f"warning: the sweep report failed ({type(exc).__name__}: {exc}); "
                  f"write it with python -m src.report experiment={config.experiment_name}", file=sys.stderr)
