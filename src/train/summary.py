"""The end-of-job summary on the console: did the job keep its promise, where is everything.

A few lines, printed when a training job finishes:

- the test metric against the experiment's ``target`` (e.g. ``target: {test_accuracy: 0.93}``), pass or fail;
- each TFLite file's verification: top-1 agreement with Keras, max |Δlogit| and size;
- the job folder;
- the MLflow run id and the command that opens it in the UI.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from src.job_folder import results_path

log = logging.getLogger(__name__)


def target_lines(results: Mapping[str, Any], target: Mapping[str, float] | None) -> list[str]:
    """``test_accuracy 0.9360 >= target 0.93: PASS`` per metric of ``target`` (minimums), or the plain metric."""
    if not target:
        acc = results.get("test_accuracy")
        return [] if acc is None else [f"test accuracy {acc:.4f} (no target set: +target.test_accuracy=0.93 adds one)"]
    lines = []
    for metric, minimum in target.items():
        value = results.get(metric)
        if value is None:
            lines.append(f"{metric}: not measured, target {minimum}: FAIL")
        else:
            verdict = "PASS" if float(value) >= float(minimum) else "FAIL"
            lines.append(f"{metric} {float(value):.4f} vs target >= {minimum}: {verdict}")
    return lines


def tflite_lines(results: Mapping[str, Any], formats: list[str]) -> list[str]:
    """One line per exported format, from results' ``tflite_[<fmt>_]*`` figures."""
    lines = []
    for fmt in formats:
        prefix = "tflite_" if fmt == "float32" else f"tflite_{fmt}_"
        agreement = results.get(f"{prefix}top1_agreement")
        if agreement is None:
            continue
        size = results.get(f"{prefix}size_bytes") or 0
        examples = int(results.get(f"{prefix}num_examples") or 0)
        lines.append(f"TFLite {fmt}: top-1 agreement {agreement:.4f} with Keras on {examples:,} test images, "
                     f"max |Δlogit| {results.get(f'{prefix}max_abs_logit_diff', float('nan')):.2g}, "
                     f"{size / 2**20:.2f} MiB")
    return lines


def mlflow_lines(run_id: str, tracking_uri: str, experiment_id: str) -> list[str]:
    """The run id and how to open it: `mlflow ui` on a local store, the server's address otherwise."""
    path = f"#/experiments/{experiment_id}/runs/{run_id}"
    if tracking_uri.startswith(("http://", "https://")):
        return [f"MLflow run {run_id}: {tracking_uri.rstrip('/')}/{path}"]
    return [f"MLflow run {run_id}: open it with",
            f"  .venv/bin/mlflow ui --backend-store-uri {tracking_uri} --port 5000  # then http://127.0.0.1:5000/{path}"]


def job_summary(cfg: Mapping[str, Any], results: Mapping[str, Any], out: Path, debug: str | None = None) -> str:
    """The summary's text for a finished job with config ``cfg`` and ``results`` (results.json); ``debug``:
    the ``debug=`` option it ran under (its verdict is then no result)."""
    model, data = cfg["model"]["name"], cfg["data"]["name"]
    lines = [f"== {model} on {data}, seed {cfg['seed']} (experiment {cfg['experiment_name']}) =="]
    if debug:
        lines.append(f"a debug={debug} run: shrunk to check that the job works, so its figures are no result")
    lines += target_lines(results, cfg.get("target"))
    export = cfg.get("export") or {}
    if export.get("enabled"):
        lines += tflite_lines(results, list(export.get("formats") or ["float32"]))
    lines.append(f"job folder: {out}")
    run_id = results.get("mlflow_run_id")
    if run_id:
        import mlflow

        from src.tracking.store import resolve_tracking_uri

        uri = resolve_tracking_uri((cfg.get("logger") or {}).get("tracking_uri"))
        experiment_id = mlflow.MlflowClient(uri).get_run(run_id).info.experiment_id
        lines += mlflow_lines(run_id, uri, experiment_id)
    lines.append(f"re-run it: .venv/bin/python -m src.run --rerun {out}")
    return "\n".join(lines)


def print_summary(cfg: Mapping[str, Any], results: Mapping[str, Any], out: Path) -> None:
    """Print `job_summary` to stdout; a failure here is a warning, never a failed job."""
    try:
        from src.tracking.naming import hydra_choice

        print(job_summary(cfg, results, out, hydra_choice("debug")), flush=True)
    except Exception as exc:  # noqa: BLE001 — the job is finished and recorded; the summary is a courtesy
        log.warning("no end-of-job summary (%s: %s); results are in %s", type(exc).__name__, exc, results_path(out))
        sys.stdout.flush()
