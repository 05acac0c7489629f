"""Export and verify a finished job's ``model.keras`` in more TFLite formats after training, into
``<job>/mobile_export/``: the test set, normalisation and int8 calibration (256 training images) come
from the job's own ``config.yaml``. Used by `src.report.mobile_export` and `src.export.android`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from src.errors import ExportError
from src.export.tflite import TfliteReport, export_and_verify
from src.job_folder import job_data, load_config, load_trained_model, verification_set

EXPORT_DIR = "mobile_export"


def export_job(job_dir: Path, formats: tuple[str, ...]) -> Iterator[tuple[str, str, TfliteReport | ExportError, tuple[str, ...]]]:
    """(model name, format, its verification report or the ExportError that stopped it, class names) per format."""
    cfg = load_config(job_dir)
    data, norm = job_data(cfg.data)
    # a streamed test set is verified on its first export.max_eval_examples images, never loaded whole;
    # an in-memory one on all of them
    x_test, y_test, calibration = verification_set(data, norm, cfg.export.get("max_eval_examples") if data.streaming else None)
    model = load_trained_model(job_dir)
    for fmt in formats:
        try:
            report: TfliteReport | ExportError = export_and_verify(
                model, job_dir / EXPORT_DIR, x_test, y_test, name=cfg.model.name, fmt=fmt,
                representative=calibration)
        except ExportError as exc:  # one format that fails (e.g. XNNPACK refuses it) does not stop the others
            report = exc
        yield cfg.model.name, fmt, report, data.class_names
