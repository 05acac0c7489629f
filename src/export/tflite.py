"""TFLite export (float32, float16, dynamic-range int8, full-integer int8) with builtin ops only,
verified in LiteRT against the Keras model.

Keras' own ``model.export(format="litert")`` enables SELECT_TF_OPS (flex) by default, which a plain
Android runtime lacks; we convert with ``TFLITE_BUILTINS`` only and fail loudly otherwise. Files are
run with ``ai_edge_litert`` (``tf.lite.Interpreter`` is deprecated).

Conversion goes through a SavedModel (``model.export(format="tf_saved_model")`` with a fixed input
signature, then ``TFLiteConverter.from_saved_model``): ``from_concrete_functions`` on a Keras 3 model
keeps the weights as VAR_HANDLE/READ_VARIABLE ops with uninitialised values (the output is NaN).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
import numpy as np

from src.atomic_files import atomic_write_bytes
from src.errors import ExportError
from src.export.logit_range import LogitRange, logit_range, quantization_hint

log = logging.getLogger(__name__)

_FLEX_MARKERS = ("ERROR_NEEDS_FLEX_OPS", "ERROR_NEEDS_CUSTOM_OPS", "neither a custom op nor a flex op", "TF Select ops")


def _non_builtin_ops(converter_message: str) -> list[str]:
    """The TF op names the converter could not lower to builtins, from its error text."""
    names = set(re.findall(r"'tf\.(\w+)' op is neither a custom op nor a flex op", converter_message))
    for listed in re.findall(r"(?:TF Select ops|Custom ops): ([\w, ]+)", converter_message):
        names.update(n.strip() for n in listed.split(",") if n.strip())
    return sorted(names)


#: Export formats: float32; float16 weights; dynamic-range int8 weights (float activations); full-integer
#: int8 (weights and activations, int8 input and output, calibrated on representative images).
FORMATS = ("float32", "float16", "dynamic_int8", "int8", "int8_equalized")
#: Formats whose activations stay float (no quantisation hint for them).
FLOAT_FORMATS = ("float32", "float16")
#: Representative images the int8 calibration uses at most.
CALIBRATION_IMAGES = 256


def _set_quantization(converter, fmt: str, representative: np.ndarray | None) -> None:
    import tensorflow as tf

    if fmt not in FORMATS:
        raise ExportError(f"unknown TFLite format {fmt!r}; use one of {list(FORMATS)} (export.formats).")
    if fmt == "float32":
        return
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if fmt == "float16":
        converter.target_spec.supported_types = [tf.float16]
    elif fmt in ("int8", "int8_equalized"):
        if representative is None or len(representative) == 0:
            raise ExportError("int8 export needs representative images (preprocessed like the model's input) "
                              "to calibrate activation ranges.")
        calibration = np.asarray(representative[:CALIBRATION_IMAGES], np.float32)
        converter.representative_dataset = lambda: ([image[None]] for image in calibration)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8


def convert_to_tflite(
    model: keras.Model, path: str | Path, batch_size: int = 1, fmt: str = "float32",
    representative: np.ndarray | None = None,
) -> Path:
    """Convert ``model`` to a .tflite at ``path`` with a fixed [batch_size, H, W, C] input, in format ``fmt``
    (FORMATS; ``int8`` needs ``representative`` images for calibration and has int8 input and output;
    ``int8_equalized`` is ``int8`` of a copy whose outlier activation channels were first scaled down where
    that is exact, `src.export.equalize`, with the same float outputs).

    Builtin ops only: a model that needs flex (Select TF) or custom ops raises ExportError naming them.
    The file is written atomically; nothing is written when conversion fails.
    """
    import tensorflow as tf

    if batch_size < 1:
        raise ExportError(f"batch_size must be >= 1, got {batch_size}.")
    if len(model.inputs) != 1:
        raise ExportError(f"model {model.name!r} has {len(model.inputs)} inputs; TFLite export supports one image input.")
    shape = [batch_size, *model.input_shape[1:]]
    if any(d is None for d in shape):
        raise ExportError(f"model {model.name!r} has input shape {model.input_shape}; a fixed H, W, C is needed for TFLite.")
    spec = tf.TensorSpec(shape, tf.float32, name="input")
    if fmt == "int8_equalized" and representative is not None and len(representative):
        from src.export.equalize import equalize_outlier_channels

        model, chains = equalize_outlier_channels(model, np.asarray(representative[:CALIBRATION_IMAGES], np.float32))
        log.info("%s: equalised %d outlier channel(s) in %d BN → ReLU → depthwise chain(s)%s", model.name,
                 sum(c.channels_scaled for c in chains), len(chains),
                 "".join(f"; {c.batch_norm} max/median {c.max_over_median_before:.1f} → {c.max_over_median_after:.1f}"
                         for c in chains))
    with tempfile.TemporaryDirectory() as saved:
        model.export(saved, format="tf_saved_model", input_signature=[spec], verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(saved)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        _set_quantization(converter, fmt, representative)
        try:
            flatbuffer = converter.convert()
        except Exception as exc:  # ConverterError; its text names the ops
            text = str(exc)
            if not any(marker in text for marker in _FLEX_MARKERS):
                raise
            ops = _non_builtin_ops(text) or ["<unknown: see the converter log>"]
            raise ExportError(
                f"model {model.name!r} needs TensorFlow op(s) {', '.join(ops)} that are not TFLite builtins. "
                "Flex (Select TF) ops are refused: a plain Android LiteRT runtime has builtins only. "
                "Replace the layer(s) that use them."
            ) from exc
    path = Path(path)
    atomic_write_bytes(path, flatbuffer)
    return path


def _load(path: str | Path, num_threads: int = 2, delegates: bool = True):
    """A LiteRT Interpreter for ``path`` (not yet allocated); ExportError for missing or corrupt files."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    path = Path(path)
    if not path.is_file():
        raise ExportError(f"TFLite file {path} does not exist.")
    data = path.read_bytes()
    # A TFLite FlatBuffer carries the identifier "TFL3" at bytes 4..8; checking it first gives a clear
    # message for foreign files. LiteRT itself verifies the FlatBuffer (truncated/flipped bytes -> ValueError).
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ExportError(f"{path} is not a TFLite model (no TFL3 identifier); the file is corrupt or of another kind.")
    resolver = OpResolverType.AUTO if delegates else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    try:
        return Interpreter(model_content=data, num_threads=num_threads, experimental_op_resolver_type=resolver)
    except (ValueError, RuntimeError) as exc:
        raise ExportError(f"{path} could not be loaded by LiteRT ({exc}); the file is corrupt or truncated.") from exc


