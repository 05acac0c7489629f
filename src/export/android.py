"""An Android-ready bundle per exported TFLite model: ``model.tflite`` (with TFLite Metadata where
tflite-support is installed), ``labels.txt`` and ``model.json`` (input, normalisation, output meaning and
the LiteRT verification numbers).

    python -m src.export.android outputs/<experiment>/<job> [--formats int8 qat_int8] [--out DIR]

Reads the job's exported files (``<model>.tflite``, ``<model>.<format>.tflite`` and their ``.json``
verification reports, written by training with ``export.formats`` or by ``src.report.mobile_export`` /
``src.compress.qat`` under ``<job>/mobile_export``) and ``config.yaml``; writes ``<job>/android/<format>/``.
A post-training format the job has not exported yet is exported and verified first (`src.export.from_job`);
``qat_int8`` needs a training of its own (``python -m src.compress.qat``) and is never made here.

TFLite Metadata (the ImageClassifier schema Android's Task Library reads: normalisation, grey or RGB,
labels packed in the file) is written with tflite-support's metadata writer. Its last release (0.4.4)
pins protobuf < 4, which TensorFlow 2.21 cannot use, so scripts/install.sh installs it without its
dependencies; its task-library modules clash with TensorFlow's in one process and are never imported here.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from src.data.pipeline import Normalization
from src.errors import ExportError
from src.export.tflite import FORMATS as TFLITE_FORMATS
from src.export.tflite import report_path, tflite_filename
from src.job_folder import CONFIG_FILE, has_config, job_data, load_config, model_path, read_config, read_job

#: Every post-training format, plus QAT's (`src.compress.qat`).
FORMATS = (*TFLITE_FORMATS, "qat_int8")


def find_export(job_dir: Path, model: str, fmt: str) -> Path:
    """The job's .tflite of ``fmt`` (in the job folder or its mobile_export/), with its verification report."""
    for folder in (job_dir, job_dir / "mobile_export"):
        path = folder / tflite_filename(model, fmt)
        if path.exists() and report_path(path).exists():
            return path
    raise ExportError(f"{job_dir}: no verified {fmt} export ({tflite_filename(model, fmt)} with its .json). Export it "
                      f"first: python -m src.report.mobile_export {job_dir} --out <dir> --formats {fmt}"
                      + (" --qat" if fmt == "qat_int8" else ""))


def _io_details(path: Path) -> tuple[dict, dict]:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(str(path))
    return interpreter.get_input_details()[0], interpreter.get_output_details()[0]


def _tensor_info(detail: dict) -> dict[str, Any]:
    scale, zero_point = detail["quantization"]
    info = {"shape": [int(d) for d in detail["shape"]], "dtype": np.dtype(detail["dtype"]).name}
    if scale:
        info["quantization"] = {"scale": float(scale), "zero_point": int(zero_point),
                                "real_value": "scale * (q - zero_point)"}
    return info


def describe(job_dir: Path, path: Path, fmt: str) -> dict[str, Any]:
    """model.json: what an app needs to feed the model and read its answer, plus how it was verified."""
    cfg = read_config(job_dir)
    data = cfg["data"]
    channels = int(data["channels"])
    norm = Normalization.create(data["normalize"]["mean"], data["normalize"]["std"], channels)  # per channel
    mean, std = list(norm.mean), list(norm.std)
    input_detail, output_detail = _io_details(path)
    verification = json.loads(report_path(path).read_text())
    return {
        "model": cfg["model"]["name"], "format": fmt, "dataset": data["name"],
        "input": {
            **_tensor_info(input_detail), "layout": "NHWC", "color": "grayscale" if channels == 1 else "RGB",
            "source_image": "28x28 grey Fashion-MNIST-style image, 0-255" if data["name"] == "fashion_mnist" else None,
            "resize": f"{data.get('resize', 'pad')} to {data['image_size']}x{data['image_size']}",
            "normalization": {"formula": "(pixel / 255 - mean) / std, per channel", "mean": mean, "std": std,
                              "pixel_mean": [255 * m for m in mean], "pixel_std": [255 * s for s in std]},
        },
        "output": {**_tensor_info(output_detail),
                   "meaning": "logits over the classes of labels.txt (line i = class i); softmax gives probabilities, "
                              "argmax the predicted class"},
        "verification": {k: verification[k] for k in ("num_examples", "tflite_accuracy", "keras_accuracy",
                                                      "top1_agreement", "max_abs_logit_diff", "size_bytes", "ops")},
        "git_commit": _job_commit(job_dir),
    }


def _job_commit(job_dir: Path) -> str | None:
    return (read_job(job_dir) or {}).get("git_commit")


