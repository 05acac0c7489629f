"""Float32 TFLite export with builtin ops only, verified in LiteRT against the Keras model.

Keras' own ``model.export(format="litert")`` enables SELECT_TF_OPS (flex) by default, which a plain
Android runtime lacks; we convert with ``TFLITE_BUILTINS`` only and fail loudly otherwise. Files are
run with ``ai_edge_litert`` (``tf.lite.Interpreter`` is deprecated).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
import numpy as np

from src.errors import ExportError


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def convert_to_tflite(model: keras.Model, path: str | Path, batch_size: int = 1) -> Path:
    """Convert to a float32 .tflite with a fixed [batch_size, H, W, C] input, builtin ops only."""
    import tensorflow as tf

    spec = tf.TensorSpec([batch_size, *model.input_shape[1:]], tf.float32, name="input")
    # Through a SavedModel: the converter then freezes the variables (a bare concrete function of a
    # Keras 3 model leaves them as VAR_HANDLE ops with uninitialised values).
    with tempfile.TemporaryDirectory() as saved:
        model.export(saved, format="tf_saved_model", input_signature=[spec], verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(saved)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        try:
            flatbuffer = converter.convert()
        except Exception as exc:  # the converter raises ConverterError with the op list in its text
            text = str(exc)
            if "not supported" in text or "Flex" in text or "flex" in text:
                raise ExportError(
                    f"model {model.name!r} needs TensorFlow ops that are not TFLite builtins (flex ops are "
                    f"refused: a plain Android LiteRT runtime lacks them). Converter said: {text.strip()[:1500]}"
                ) from exc
            raise
    path = Path(path)
    _atomic_write(path, flatbuffer)
    return path


def _interpreter(path: str | Path, num_threads: int = 2, delegates: bool = True):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    path = Path(path)
    if not path.is_file():
        raise ExportError(f"TFLite file {path} does not exist.")
    data = path.read_bytes()
    # A FlatBuffer TFLite model carries the identifier "TFL3" at bytes 4..8; checking it first turns a
    # corrupt or foreign file into a clear error instead of a crash inside the runtime.
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ExportError(f"{path} is not a TFLite model (no TFL3 identifier); the file is corrupt or of another kind.")
    try:
        resolver = OpResolverType.AUTO if delegates else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        interp = Interpreter(model_content=data, num_threads=num_threads, experimental_op_resolver_type=resolver)
        interp.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise ExportError(f"{path} could not be loaded by LiteRT ({exc}); the file is corrupt or truncated.") from exc
    return interp


def tflite_op_names(path: str | Path) -> list[str]:
    """Sorted unique op names; raises ExportError if a flex or custom op is present."""
    # Without the default XNNPACK delegate, so the list shows the model's own ops, not "DELEGATE".
    ops = sorted({op["op_name"] for op in _interpreter(path, delegates=False)._get_ops_details()})
    flex = [o for o in ops if o.startswith("Flex") or o == "CUSTOM"]
    if flex:
        raise ExportError(f"{path} contains non-builtin ops {flex}; export with builtins only.")
    return ops


@dataclass(frozen=True)
class TfliteReport:
    path: str
    size_bytes: int
    ops: list[str]
    num_examples: int
    max_abs_logit_diff: float
    top1_agreement: float
    tflite_accuracy: float | None
    keras_accuracy: float | None

    def as_dict(self) -> dict:
        return asdict(self)

    def as_metrics(self, prefix: str = "tflite_") -> dict[str, float]:
        fields = ("size_bytes", "max_abs_logit_diff", "top1_agreement", "tflite_accuracy", "keras_accuracy")
        out = {}
        for f in fields:
            value = getattr(self, f)
            if value is not None:
                out[f if f.startswith(prefix) else prefix + f] = float(value)
        return out


def _run_tflite(interp, images: np.ndarray, batch_size: int) -> np.ndarray:
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    fixed = int(inp["shape"][0])
    batch = batch_size
    try:
        interp.resize_tensor_input(inp["index"], [batch, *images.shape[1:]])
        interp.allocate_tensors()
    except (ValueError, RuntimeError):
        batch = fixed
    results = []
    for start in range(0, len(images), batch):
        chunk = images[start : start + batch]
        if len(chunk) != batch:
            interp.resize_tensor_input(inp["index"], [len(chunk), *images.shape[1:]])
            interp.allocate_tensors()
        interp.set_tensor(inp["index"], chunk.astype(np.float32))
        interp.invoke()
        results.append(interp.get_tensor(out["index"]).copy())
    return np.concatenate(results)


def verify_tflite(
    path: str | Path,
    model: keras.Model,
    images: np.ndarray,
    labels: np.ndarray | None = None,
    batch_size: int = 256,
    num_threads: int = 2,
) -> TfliteReport:
    """Compare LiteRT and Keras outputs on preprocessed float32 ``images``."""
    ops = tflite_op_names(path)
    tfl = _run_tflite(_interpreter(path, num_threads), images, batch_size)
    ref = np.concatenate([
        keras.ops.convert_to_numpy(model(images[i : i + batch_size], training=False))
        for i in range(0, len(images), batch_size)
    ])
    agree = float(np.mean(tfl.argmax(-1) == ref.argmax(-1)))
    acc = (lambda p: float(np.mean(p.argmax(-1) == labels))) if labels is not None else (lambda p: None)
    return TfliteReport(
        path=str(path),
        size_bytes=Path(path).stat().st_size,
        ops=ops,
        num_examples=len(images),
        max_abs_logit_diff=float(np.max(np.abs(tfl - ref))),
        top1_agreement=agree,
        tflite_accuracy=acc(tfl),
        keras_accuracy=acc(ref),
    )


def export_and_verify(
    model: keras.Model,
    out_dir: str | Path,
    images: np.ndarray,
    labels: np.ndarray | None = None,
    name: str = "model",
) -> TfliteReport:
    """Write ``out_dir/name.tflite``, verify it, write the report next to it as ``name.tflite.json``."""
    path = convert_to_tflite(model, Path(out_dir) / f"{name}.tflite")
    report = verify_tflite(path, model, images, labels)
    _atomic_write(Path(f"{path}.json"), json.dumps(report.as_dict(), indent=2).encode())
    return report
