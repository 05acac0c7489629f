"""Run in its own process by test_qat.py (tfmot's import switches tf.keras to tf_keras): QAT of a small
network (argv[1]: MobileNetV3 with SE gates and hard-swish, ShuffleNet v1 or IGC with grouped convs) on a
learnable synthetic task, converted to full-integer TFLite; results as JSON on stdout."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from src.compress.qat import fine_tune, float_tensors, quantization_aware, to_int8_tflite  # noqa: E402
from src.compress.twin import check_twin, tf_keras_twin  # noqa: E402
from src.export.tflite import tflite_op_names, verify_tflite  # noqa: E402
from src.models import build_model  # noqa: E402

#: Small settings per network; the grouped ones exercise the QAT twin's split convs
#: and affine BNs (`tf_keras_twin(for_qat=True)`).
NETWORKS = {
    "mobilenet_v3_small": {"stem": "small", "width_multiplier": 0.5, "dropout": 0.0},
    "shufflenet_v1": {"stem": "small", "groups": 3, "width_multiplier": 0.5},
    "igc": {"depth": 8, "primary_partitions": 4, "secondary_partitions": 2},
}


def main(name: str = "mobilenet_v3_small", mode: str = "train") -> dict:
    """``mode="convert"`` skips both trainings: only what the converter makes of the QAT graph is checked."""
    keras.utils.set_random_seed(0)
    model = build_model(name, input_shape=(16, 16, 1), classes=4, classifier_activation=None, **NETWORKS[name])
    rng = np.random.default_rng(0)
    x = rng.normal(size=(384, 16, 16, 1)).astype("float32")
    y = (x[:, :8].mean(axis=(1, 2, 3)) > 0).astype("int64") + 2 * (x[:, :, :8].mean(axis=(1, 2, 3)) > 0)
    if mode == "train":
        model.compile(optimizer=keras.optimizers.Adam(3e-3),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.fit(x, y, epochs=6, batch_size=64, verbose=0)
    twin = tf_keras_twin(model, for_qat=True)
    result = {"twin_diff": check_twin(model, twin, atol=1e-4)}
    qat = quantization_aware(twin)
    if mode == "train":
        fine_tune(qat, x, y, epochs=2, batch_size=64, learning_rate=1e-3)
    else:
        qat(x[:64], training=True)  # one step of the fake quantisers' range tracking
    qat_logits = qat.predict(x, verbose=0)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "qat.tflite"
        path.write_bytes(to_int8_tflite(qat))
        result["float_tensors"] = float_tensors(path)
        result["ops"] = sorted(set(tflite_op_names(path)))
        report = verify_tflite(path, model, x, y)
        # The .tflite must compute what the fake-quantised model computes: compare against it directly.
        from src.export.tflite import _load, _run_tflite

        tfl = _run_tflite(_load(path), path, x, 64)
    result["qat_vs_tflite_max_diff"] = float(np.max(np.abs(tfl - qat_logits)))
    result["qat_vs_tflite_mean_diff"] = float(np.mean(np.abs(tfl - qat_logits)))
    result["qat_vs_tflite_agreement"] = float(np.mean(tfl.argmax(-1) == qat_logits.argmax(-1)))
    result["logit_range"] = float(np.ptp(qat_logits))
    result["float_accuracy"] = report.keras_accuracy
    result["tflite_accuracy"] = report.tflite_accuracy
    return result


if __name__ == "__main__":
    json.dump(main(*sys.argv[1:3]), sys.stdout)
