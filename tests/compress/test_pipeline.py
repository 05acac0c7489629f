"""Deep Compression stages 1-2 on the tf_keras twin of LeNet-300-100 (in a subprocess: tfmot's import
switches tf.keras to tf_keras for the whole process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from src.errors import ConfigError
from tests.helpers.config import ROOT


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



@pytest.mark.slow
def test_compress_a_trained_job_end_to_end(tmp_path, tiny_job):
    """`python -m src.compress.run` on a trained (tiny, synthetic) LeNet-300-100 job: report and model written."""
    from src.train import train
    from tests.helpers.config import compose_config

    job = [o for o in tiny_job if not o.startswith(("model=", "data.image_size"))] + [
        "model=lenet_300_100", "data.image_size=28", "data.channels=1", "data.num_train=512"]
    train(compose_config(job, output_dir=tmp_path / "job"))
    proc = subprocess.run(
        [sys.executable, "-m", "src.compress.run", str(tmp_path / "job"), "--settings", "conf/compress/lenet_300_100.yaml",
         "--prune-epochs", "3", "--share-epochs", "1", "--batch-size", "32"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((tmp_path / "job" / "compressed" / "report.json").read_text())
    assert report["twin_max_abs_diff"] <= 1e-5 and report["keras_max_abs_diff"] <= 1e-5
    assert report["ratio_pqh"] > report["ratio_pq"] > 10
    assert (tmp_path / "job" / "compressed" / "compressed.keras").exists()
    readme = (tmp_path / "job" / "compressed" / "README.md").read_text()
    assert "| total |" in readme
    from src.report.deep_compression import per_layer_table

    assert "\n".join(per_layer_table(tmp_path / "job")) in readme  # report.json holds every storage field


def test_a_bad_settings_file_is_refused_clearly(tmp_path):
    from src.compress.run import read_settings

    bad = tmp_path / "bad.yaml"
    bad.write_text("layers: {ip1: {kept_fraction: 0.1}}\n")
    with pytest.raises(ConfigError, match="not a compression settings file"):
        read_settings(bad)
