"""Mobile export table: for trained jobs, every TFLite format's size, test accuracy, agreement with Keras
and LiteRT latency at batch 1 (1 and 2 threads), as an Android developer would choose between them.

    python -m src.report.mobile_export outputs/<experiment>/<job> [more jobs] --out experiments/mobile_export

Each job folder needs ``model.keras`` and ``config.yaml`` (every training job writes both); the test set
and normalisation come from the job's own config, int8 calibration from 256 of its training images.
With ``--qat``, each job also gets a quantisation-aware-trained full-integer model (``qat_int8``), made by
``python -m src.compress.qat`` in its own process (tfmot switches tf.keras to tf_keras: tfmot is Keras-2 only) and
shown beside post-training ``int8``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from src.atomic_files import write_rows
from src.errors import ExportError
from src.export.tflite import FORMATS, open_interpreter, quantize_input, report_hint
from src.job_folder import CONFIG_FILE, MODEL_FILE, is_trained_job, read_config
from src.report.markdown import write_readme

LATENCY_RUNS = 50


def litert_latency_ms(path: str | Path, threads: int, runs: int = LATENCY_RUNS) -> float:
    """Median wall time of one batch-1 invoke in LiteRT (after 5 warm-up runs)."""
    interp = open_interpreter(path, num_threads=threads)
    detail = interp.get_input_details()[0]
    image = quantize_input(np.random.default_rng(0).normal(size=detail["shape"]).astype(np.float32), detail)
    interp.set_tensor(detail["index"], image)
    for _ in range(5):
        interp.invoke()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        interp.invoke()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def table_row(
    model: str, job_dir: Path, fmt: str, report: dict[str, Any], class_names: tuple[str, ...] | None = None
) -> dict[str, Any]:
    """One row of the table from a verification report (`TfliteReport.as_dict`, or QAT's summary holding
    it), with the file's LiteRT latency measured now."""
    return {
        "model": model, "job": str(job_dir), "format": fmt, "size_kb": report["size_bytes"] / 1024,
        "keras_accuracy": report["keras_accuracy"], "tflite_accuracy": report["tflite_accuracy"],
        "top1_agreement": report["top1_agreement"], "max_abs_logit_diff": report["max_abs_logit_diff"],
        "latency_ms_1_thread": litert_latency_ms(report["path"], 1),
        "latency_ms_2_threads": litert_latency_ms(report["path"], 2),
        **logit_columns(report, fmt, class_names),
    }


def logit_columns(report: dict[str, Any], fmt: str, class_names: tuple[str, ...] | None = None) -> dict[str, Any]:
    """The Keras logits' spread (`src.export.logit_range`) and, for a quantised format that disagrees,
    the hint naming outlier inputs; empty for reports written before the spread was recorded."""
    spread = report.get("keras_logit_range")
    if not spread:
        return {}
    hint = report_hint(report, fmt, list(class_names) if class_names else None)
    return {"median_max_abs_logit": spread["median_max_abs_logit"], "logit_outlier_share": spread["outlier_share"],
            "hint": hint or ""}


def error_row(model: str, job_dir: Path, fmt: str, reason: str) -> dict[str, Any]:
    """The row of a format that could not be built or verified: the table shows it with ``reason``."""
    return {"model": model, "job": str(job_dir), "format": fmt, "error": reason}


def job_rows(job_dir: Path, formats: tuple[str, ...] = FORMATS) -> list[dict[str, Any]]:
    from src.export.from_job import export_job

    rows = []
    for model, fmt, report, class_names in export_job(job_dir, formats):
        if isinstance(report, ExportError):  # a format that fails is a row, not the end
            print(f"{model} {fmt}: not built: {report}", file=sys.stderr, flush=True)
            rows.append(error_row(model, job_dir, fmt, str(report)))
            continue
        rows.append(table_row(model, job_dir, fmt, report.as_dict(), class_names))
        print(f"{model} {fmt}: {rows[-1]['size_kb']:.0f} KB, accuracy {report.tflite_accuracy:.4f}, "
              f"agreement {report.top1_agreement:.4f}, {rows[-1]['latency_ms_1_thread']:.2f} ms", flush=True)
    return rows


