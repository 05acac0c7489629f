"""Quantisation-aware training (Jacob et al., CVPR 2018) of a zoo network with tfmot, on its tf_keras twin.

tfmot's default 8-bit scheme folds BN into the preceding conv and puts fake-quant nodes where the TFLite
int8 kernels will quantise. Its registry knows stock layers only, so the twin's own layers get a
`QuantizeConfig` here: layers that compute new values (hard-sigmoid, hard-swish, the SE gate's
`Multiply`, refused by tfmot without one) quantise their output; layers that only move
values (channel split and shuffle, the option-A shortcut) keep their input's scale and get no quantiser.
The twin is built ``for_qat`` (`src.compress.twin`): grouped convolutions (ShuffleNet v1, IGC) split into
ungrouped ones and every BN foldable or a 1×1 depthwise affine, since TFLite leaves a fake-quantised grouped
conv and an unfolded BN in float; `qat_job` refuses a conversion that still has a float tensor.
Importing this module imports tfmot, which switches ``tf.keras`` to tf_keras for the process: run it in
a compression job's own process (`python -m src.compress.qat`).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow_model_optimization as tfmot  # noqa: E402
import tf_keras  # noqa: E402

from src.compress import twin_layers  # noqa: E402
from src.errors import SuiteError  # noqa: E402

quant = tfmot.quantization.keras


class OutputQuantizeConfig(quant.QuantizeConfig):
    """No weights; the output is fake-quantised to 8 bits (asymmetric, per tensor), as tfmot does for
    its own activation layers."""

    def get_weights_and_quantizers(self, layer):
        return []

    def get_activations_and_quantizers(self, layer):
        return []

    def set_quantize_weights(self, layer, quantize_weights):
        pass

    def set_quantize_activations(self, layer, quantize_activations):
        pass

    def get_output_quantizers(self, layer):
        return [quant.quantizers.MovingAverageQuantizer(num_bits=8, per_axis=False, symmetric=False,
                                                        narrow_range=False)]

    def get_config(self) -> dict:
        return {}


class GateQuantizeConfig(OutputQuantizeConfig):
    """Hard-sigmoid: fake-quantise relu6(x + 3) (its ``activation``) as well as the output."""

    def get_activations_and_quantizers(self, layer):
        return [(layer.activation, quant.quantizers.MovingAverageQuantizer(
            num_bits=8, per_axis=False, symmetric=False, narrow_range=False))]

    def set_quantize_activations(self, layer, quantize_activations):
        layer.activation = quantize_activations[0]


class PassThroughQuantizeConfig(OutputQuantizeConfig):
    """Data movement only (split, shuffle, strided identity, zero channels): no quantiser of its own."""

    def get_output_quantizers(self, layer):
        return []


def _annotate(layer):
    if isinstance(layer, twin_layers.TwinHardSigmoid):
        return quant.quantize_annotate_layer(layer, quantize_config=GateQuantizeConfig())
    if isinstance(layer, (*twin_layers.ELEMENTWISE, tf_keras.layers.Multiply)):
        return quant.quantize_annotate_layer(layer, quantize_config=OutputQuantizeConfig())
    if isinstance(layer, twin_layers.DATA_MOVEMENT):
        return quant.quantize_annotate_layer(layer, quantize_config=PassThroughQuantizeConfig())
    return quant.quantize_annotate_layer(layer)


def quantization_aware(twin):
    """The twin (built with ``for_qat=True``) with tfmot's default 8-bit fake quantisation (BN folded),
    ready to fine-tune."""
    annotated = tf_keras.models.clone_model(twin, clone_function=_annotate)
    scope = {**twin_layers.CUSTOM_OBJECTS, "OutputQuantizeConfig": OutputQuantizeConfig,
             "GateQuantizeConfig": GateQuantizeConfig,
             "PassThroughQuantizeConfig": PassThroughQuantizeConfig}
    with quant.quantize_scope(scope):
        return quant.quantize_apply(annotated)


def fine_tune(model, x, y, epochs: int, batch_size: int, learning_rate: float, seed: int = 0,
              label_smoothing: float = 0.0):
    """SGD + momentum fine-tuning of the fake-quantised model (the QAT step), with the training recipe's
    label smoothing (without it, cross-entropy would start widening the logits that smoothing bounded)."""
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order]
    if label_smoothing:
        loss = tf_keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=label_smoothing)
        y = np.eye(model.output_shape[-1], dtype="float32")[y]
        metric = "categorical_accuracy"
    else:
        loss, metric = tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True), "accuracy"
    model.compile(optimizer=tf_keras.optimizers.SGD(learning_rate, momentum=0.9), loss=loss, metrics=[metric])
    model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=2)
    return model


def to_int8_tflite(model) -> bytes:
    """Full-integer TFLite flatbuffer (int8 input and output, builtin int8 ops only) from the QAT model's
    learnt ranges."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    # Builtins (not TFLITE_BUILTINS_INT8: with it, TF 2.21's converter asks for a representative dataset
    # before it has looked at the graph's fake-quant ops); `float_tensors` checks the result is integer.
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return converter.convert()