def add_metadata(model_bytes: bytes, description: dict[str, Any], labels: Path) -> bytes | None:
    """The model with TFLite Metadata (ImageClassifier schema, labels packed), or None without tflite-support."""
    try:
        from tensorflow_lite_support.metadata import metadata_schema_py_generated as metadata_fb
        from tensorflow_lite_support.metadata.python.metadata_writers import image_classifier, metadata_info
    except ImportError:
        return None
    norm = description["input"]["normalization"]
    colour = (metadata_fb.ColorSpaceType.GRAYSCALE if description["input"]["color"] == "grayscale"
              else metadata_fb.ColorSpaceType.RGB)
    writer = image_classifier.MetadataWriter.create_from_metadata_info(
        bytearray(model_bytes),
        general_md=metadata_info.GeneralMd(
            name=f"{description['model']} ({description['format']})",
            description=f"{description['model']} trained on {description['dataset']} by the efficient-CNN suite; "
                        "outputs logits."),
        input_md=metadata_info.InputImageTensorMd(
            name="image", description=f"{description['input']['color']} image, {description['input']['resize']}",
            norm_mean=norm["pixel_mean"], norm_std=norm["pixel_std"], color_space_type=colour,
            tensor_type=writer_tensor_type(description["input"]["dtype"])),
        output_md=metadata_info.ClassificationTensorMd(
            name="logits", description="class logits (softmax for probabilities)",
            label_files=[metadata_info.LabelFileMd(str(labels))],
            tensor_type=writer_tensor_type(description["output"]["dtype"])),
    )
    return bytes(writer.populate())


def writer_tensor_type(dtype: str):
    from tensorflow_lite_support.metadata import schema_py_generated as schema_fb

    return {"float32": schema_fb.TensorType.FLOAT32, "int8": schema_fb.TensorType.INT8,
            "uint8": schema_fb.TensorType.UINT8}[dtype]


def export_missing(job_dir: Path, model: str, fmt: str) -> Path:
    """The job's ``fmt`` export: found, or (a post-training format) exported and verified now."""
    try:
        return find_export(job_dir, model, fmt)
    except ExportError:
        if fmt not in TFLITE_FORMATS or not model_path(job_dir).exists():
            raise
    from src.export.from_job import export_job

    print(f"{fmt}: not exported yet; exporting and verifying it from {model_path(job_dir)}", flush=True)
    for _, _, report, _ in export_job(job_dir, (fmt,)):
        if isinstance(report, ExportError):
            raise report
    return find_export(job_dir, model, fmt)


def write_bundle(job_dir: Path, fmt: str, out: Path | None = None, export: bool = False) -> Path:
    """``<out>/model.tflite``, ``labels.txt`` and ``model.json`` for the job's ``fmt`` export (with ``export``,
    made first if missing); returns ``out``."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; bundles exist for {list(FORMATS)}.")
    cfg = load_config(job_dir)
    path = export_missing(job_dir, cfg.model.name, fmt) if export else find_export(job_dir, cfg.model.name, fmt)
    out = Path(out or job_dir / "android" / fmt)
    out.mkdir(parents=True, exist_ok=True)
    labels = out / "labels.txt"
    labels.write_text("\n".join(job_data(cfg.data)[0].class_names) + "\n")
    description = describe(job_dir, path, fmt)
    with_metadata = add_metadata(path.read_bytes(), description, labels)
    description["tflite_metadata"] = ("embedded (ImageClassifier schema, labels.txt packed)" if with_metadata
                                      else "not embedded: tflite-support is not installed (scripts/install.sh installs it)")
    if with_metadata:
        (out / "model.tflite").write_bytes(with_metadata)
    else:
        shutil.copyfile(path, out / "model.tflite")
    (out / "model.json").write_text(json.dumps(description, indent=2) + "\n")
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Android-ready bundles (.tflite + labels.txt + model.json) of a job's exports.")
    parser.add_argument("job_dir", type=Path, help="a finished job folder with exported .tflite files")
    parser.add_argument("--formats", nargs="+", default=["float32"], choices=FORMATS)
    parser.add_argument("--out", type=Path, default=None, help="default: <job>/android (one folder per format)")
    parser.add_argument("--no-export", action="store_true",
                        help="only bundle formats already exported (default: export a missing post-training format first)")
    args = parser.parse_args(argv)
    if not has_config(args.job_dir):
        raise SystemExit(f"error: {args.job_dir} is not a training job folder (no {CONFIG_FILE})")
    try:
        for fmt in args.formats:
            out = write_bundle(args.job_dir, fmt, args.out / fmt if args.out else None, export=not args.no_export)
            print(f"{fmt}: {out}/model.tflite, labels.txt, model.json")
    except ExportError as exc:
        raise SystemExit(f"error: {exc}") from None


if __name__ == "__main__":
    main()