#: XNNPACK refuses a quantised convolution whose requantisation scale (input scale × filter scale /
#: output scale) reaches this.
XNNPACK_MAX_REQUANT_SCALE = 256.0


def xnnpack_requant_problems(path: str | Path) -> list[str]:
    """The quantised CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED ops of ``path`` whose requantisation
    scale is ≥ XNNPACK_MAX_REQUANT_SCALE, which XNNPACK refuses (very large weights in some channels do
    it); [] for float models. Read with builtin kernels, which run such files."""
    interp = _load(path, num_threads=1, delegates=False)
    interp.allocate_tensors()
    scales = {t["index"]: np.asarray(t["quantization_parameters"]["scales"]) for t in interp.get_tensor_details()}
    problems = []
    for op in interp._get_ops_details():
        if op["op_name"] not in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            continue
        x, w, y = op["inputs"][0], op["inputs"][1], op["outputs"][0]
        if not (scales[x].size and scales[w].size and scales[y].size):
            continue
        requant = float(scales[x].max() * scales[w].max() / scales[y].max())
        if requant >= XNNPACK_MAX_REQUANT_SCALE:
            problems.append(f"op {op['index']} {op['op_name']}: requantisation scale {requant:.0f} "
                            f"(largest filter scale {scales[w].max():.3g}, i.e. weights up to ~{127 * scales[w].max():.3g})")
    return problems


def _allocate_tensors(interp) -> None:
    """``interp.allocate_tensors()`` without LiteRT's XNNPACK notice on the console (``--verbose`` shows it)."""
    from src.console import LITERT_NOISE, quiet_stderr

    with quiet_stderr(LITERT_NOISE):
        interp.allocate_tensors()


def _allocate(interp, path: str | Path) -> None:
    try:
        _allocate_tensors(interp)
    except (ValueError, RuntimeError) as exc:
        hint = ""
        if "XNNPACK" in str(exc):
            problems = xnnpack_requant_problems(path)
            hint = (f" XNNPACK refuses {len(problems)} op(s) with a requantisation scale ≥ "
                    f"{XNNPACK_MAX_REQUANT_SCALE:.0f}: {'; '.join(problems[:3])}. LiteRT's builtin kernels "
                    "(delegates off) still load it, but weights this large usually spoil the int8 ranges "
                    "too. They typically come from a batch-norm channel that went dead in training (zero "
                    "moving variance, folded into the conv as |gamma|/sqrt(eps)); the training log warns of "
                    "such channels (src/train/bn_health.py). Retrain with a lower learning rate or more "
                    "warm-up.") if problems else ""
        raise ExportError(f"LiteRT could not prepare {path}: {str(exc).rstrip('.')}.{hint}") from exc


