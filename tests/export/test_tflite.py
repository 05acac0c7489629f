"""Builtins-only TFLite export verified in LiteRT; flex ops and corrupt files refused clearly."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
from keras import layers

from src.errors import ExportError
from src.export import TfliteReport, convert_to_tflite, export_and_verify, tflite_op_names, verify_tflite


def small_net() -> keras.Model:
    inputs = keras.Input((16, 16, 1))
    x = layers.Conv2D(8, 3, padding="same", use_bias=False)(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.DepthwiseConv2D(3, padding="same")(x)
    x = layers.Conv2D(8, 1, groups=2)(x)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(5)(x), name="small_net")


class Determinant(keras.layers.Layer):
    """Lowers to TF's MatrixDeterminant, which has no TFLite builtin (checked: it needs flex)."""

    def call(self, x):
        return keras.ops.expand_dims(keras.ops.det(x[..., 0]), -1)


def det_net() -> keras.Model:
    inputs = keras.Input((3, 3, 1))
    return keras.Model(inputs, Determinant()(inputs), name="det_net")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    model = small_net()
    # Non-trivial BatchNorm statistics, so folding them into the conv is actually exercised.
    bn = next(layer for layer in model.layers if isinstance(layer, layers.BatchNormalization))
    rng = np.random.default_rng(2)
    bn.moving_mean.assign(rng.normal(size=8).astype("float32"))
    bn.moving_variance.assign(rng.uniform(0.5, 2.0, size=8).astype("float32"))
    images = np.random.default_rng(0).normal(size=(37, 16, 16, 1)).astype(np.float32)
    labels = np.random.default_rng(1).integers(0, 5, 37)
    out = tmp_path_factory.mktemp("export")
    report = export_and_verify(model, out, images, labels, name="small")
    return model, images, labels, out, report


def test_export_is_builtins_only_and_agrees_with_keras(exported):
    _, _, _, out, report = exported
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"} <= set(report.ops)
    assert not any(op.startswith("Flex") or op in ("CUSTOM", "DELEGATE", "VAR_HANDLE") for op in report.ops)
    assert report.ops == sorted(set(report.ops)) == tflite_op_names(out / "small.tflite")
    assert report.max_abs_logit_diff <= 1e-4 and report.top1_agreement == 1.0
    assert report.num_examples == 37  # one resized batch of 37 (batch_size 256 > N)
    assert report.size_bytes == (out / "small.tflite").stat().st_size > 0
    sidecar = json.loads((out / "small.tflite.json").read_text())
    assert TfliteReport(**sidecar) == report
    assert 0 <= report.keras_logit_range["outlier_share"] <= 1 and report.keras_logit_range["median_max_abs_logit"] > 0
    assert not list(out.glob(".*tmp"))  # atomic write leaves no temporary file


def test_accuracies_against_numpy(exported):
    model, images, labels, out, report = exported
    keras_pred = keras.ops.convert_to_numpy(model(images, training=False)).argmax(-1)
    assert report.keras_accuracy == pytest.approx(float(np.mean(keras_pred == labels)))
    assert report.tflite_accuracy == pytest.approx(report.keras_accuracy)
    # Another label set with a known accuracy: the Keras predictions with the first 10 changed.
    known = keras_pred.copy()
    known[:10] = (known[:10] + 1) % 5
    # batch_size=5: several resized batches and a partial last one (37 = 7*5 + 2); one-hot labels.
    r = verify_tflite(out / "small.tflite", model, images, np.eye(5)[known], batch_size=5)
    assert r.keras_accuracy == pytest.approx(27 / 37) and r.tflite_accuracy == pytest.approx(27 / 37)
    assert r.max_abs_logit_diff <= 1e-4 and r.top1_agreement == 1.0
    assert verify_tflite(out / "small.tflite", model, images).tflite_accuracy is None
    metrics = report.as_metrics()
    assert metrics["tflite_top1_agreement"] == 1.0 and metrics["tflite_num_examples"] == 37.0
    assert all(isinstance(v, float) for v in metrics.values())


def test_fixed_batch_fallback_when_resizing_fails(exported, tmp_path, monkeypatch):
    from ai_edge_litert.interpreter import Interpreter

    model, images, labels, _, report = exported
    path = convert_to_tflite(model, tmp_path / "b4.tflite", batch_size=4)

    def refuse(self, *args, **kwargs):
        raise RuntimeError("resize refused (test)")

    monkeypatch.setattr(Interpreter, "resize_tensor_input", refuse)
    r = verify_tflite(path, model, images, labels, batch_size=16)  # batches of 4, last one padded
    assert r.num_examples == 37 and r.max_abs_logit_diff <= 1e-4 and r.top1_agreement == 1.0
    assert r.tflite_accuracy == pytest.approx(report.tflite_accuracy)


