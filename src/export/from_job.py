"""Export and verify a finished job's ``model.keras`` in more TFLite formats after training, into
``<job>/mobile_export/``: the test set, normalisation and int8 calibration (256 training images) come
from the job's own ``config.yaml``. Used by `src.report.mobile_export` and `src.export.android`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import yaml

from src.errors import ExportError
from src.export.tflite import TfliteReport, export_and_verify

EXPORT_DIR = "mobile_export"


def export_job(job_dir: Path, formats: tuple[str, ...]) -> Iterator[tuple[str, str, TfliteReport | ExportError, tuple[str, ...]]]:
    """(model name, format, its verification report or the ExportError that stopped it, class names) per format."""
    from omegaconf import OmegaConf

    from src.data import STREAMING, open_source
    from src.data.sources import STREAMED_VERIFY_LIMIT
    from src.data.pipeline import Normalization
    from src.models.saving import load_model

    cfg = OmegaConf.create(yaml.safe_load((job_dir / "config.yaml").read_text()))
    data = open_source(cfg.data)
    norm = Normalization.create(cfg.data.normalize.mean, cfg.data.normalize.std, int(cfg.data.channels))
    # a streamed test set is verified on its first export.max_eval_examples images, never loaded whole
    limit = (cfg.export.get("max_eval_examples") or STREAMED_VERIFY_LIMIT) if cfg.data.name in STREAMING else None
    x_raw, y_test = data.take("test", limit)
    x_test = norm.apply_numpy(x_raw)
    calibration = norm.apply_numpy(data.take("train", 256)[0])
    model = load_model(job_dir / "model.keras", compile=False)
    for fmt in formats:
        try:
            report: TfliteReport | ExportError = export_and_verify(
                model, job_dir / EXPORT_DIR, x_test, y_test, name=cfg.model.name, fmt=fmt,
                representative=calibration)
        except ExportError as exc:  # one format that fails (e.g. XNNPACK refuses it) does not stop the others
            report = exc
        yield cfg.model.name, fmt, report, data.class_names