def open_interpreter(path: str | Path, num_threads: int = 2):
    """A LiteRT Interpreter for the .tflite file ``path``, tensors allocated (default delegates: XNNPACK);
    ExportError naming the file when it is missing, corrupt or refused."""
    interp = _load(path, num_threads=num_threads)
    _allocate(interp, path)
    return interp


def tflite_op_names(path: str | Path) -> list[str]:
    """Sorted unique op names of a .tflite file; ExportError if a flex or custom op is present."""
    # Without the default XNNPACK delegate and before allocation, so the list shows the model's own ops
    # (not "DELEGATE") and a flex op is reported as such rather than as a failure to prepare.
    ops = sorted({op["op_name"] for op in _load(path, delegates=False)._get_ops_details()})
    flex = [o for o in ops if o.startswith("Flex") or o == "CUSTOM"]
    if flex:
        raise ExportError(
            f"{path} contains non-builtin op(s) {flex}; flex ops are refused for Android builtins-only "
            "runtimes. Export with builtins only (convert_to_tflite)."
        )
    return ops


@dataclass(frozen=True)
class TfliteReport:
    """How a .tflite file agrees with its Keras model on a set of examples."""

    path: str
    size_bytes: int
    ops: list[str]
    num_examples: int
    max_abs_logit_diff: float
    top1_agreement: float
    tflite_accuracy: float | None
    keras_accuracy: float | None
    keras_logit_range: dict | None = None  # `src.export.logit_range.LogitRange` of (N, classes) Keras outputs

    def as_dict(self) -> dict:
        """JSON-serialisable dict of all fields."""
        return asdict(self)

    def as_metrics(self, prefix: str = "tflite_") -> dict[str, float]:
        """The numeric fields (None left out) as ``{prefix + name: float}`` for MLflow."""
        fields = ("size_bytes", "num_examples", "max_abs_logit_diff", "top1_agreement", "tflite_accuracy", "keras_accuracy")
        out = {}
        for f in fields:
            value = getattr(self, f)
            if value is not None:
                out[f if f.startswith(prefix) else prefix + f] = float(value)
        return out


def report_hint(report: dict, fmt: str, labels: list[str] | None = None) -> str | None:
    """`src.export.logit_range.quantization_hint` for a verification report (`TfliteReport.as_dict`, or a
    summary holding it) of format ``fmt``; None for float formats and reports without a logit range."""
    spread = report.get("keras_logit_range")
    if fmt in FLOAT_FORMATS or not spread:
        return None
    return quantization_hint(LogitRange(**spread), report["top1_agreement"], labels)


def _run_tflite(interp, path: str | Path, images: np.ndarray, batch_size: int) -> np.ndarray:
    """Outputs of the first output tensor on ``images``, in batches of ``batch_size`` where the
    interpreter can be resized, else in the file's fixed batch with the last batch padded."""
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    fixed_shape = [int(d) for d in inp["shape"]]
    if list(images.shape[1:]) != fixed_shape[1:]:
        raise ExportError(f"images have shape {images.shape[1:]} per example; {path} expects {fixed_shape[1:]}.")
    batch = min(batch_size, len(images))
    resizable = True
    try:
        interp.resize_tensor_input(inp["index"], [batch, *fixed_shape[1:]])
        _allocate_tensors(interp)
    except (ValueError, RuntimeError):
        resizable, batch = False, fixed_shape[0]
        try:
            interp.resize_tensor_input(inp["index"], fixed_shape)
        except (ValueError, RuntimeError):
            pass  # the shape never changed
        _allocate(interp, path)
    results = []
    for start in range(0, len(images), batch):
        chunk = images[start : start + batch]
        n = len(chunk)
        if n != batch:
            if resizable:
                interp.resize_tensor_input(inp["index"], [n, *fixed_shape[1:]])
                _allocate(interp, path)
            else:  # pad to the fixed batch, drop the padding below
                chunk = np.concatenate([chunk, np.zeros((batch - n, *chunk.shape[1:]), chunk.dtype)])
        interp.set_tensor(inp["index"], quantize_input(chunk, inp))
        interp.invoke()
        results.append(_dequantize(interp.get_tensor(out["index"])[:n], out))
    return np.concatenate(results)