def test_model_needing_flex_ops_is_refused(tmp_path):
    with pytest.raises(ExportError, match="MatrixDeterminant.*not TFLite builtins.*Flex"):
        convert_to_tflite(det_net(), tmp_path / "det.tflite")
    assert not list(tmp_path.iterdir())  # nothing written, no temporary file left


def test_file_with_flex_ops_is_refused(tmp_path):
    import tensorflow as tf

    model = det_net()
    model.export(tmp_path / "saved", format="tf_saved_model", input_signature=[tf.TensorSpec([1, 3, 3, 1])], verbose=False)
    converter = tf.lite.TFLiteConverter.from_saved_model(str(tmp_path / "saved"))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
    (tmp_path / "flex.tflite").write_bytes(converter.convert())
    with pytest.raises(ExportError, match=r"FlexMatrixDeterminant.*builtins-only"):
        tflite_op_names(tmp_path / "flex.tflite")
    with pytest.raises(ExportError, match="FlexMatrixDeterminant"):
        verify_tflite(tmp_path / "flex.tflite", model, np.eye(3, dtype=np.float32)[None, ..., None])


@pytest.mark.parametrize(
    "corrupt",
    [lambda b: b"", lambda b: b"not a model at all", lambda b: b[:400], lambda b: b[: len(b) // 2], lambda b: b[:4] + b"XXXX" + b[8:]],
    ids=["empty", "garbage", "truncated-400", "truncated-half", "bad-identifier"],
)
def test_corrupt_tflite_files_give_a_clear_error(exported, tmp_path, corrupt):
    model, images, _, out, _ = exported
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(corrupt((out / "small.tflite").read_bytes()))
    with pytest.raises(ExportError, match="corrupt|not a TFLite"):
        tflite_op_names(bad)
    with pytest.raises(ExportError, match="corrupt|not a TFLite"):
        verify_tflite(bad, model, images)


def test_missing_file_and_bad_inputs(exported, tmp_path):
    model, images, labels, out, _ = exported
    with pytest.raises(ExportError, match="does not exist"):
        tflite_op_names(tmp_path / "nope.tflite")
    with pytest.raises(ExportError, match="non-empty"):
        verify_tflite(out / "small.tflite", model, images[:0])
    with pytest.raises(ExportError, match="labels for"):
        verify_tflite(out / "small.tflite", model, images, labels[:5])


@pytest.fixture(scope="module")
def trained_net():
    """A small conv net trained to clear margins on a separable synthetic task (quantisation keeps its decisions)."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 5, 400)
    images = rng.normal(0, 0.3, (400, 16, 16, 1)).astype(np.float32)
    for k in range(5):  # class k: a bright 4x4 patch at its own place
        images[labels == k, 3 * k : 3 * k + 4, 3 * k : 3 * k + 4, 0] += 2.0
    inputs = keras.Input((16, 16, 1))
    x = layers.Conv2D(16, 3, padding="same", activation="relu")(inputs)
    x = layers.Conv2D(32, 3, strides=2, padding="same", activation="relu")(x)
    x = layers.Dense(64, activation="relu")(layers.Flatten()(x))  # 131 k weights: size is the weights'
    model = keras.Model(inputs, layers.Dense(5)(x), name="quant_net")
    model.compile(optimizer=keras.optimizers.Adam(0.003), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(images, labels, epochs=15, batch_size=32, verbose=0)
    return model, images, labels


@pytest.mark.parametrize("fmt, max_rel_diff, min_agreement", [
    ("float16", 0.005, 0.99), ("dynamic_int8", 0.05, 0.98), ("int8", 0.05, 0.98),
])
def test_quantised_formats_agree_with_keras_and_shrink_the_file(trained_net, tmp_path, fmt, max_rel_diff, min_agreement):
    model, images, labels = trained_net
    span = float(np.ptp(model.predict(images, verbose=0)))  # logit range: the scale quantisation error is relative to
    float_report = export_and_verify(model, tmp_path, images, labels, name="net")
    report = export_and_verify(model, tmp_path, images, labels, name="net", fmt=fmt, representative=images[:100])
    assert report.path.endswith(f"net.{fmt}.tflite") and (tmp_path / f"net.{fmt}.tflite.json").exists()
    assert report.max_abs_logit_diff < max_rel_diff * span and report.top1_agreement >= min_agreement
    assert report.size_bytes < (0.6 if fmt == "float16" else 0.35) * float_report.size_bytes
    assert float_report.tflite_accuracy > 0.9 and report.tflite_accuracy >= float_report.tflite_accuracy - 0.02


def test_int8_is_full_integer_with_int8_input_and_output(trained_net, tmp_path):
    from ai_edge_litert.interpreter import Interpreter

    model, images, _ = trained_net
    path = convert_to_tflite(model, tmp_path / "q.tflite", fmt="int8", representative=images[:50])
    interp = Interpreter(model_path=str(path))
    assert interp.get_input_details()[0]["dtype"] == np.int8 and interp.get_output_details()[0]["dtype"] == np.int8
    float_ops = {"DEQUANTIZE", "QUANTIZE"} & set(tflite_op_names(path))
    assert not float_ops, f"full-integer model still converts at its edges: {float_ops}"


def test_int8_without_calibration_images_or_unknown_format_is_refused(tmp_path):
    with pytest.raises(ExportError, match="representative images"):
        convert_to_tflite(small_net(), tmp_path / "q.tflite", fmt="int8")
    with pytest.raises(ExportError, match="unknown TFLite format"):
        convert_to_tflite(small_net(), tmp_path / "q.tflite", fmt="int4")
    assert not (tmp_path / "q.tflite").exists()


def test_a_training_job_exports_every_listed_format(tmp_path):
    from src.train import train
    from tests.helpers.config import TINY_JOB, compose_config

    job = [o for o in TINY_JOB if o != "export=none"] + ["export=tflite", "export.formats=[float32,int8]",
                                                         "export.max_eval_examples=32"]
    results = train(compose_config(job, tmp_path))
    assert (tmp_path / "resnet20.tflite").exists() and (tmp_path / "resnet20.int8.tflite").exists()
    assert 0.0 <= results["tflite_int8_top1_agreement"] <= 1.0 and results["tflite_top1_agreement"] == 1.0


def test_an_unknown_export_format_stops_the_job_before_training(tmp_path):
    from src.errors import ConfigError
    from src.train import train
    from tests.helpers.config import TINY_JOB, compose_config

    job = [o for o in TINY_JOB if o != "export=none"] + ["export=tflite", "export.formats=[float32,int4]"]
    with pytest.raises(ConfigError, match="int4"):
        train(compose_config(job, tmp_path))
    assert not (tmp_path / "history.csv").exists()


def test_xnnpack_refusing_an_int8_file_is_explained(tmp_path):
    """A depthwise channel with huge weights but a silent input (as a trained ShuffleNet v1 had) gives a
    requantisation scale ≥ 256, which XNNPACK refuses: the error names the op and the cause."""
    inputs = keras.Input((8, 8, 4))
    x = layers.DepthwiseConv2D(3, padding="same", name="dw")(inputs)
    model = keras.Model(inputs, layers.Dense(3)(layers.GlobalAveragePooling2D()(x)))
    kernel = np.random.default_rng(0).normal(0, 0.5, (3, 3, 4, 1)).astype(np.float32)
    kernel[..., 0, 0] = 1e5  # channel 0: huge weights, and its input is always 0 below
    model.get_layer("dw").set_weights([kernel, np.zeros(4, np.float32)])
    images = np.random.default_rng(1).normal(0, 1, (64, 8, 8, 4)).astype(np.float32)
    images[..., 0] = 0.0
    labels = np.zeros(64, np.int64)
    with pytest.raises(ExportError, match=r"XNNPACK refuses 1 op\(s\).*DEPTHWISE_CONV_2D: requantisation scale.*went dead in training"):
        export_and_verify(model, tmp_path, images, labels, name="big", fmt="int8", representative=images)


def test_exported_files_get_the_modes_of_the_jobs_other_files(tmp_path):
    import os
    import stat

    from src.atomic_files import atomic_write_bytes

    previous = os.umask(0o022)
    try:
        atomic_write_bytes(tmp_path / "m.tflite", b"x")
        (tmp_path / "other.json").write_text("{}")
    finally:
        os.umask(previous)
    mode = stat.S_IMODE((tmp_path / "m.tflite").stat().st_mode)
    assert mode == stat.S_IMODE((tmp_path / "other.json").stat().st_mode) == 0o644
