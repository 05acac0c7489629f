"""Android bundles: model.tflite with TFLite Metadata (ImageClassifier schema), labels.txt, model.json."""

from __future__ import annotations

import json

import numpy as np
import pytest

from src.export.android import main, write_bundle
from tests.helpers.config import TINY_JOB, compose_config


@pytest.fixture(scope="module")
def exported_job(tmp_path_factory):
    from src.train import train

    job = tmp_path_factory.mktemp("android") / "job"
    overrides = [o for o in TINY_JOB if o != "export=none"] + ["export=tflite", "export.formats=[float32,int8]"]
    train(compose_config(overrides, job))
    return job


def _run(path, image):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(str(path))
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], image)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


@pytest.mark.parametrize("fmt", ["float32", "int8"])
def test_bundle_holds_everything_an_app_needs(exported_job, fmt):
    from tensorflow_lite_support.metadata.python import metadata

    out = write_bundle(exported_job, fmt)
    description = json.loads((out / "model.json").read_text())
    labels = (out / "labels.txt").read_text().splitlines()
    assert len(labels) == description["output"]["shape"][-1] == 10
    assert description["input"]["shape"] == [1, 16, 16, 1] and description["input"]["color"] == "grayscale"
    assert description["input"]["dtype"] == ("int8" if fmt == "int8" else "float32")
    assert ("quantization" in description["input"]) == (fmt == "int8")
    assert 0.0 <= description["verification"]["top1_agreement"] <= 1.0
    assert description["tflite_metadata"].startswith("embedded")
    displayer = metadata.MetadataDisplayer.with_model_buffer((out / "model.tflite").read_bytes())
    meta = json.loads(displayer.get_metadata_json())
    image = meta["subgraph_metadata"][0]["input_tensor_metadata"][0]
    assert image["content"]["content_properties"]["color_space"] == "GRAYSCALE"
    assert image["process_units"][0]["options"]["mean"] == pytest.approx(description["input"]["normalization"]["pixel_mean"])
    assert displayer.get_packed_associated_file_list() == ["labels.txt"]
    # Metadata changes no weight: the bundled model computes what the exported one does.
    original = exported_job / ("resnet20.tflite" if fmt == "float32" else "resnet20.int8.tflite")
    dtype = np.int8 if fmt == "int8" else np.float32
    image_in = np.random.default_rng(0).integers(-5, 5, size=(1, 16, 16, 1)).astype(dtype)
    np.testing.assert_array_equal(_run(out / "model.tflite", image_in), _run(original, image_in))


def test_a_format_that_was_not_exported_is_named_with_the_command_that_makes_it(exported_job):
    with pytest.raises(SystemExit, match="no verified qat_int8 export.*--qat"):
        main([str(exported_job), "--formats", "qat_int8"])


def test_the_command_exports_a_missing_format_first_then_bundles_it(exported_job):
    import os
    import subprocess
    import sys

    from tests.helpers.config import ROOT

    assert not (exported_job / "mobile_export" / "resnet20.float16.tflite").exists()  # training made float32, int8
    refused = subprocess.run([sys.executable, "-m", "src.export.android", str(exported_job), "--formats", "float16",
                              "--no-export"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert refused.returncode != 0 and "no verified float16 export" in refused.stderr
    proc = subprocess.run([sys.executable, "-m", "src.export.android", str(exported_job), "--formats", "float16"],
                          cwd=ROOT, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "float16: not exported yet; exporting and verifying it" in proc.stdout
    assert (exported_job / "mobile_export" / "resnet20.float16.tflite.json").exists()
    description = json.loads((exported_job / "android" / "float16" / "model.json").read_text())
    assert 0.9 <= description["verification"]["top1_agreement"] <= 1.0
