"""Builtins-only TFLite export verified in LiteRT; flex ops and corrupt files refused clearly."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
from keras import layers

from src.errors import ExportError
from src.export import convert_to_tflite, export_and_verify, tflite_op_names, verify_tflite


def small_net() -> keras.Model:
    inputs = keras.Input((16, 16, 1))
    x = layers.Conv2D(8, 3, padding="same", use_bias=False)(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.DepthwiseConv2D(3, padding="same")(x)
    x = layers.Conv2D(8, 1, groups=2)(x)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(5)(x), name="small_net")


@keras.saving.register_keras_serializable(package="tests")
class Determinant(keras.layers.Layer):
    """Needs TF's MatrixDeterminant, which has no TFLite builtin."""

    def call(self, x):
        return keras.ops.expand_dims(keras.ops.det(x[..., 0]), -1)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    model = small_net()
    images = np.random.default_rng(0).normal(size=(37, 16, 16, 1)).astype(np.float32)
    labels = np.random.default_rng(1).integers(0, 5, 37)
    out = tmp_path_factory.mktemp("export")
    report = export_and_verify(model, out, images, labels, name="small")
    return model, images, labels, out, report


def test_export_is_builtins_only_and_agrees_with_keras(exported):
    _, _, _, out, report = exported
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"} <= set(report.ops)
    assert not any(op.startswith("Flex") or op in ("CUSTOM", "DELEGATE") for op in report.ops)
    assert report.max_abs_logit_diff <= 1e-4 and report.top1_agreement == 1.0
    assert report.num_examples == 37  # 256-batch resize path with a partial last batch
    assert report.size_bytes == (out / "small.tflite").stat().st_size > 0
    assert json.loads((out / "small.tflite.json").read_text())["ops"] == report.ops
    assert not list(out.glob(".*tmp"))  # atomic write leaves no temporary file


def test_accuracies_against_numpy(exported):
    model, images, labels, out, report = exported
    keras_pred = keras.ops.convert_to_numpy(model(images, training=False)).argmax(-1)
    assert report.keras_accuracy == pytest.approx(float(np.mean(keras_pred == labels)))
    assert report.tflite_accuracy == pytest.approx(report.keras_accuracy)
    small_batches = verify_tflite(out / "small.tflite", model, images, labels, batch_size=5)
    assert small_batches.max_abs_logit_diff <= 1e-4
    metrics = report.as_metrics()
    assert metrics["tflite_top1_agreement"] == 1.0 and "tflite_size_bytes" in metrics


def test_model_needing_flex_ops_is_refused(tmp_path):
    inputs = keras.Input((3, 3, 1))
    model = keras.Model(inputs, Determinant()(inputs))
    with pytest.raises(ExportError, match="not TFLite builtins"):
        convert_to_tflite(model, tmp_path / "det.tflite")
    assert not (tmp_path / "det.tflite").exists()


@pytest.mark.parametrize("content", [b"", b"not a model at all", None], ids=["empty", "garbage", "truncated"])
def test_corrupt_tflite_files_give_a_clear_error(exported, tmp_path, content):
    model, images, _, out, _ = exported
    bad = tmp_path / "bad.tflite"
    bad.write_bytes((out / "small.tflite").read_bytes()[:400] if content is None else content)
    with pytest.raises(ExportError, match="corrupt|not a TFLite"):
        tflite_op_names(bad)
    with pytest.raises(ExportError):
        verify_tflite(bad, model, images)


def test_missing_file(tmp_path):
    with pytest.raises(ExportError, match="does not exist"):
        tflite_op_names(tmp_path / "nope.tflite")
