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

    from src.data import load_splits
    from src.data.pipeline import Normalization, adapt_images
    from src.models.saving import load_model

    cfg = OmegaConf.create(yaml.safe_load((job_dir / "config.yaml").read_text()))
    size, channels = int(cfg.data.image_size), int(cfg.data.channels)
    resize = cfg.data.get("resize", "pad")
    splits = load_splits(cfg.data)
    norm = Normalization.create(cfg.data.normalize.mean, cfg.data.normalize.std, channels)
    x_test = norm.apply_numpy(adapt_images(splits.x_test, size, channels, resize))
    calibration = norm.apply_numpy(adapt_images(splits.x_train[:256], size, channels, resize))
    model = load_model(job_dir / "model.keras", compile=False)
    for fmt in formats:
        try:
            report: TfliteReport | ExportError = export_and_verify(
                model, job_dir / EXPORT_DIR, x_test, splits.y_test, name=cfg.model.name, fmt=fmt,
                representative=calibration)
        except ExportError as exc:  # one format that fails (e.g. XNNPACK refuses it) does not stop the others
            report = exc
        yield cfg.model.name, fmt, report, splits.class_names