def qat_row(job_dir: Path, qat_args: list[str]) -> dict[str, Any]:
    """QAT of ``job_dir`` in a child process (``src.compress.qat``), as a table row. A QAT that fails
    (e.g. a layer that tfmot leaves in float) gives a row with its ``error`` instead of ending
    the report, as a failed post-training format does in `job_rows`."""
    proc = subprocess.run([sys.executable, "-m", "src.compress.qat", str(job_dir), *qat_args],
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, stderr=subprocess.PIPE, text=True)
    sys.stderr.write(proc.stderr)
    if proc.returncode:
        lines = [line.strip() for line in proc.stderr.splitlines() if line.strip()]
        reason = lines[-1] if lines else f"exit {proc.returncode}"
        print(f"QAT of {job_dir} failed: {reason}", file=sys.stderr, flush=True)
        model = read_config(job_dir)["model"]["name"]
        return error_row(model, job_dir, "qat_int8", reason)
    summary = json.loads((job_dir / "mobile_export" / "qat.json").read_text())
    return table_row(summary["model"], job_dir, "qat_int8", summary)


def write_report(rows: list[dict[str, Any]], out: Path, command: str) -> str:
    out.mkdir(parents=True, exist_ok=True)
    write_rows(rows, out / "results.csv")
    lines = ["# Mobile export: TFLite formats side by side", "", f"Command: `{command}`", "",
             "Test accuracy on Fashion-MNIST's 10,000 test images in LiteRT; agreement = top-1 agreement with the "
             "Keras model; latency = median of 50 batch-1 invokes in LiteRT (XNNPACK) on this CPU.", "",
             "| model | format | size (KB) | Keras acc | TFLite acc | Δ (pp) | agreement | max \\|Δlogit\\| | ms, 1 thread | ms, 2 threads |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    failed = [r for r in rows if r.get("error")]
    for r in rows:
        if r.get("error"):
            lines.append(f"| {r['model']} | {r['format']} | not built ({failed.index(r) + 1}) |" + " – |" * 7)
            continue
        delta = 100 * (r["tflite_accuracy"] - r["keras_accuracy"])
        lines.append(f"| {r['model']} | {r['format']} | {r['size_kb']:.0f} | {r['keras_accuracy']:.4f} | "
                     f"{r['tflite_accuracy']:.4f} | {delta:+.2f} | {r['top1_agreement']:.4f} | "
                     f"{r['max_abs_logit_diff']:.2g} | {r['latency_ms_1_thread']:.2f} | {r['latency_ms_2_threads']:.2f} |")
    if failed:
        lines += [""] + [f"({i}) {r['model']} {r['format']}: {r['error']}" + ("  " if i < len(failed) else "")
                         for i, r in enumerate(failed, start=1)]
    hinted = [r for r in rows if r.get("hint")]
    if hinted:
        lines += ["", "Why a quantised format disagrees (`src/export/logit_range.py`):", ""]
        lines += [f"- {r['model']} {r['format']}: {r['hint']}" for r in hinted]
    text = write_readme(out, lines)
    return text


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("jobs", nargs="+", type=Path, help=f"trained job folders ({MODEL_FILE} + {CONFIG_FILE})")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--formats", nargs="+", default=list(FORMATS), choices=FORMATS)
    parser.add_argument("--qat", action="store_true", help="also quantisation-aware training to int8 (qat_int8)")
    parser.add_argument("--qat-args", default="", help="extra arguments for python -m src.compress.qat, quoted")
    args = parser.parse_args(argv)
    for job in args.jobs:
        if not is_trained_job(job):
            raise SystemExit(f"error: {job} is not a finished training job (needs {MODEL_FILE} and {CONFIG_FILE})")
    rows = []
    for job in args.jobs:
        rows += job_rows(job, tuple(args.formats))
        if args.qat:
            rows.append(qat_row(job, args.qat_args.split()))
    command = ("python -m src.report.mobile_export " + " ".join(map(str, args.jobs)) + f" --out {args.out}"
               + (f" --formats {' '.join(args.formats)}" if args.formats != list(FORMATS) else "")
               + (" --qat" if args.qat else "") + (f" --qat-args '{args.qat_args}'" if args.qat_args else ""))
    print(write_report(rows, args.out, command))


if __name__ == "__main__":
    main()
