"""Mobile export table: for trained jobs, every TFLite format's size, test accuracy, agreement with Keras
and LiteRT latency at batch 1 (1 and 2 threads), as an Android developer would choose between them.

    python -m src.report.mobile_export outputs/<experiment>/<job> [more jobs] --out experiments/mobile_export

Each job folder needs ``model.keras`` and ``config.yaml`` (every training job writes both); the test set
and normalisation come from the job's own config, int8 calibration from 256 of its training images.
Quantisation-aware training (QAT) is not covered here: it needs tfmot's tf_keras twin (src/compress/twin.py),
which supports chain networks only.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from src.bench.csv_out import write_rows
from src.export.tflite import FORMATS, _allocate, _load, _quantize, export_and_verify
from src.report.markdown import write_readme

LATENCY_RUNS = 50


def litert_latency_ms(path: str | Path, threads: int, runs: int = LATENCY_RUNS) -> float:
    """Median wall time of one batch-1 invoke in LiteRT (after 5 warm-up runs)."""
    interp = _load(path, num_threads=threads)
    _allocate(interp, path)
    detail = interp.get_input_details()[0]
    image = _quantize(np.random.default_rng(0).normal(size=detail["shape"]).astype(np.float32), detail)
    interp.set_tensor(detail["index"], image)
    for _ in range(5):
        interp.invoke()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        interp.invoke()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def job_rows(job_dir: Path, formats: tuple[str, ...] = FORMATS) -> list[dict[str, Any]]:
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
    out = job_dir / "mobile_export"
    rows = []
    for fmt in formats:
        report = export_and_verify(model, out, x_test, splits.y_test, name=cfg.model.name, fmt=fmt,
                                   representative=calibration)
        rows.append({
            "model": cfg.model.name, "job": str(job_dir), "format": fmt, "size_kb": report.size_bytes / 1024,
            "keras_accuracy": report.keras_accuracy, "tflite_accuracy": report.tflite_accuracy,
            "top1_agreement": report.top1_agreement, "max_abs_logit_diff": report.max_abs_logit_diff,
            "latency_ms_1_thread": litert_latency_ms(report.path, 1), "latency_ms_2_threads": litert_latency_ms(report.path, 2),
        })
        print(f"{cfg.model.name} {fmt}: {rows[-1]['size_kb']:.0f} KB, accuracy {report.tflite_accuracy:.4f}, "
              f"agreement {report.top1_agreement:.4f}, {rows[-1]['latency_ms_1_thread']:.2f} ms", flush=True)
    return rows


def write_report(rows: list[dict[str, Any]], out: Path, command: str) -> str:
    out.mkdir(parents=True, exist_ok=True)
    write_rows(rows, out / "results.csv")
    lines = ["# Mobile export: TFLite formats side by side", "", f"Command: `{command}`", "",
             "Test accuracy on Fashion-MNIST's 10,000 test images in LiteRT; agreement = top-1 agreement with the "
             "Keras model; latency = median of 50 batch-1 invokes in LiteRT (XNNPACK) on this CPU.", "",
             "| model | format | size (KB) | Keras acc | TFLite acc | Δ (pp) | agreement | max \\|Δlogit\\| | ms, 1 thread | ms, 2 threads |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        delta = 100 * (r["tflite_accuracy"] - r["keras_accuracy"])
        lines.append(f"| {r['model']} | {r['format']} | {r['size_kb']:.0f} | {r['keras_accuracy']:.4f} | "
                     f"{r['tflite_accuracy']:.4f} | {delta:+.2f} | {r['top1_agreement']:.4f} | "
                     f"{r['max_abs_logit_diff']:.2g} | {r['latency_ms_1_thread']:.2f} | {r['latency_ms_2_threads']:.2f} |")
    text = write_readme(out, lines)
    return text


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("jobs", nargs="+", type=Path, help="trained job folders (model.keras + config.yaml)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--formats", nargs="+", default=list(FORMATS), choices=FORMATS)
    args = parser.parse_args(argv)
    for job in args.jobs:
        if not (job / "model.keras").exists() or not (job / "config.yaml").exists():
            raise SystemExit(f"error: {job} is not a finished training job (needs model.keras and config.yaml)")
    rows = [row for job in args.jobs for row in job_rows(job, tuple(args.formats))]
    command = "python -m src.report.mobile_export " + " ".join(map(str, args.jobs)) + f" --out {args.out}"
    print(write_report(rows, args.out, command))


if __name__ == "__main__":
    main()