def quantize_input(images: np.ndarray, detail: dict) -> np.ndarray:
    """float32 images as the input tensor wants them (int8 inputs: with its scale and zero point)."""
    if detail["dtype"] == np.float32:
        return np.ascontiguousarray(images, dtype=np.float32)
    scale, zero = detail["quantization"]
    info = np.iinfo(detail["dtype"])
    return np.ascontiguousarray(np.clip(np.round(images / scale + zero), info.min, info.max).astype(detail["dtype"]))


def _dequantize(values: np.ndarray, detail: dict) -> np.ndarray:
    if detail["dtype"] == np.float32:
        return values.copy()
    scale, zero = detail["quantization"]
    return (values.astype(np.float32) - zero) * scale


def _accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(logits.argmax(-1) == labels))


def verify_tflite(
    path: str | Path,
    model: keras.Model,
    images: np.ndarray,
    labels: np.ndarray | None = None,
    batch_size: int = 256,
    num_threads: int = 2,
) -> TfliteReport:
    """Run ``path`` in LiteRT and ``model`` in Keras on preprocessed float32 ``images`` (N, H, W, C)
    and compare their logits; with integer (or one-hot) ``labels`` also both accuracies."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim < 2 or len(images) == 0:
        raise ExportError(f"verify_tflite needs a non-empty batch of images, got shape {images.shape}.")
    if labels is not None:
        labels = np.asarray(labels)
        if labels.ndim == 2 and labels.shape[1] > 1:  # one-hot
            labels = labels.argmax(-1)
        labels = labels.reshape(-1)
        if len(labels) != len(images):
            raise ExportError(f"{len(labels)} labels for {len(images)} images.")
    ops = tflite_op_names(path)
    tfl = _run_tflite(_load(path, num_threads), path, images, batch_size)
    ref = np.concatenate([
        keras.ops.convert_to_numpy(model(images[i : i + batch_size], training=False))
        for i in range(0, len(images), batch_size)
    ])
    if tfl.shape != ref.shape:
        raise ExportError(f"{path} outputs shape {tfl.shape} but the Keras model outputs {ref.shape}.")
    return TfliteReport(
        path=str(path),
        size_bytes=Path(path).stat().st_size,
        ops=ops,
        num_examples=len(images),
        max_abs_logit_diff=float(np.max(np.abs(tfl - ref))),
        top1_agreement=float(np.mean(tfl.argmax(-1) == ref.argmax(-1))),
        tflite_accuracy=None if labels is None else _accuracy(tfl, labels),
        keras_accuracy=None if labels is None else _accuracy(ref, labels),
        keras_logit_range=logit_range(ref).as_dict() if ref.ndim == 2 else None,  # classifier outputs only
    )


def tflite_filename(name: str, fmt: str) -> str:
    """``name.tflite`` for float32, ``name.<fmt>.tflite`` for every other format (``qat_int8`` included)."""
    return f"{name}.tflite" if fmt == "float32" else f"{name}.{fmt}.tflite"


def report_path(path: str | Path) -> Path:
    """Where the verification report of a .tflite file lives: beside it, as ``<file>.json``."""
    return Path(f"{path}.json")


def verify_and_record(
    path: str | Path, model: keras.Model, images: np.ndarray, labels: np.ndarray | None = None,
    batch_size: int = 256, num_threads: int = 2,
) -> TfliteReport:
    """`verify_tflite`, with the report written beside the file (`report_path`)."""
    report = verify_tflite(path, model, images, labels, batch_size=batch_size, num_threads=num_threads)
    atomic_write_bytes(report_path(path), json.dumps(report.as_dict(), indent=2).encode())
    return report


def export_and_verify(
    model: keras.Model,
    out_dir: str | Path,
    images: np.ndarray,
    labels: np.ndarray | None = None,
    name: str = "model",
    num_threads: int = 2,
    batch_size: int = 256,
    fmt: str = "float32",
    representative: np.ndarray | None = None,
) -> TfliteReport:
    """Write ``out_dir/`` `tflite_filename` ``(name, fmt)``, verify it on ``images``, write the report beside
    it as ``.json``."""
    path = convert_to_tflite(model, Path(out_dir) / tflite_filename(name, fmt), fmt=fmt, representative=representative)
    report = verify_and_record(path, model, images, labels, batch_size=batch_size, num_threads=num_threads)
    hint = report_hint(report.as_dict(), fmt)
    if hint:
        print(f"warning: {name} {fmt}: {hint}", file=sys.stderr, flush=True)
    return report
