"""Deep Compression stages 1-2 on the tf_keras twin of LeNet-300-100 (in a subprocess: tfmot's import
switches tf.keras to tf_keras for the whole process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import keras
import pytest

from src.compress.twin import tf_keras_twin
from src.errors import ConfigError
from src.models import build_model
from tests.conftest import ROOT


def test_prune_then_share_weights_on_the_twin_and_bring_them_back():
    proc = subprocess.run([sys.executable, "-m", "tests.compress.tfmot_job"], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["twin_diff"] <= 1e-5
    for name, target in {"ip1": 0.08, "ip2": 0.09, "ip_out": 0.26}.items():
        assert result["kept"][name] == pytest.approx(target, abs=0.01), (name, result["kept"])
        assert result["zeros_kept"][name], f"{name}: weight sharing revived pruned weights"
        assert 1 <= result["distinct_nonzero"][name] <= 2**6 - 1, result["distinct_nonzero"]
    assert result["ratio_pqh"] > result["ratio_pq"] > 10  # dense fp32 vs ~8 % kept at 6+5 bits
    assert result["back_diff"] <= 1e-5  # the Keras 3 model carries the compressed weights exactly


def test_graphs_without_a_twin_yet_are_refused_by_name():
    keras.backend.clear_session()
    with pytest.raises(ConfigError, match="only chain models|has no tf_keras twin"):
        tf_keras_twin(build_model("resnet20", input_shape=(16, 16, 1)))