def float_tensors(flatbuffer_path: str | Path) -> list[str]:
    """Names of the float32 tensors left in a .tflite (a full-integer model has none)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(str(flatbuffer_path))
    return [d["name"] for d in interpreter.get_tensor_details() if d["dtype"] == np.float32]


def qat_job(job_dir: Path, epochs: int, train_subset: int, batch_size: int, learning_rate: float, seed: int,
            out: Path | None = None) -> dict:
    """QAT of a trained job: twin (outputs checked) → fake quantisation → fine-tune → full-integer .tflite,
    verified in LiteRT on the job's test set against the float Keras model. Writes
    ``<out>/<model>.qat_int8.tflite`` with its ``.json`` verification report and returns a summary."""
    import json
    import time

    import keras

    from src.atomic_files import atomic_write_bytes
    from src.compress.run import IN_MEMORY_USER
    from src.compress.twin import check_twin, tf_keras_twin
    from src.errors import ExportError
    from src.export.tflite import tflite_filename, verify_and_record
    from src.job_folder import job_arrays, load_config, load_trained_model

    started = time.perf_counter()
    keras.utils.set_random_seed(seed)
    tf_keras.utils.set_random_seed(seed)
    model = load_trained_model(job_dir)
    x_train, y_train, x_test, y_test = job_arrays(job_dir, IN_MEMORY_USER)
    if train_subset:
        x_train, y_train = x_train[:train_subset], y_train[:train_subset]
    twin = tf_keras_twin(model, for_qat=True)
    summary = {"job": str(job_dir), "model": model.name, "twin_max_abs_diff": check_twin(model, twin, atol=1e-4),
               "epochs": epochs, "train_images": len(x_train), "batch_size": batch_size,
               "learning_rate": learning_rate, "seed": seed}
    summary["label_smoothing"] = float(load_config(job_dir).train.get("label_smoothing", 0.0))
    qat = quantization_aware(twin)
    fine_tune(qat, x_train, y_train, epochs, batch_size, learning_rate, seed, summary["label_smoothing"])
    logits = qat.predict(x_test, batch_size=512, verbose=0)
    summary["qat_keras_accuracy"] = float(np.mean(logits.argmax(-1) == y_test))
    out = Path(out or job_dir / "mobile_export")
    path = out / tflite_filename(model.name, "qat_int8")
    atomic_write_bytes(path, to_int8_tflite(qat))
    left = float_tensors(path)
    if left:
        raise ExportError(f"{path}: QAT left {len(left)} float tensor(s), e.g. {left[:3]}; a layer lacks a fake-quant "
                          "(give it a QuantizeConfig in src/compress/qat.py).")
    report = verify_and_record(path, model, x_test, y_test)
    summary.update(report.as_dict())
    summary["seconds"] = time.perf_counter() - started
    atomic_write_bytes(out / "qat.json", json.dumps(summary, indent=2).encode())
    print(f"{model.name} QAT int8: accuracy {report.tflite_accuracy:.4f} (float Keras {report.keras_accuracy:.4f}), "
          f"agreement {report.top1_agreement:.4f}, {report.size_bytes / 1024:.0f} KB -> {path}", flush=True)
    return summary


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description="Quantisation-aware training of a trained job, exported as "
                                                 "full-integer int8 TFLite and verified in LiteRT.")
    parser.add_argument("job_dir", type=Path, help="a finished job folder (config.yaml, model.keras)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--train-subset", type=int, default=20000, help="first N training images (0 = all)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=5e-4, help="SGD + momentum 0.9")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="default: <job>/mobile_export")
    args = parser.parse_args(argv)
    from src.job_folder import CONFIG_FILE, MODEL_FILE, is_trained_job

    if not is_trained_job(args.job_dir):
        raise SystemExit(f"error: {args.job_dir} is not a finished training job (needs {MODEL_FILE} and {CONFIG_FILE})")
    try:
        return qat_job(args.job_dir, args.epochs, args.train_subset, args.batch_size, args.learning_rate,
                       args.seed, args.out)
    except SuiteError as exc:
        raise SystemExit(f"error: {exc}") from None


if __name__ == "__main__":
    main()
