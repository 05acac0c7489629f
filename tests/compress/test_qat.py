"""Quantisation-aware training through the tf_keras twin, to a full-integer TFLite model (in a subprocess:
tfmot's import switches tf.keras to tf_keras for the whole process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.helpers.config import ROOT

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def _qat_job(*args: str) -> dict:
    proc = subprocess.run([sys.executable, "-m", "tests.compress.qat_job", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=900, env=ENV)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_qat_mobilenet_v3_converts_to_integer_only_tflite_that_matches_the_fake_quantised_model():
    result = _qat_job("mobilenet_v3_small")
    assert result["twin_diff"] <= 1e-4
    assert result["float_tensors"] == []  # SE gate, hard-swish and hard-sigmoid all quantised
    assert {"HARD_SWISH", "MUL", "DEPTHWISE_CONV_2D"} <= set(result["ops"])
    assert not {"QUANTIZE", "DEQUANTIZE"} & set(result["ops"]), result["ops"]
    assert result["qat_vs_tflite_agreement"] >= 0.95
    assert result["qat_vs_tflite_mean_diff"] <= 0.08 * result["logit_range"]
    assert result["tflite_accuracy"] >= result["float_accuracy"] - 0.05


def test_qat_of_grouped_convs_converts_to_integer_only_tflite():
    """IGC: grouped convs split per group, and the BN behind a channel permutation (no conv to fold into)
    as a 1x1 depthwise affine; before the QAT twin did this, TFLite left both in float."""
    result = _qat_job("igc", "convert")
    assert result["twin_diff"] <= 1e-4
    assert result["float_tensors"] == []
    assert {"SPLIT", "CONV_2D", "DEPTHWISE_CONV_2D", "CONCATENATION"} <= set(result["ops"])
    assert "DEQUANTIZE" not in result["ops"], result["ops"]
    assert result["qat_vs_tflite_agreement"] >= 0.95


@pytest.mark.slow
def test_qat_shufflenet_v1_trains_and_converts_to_integer_only_tflite():
    result = _qat_job("shufflenet_v1")
    assert result["float_tensors"] == [] and "DEQUANTIZE" not in result["ops"], result["ops"]
    assert result["qat_vs_tflite_agreement"] >= 0.95
    assert result["tflite_accuracy"] >= result["float_accuracy"] - 0.05


@pytest.mark.slow
def test_qat_cli_on_a_trained_job(tmp_path, tiny_job):
    """`python -m src.compress.qat <job>` writes the .tflite, its verification report and qat.json."""
    from src.train import train
    from tests.helpers.config import compose_config

    job = [o for o in tiny_job if not o.startswith("model=")] + ["model=mobilenet_v3_small", "model.stem=small",
                                                                 "train.label_smoothing=0.1"]
    train(compose_config(job, output_dir=tmp_path / "job"))
    proc = subprocess.run([sys.executable, "-m", "src.compress.qat", str(tmp_path / "job"), "--train-subset", "64",
                           "--batch-size", "32"], cwd=ROOT, capture_output=True, text=True, timeout=900, env=ENV)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((tmp_path / "job" / "mobile_export" / "qat.json").read_text())
    assert summary["train_images"] == 64 and summary["num_examples"] == 32
    assert summary["label_smoothing"] == 0.1  # QAT fine-tunes with the job's own loss
    assert 0.0 <= summary["tflite_accuracy"] <= 1.0 and summary["size_bytes"] > 0
    assert (tmp_path / "job" / "mobile_export" / "mobilenet_v3_small.qat_int8.tflite.json").exists()


def test_qat_cli_refuses_a_folder_that_is_not_a_job(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "src.compress.qat", str(tmp_path)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env=ENV)
    assert proc.returncode != 0 and "is not a finished training job" in proc.stderr
