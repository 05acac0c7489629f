"""train.precision and train.distribution (src/train/precision.py, src/train/distribution.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import keras
import pytest

from src.errors import ConfigError
from src.train import train
from src.train.distribution import check_distribution
from src.train.precision import dtype_policy
from tests.helpers.config import ROOT, compose_config


@pytest.mark.jax
def test_mixed_precision_trains_and_saves_a_float32_model(tmp_path, tiny_job):
    cfg = compose_config(tiny_job + ["train.precision=mixed_bfloat16"], output_dir=tmp_path)
    results = train(cfg)
    assert keras.config.dtype_policy().name == "float32"  # the process-wide policy is restored
    saved = keras.saving.load_model(tmp_path / "model.keras", compile=False)
    assert {layer.dtype_policy.name for layer in saved.layers} == {"float32"}
    assert 0.0 <= results["test_accuracy"] <= 1.0 and results["test_loss"] == pytest.approx(results["test_loss"])


def test_bfloat16_training_is_reproducible_with_the_fused_bn(tmp_path, tiny_job):
    """mixed_bfloat16 on TensorFlow trains through the fused bfloat16 BN (ResNet-20's 16/32/64 channels):
    the same config and seed still give bit-identical weights under op determinism."""
    import numpy as np

    from tests.helpers.jobs import weights_of

    runs = []
    for i in range(2):
        out = tmp_path / f"run{i}"
        results = train(compose_config(tiny_job + ["train.precision=mixed_bfloat16", "seed=3"], output_dir=out))
        runs.append((results, weights_of(out / "model.keras")))
    (r0, w0), (r1, w1) = runs
    assert r0["test_loss"] == r1["test_loss"]
    assert all(np.array_equal(a, b) for a, b in zip(w0, w1))


def test_dtype_policy_is_restored_after_an_error():
    with pytest.raises(RuntimeError), dtype_policy("mixed_float16"):
        assert keras.config.dtype_policy().name == "mixed_float16"
        raise RuntimeError("boom")
    assert keras.config.dtype_policy().name == "float32"


@pytest.mark.parametrize("override, fragment", [
    ("train.precision=float8", "train.precision='float8' is not valid"),
    ("train.distribution=horovod", "train.distribution='horovod' is not valid"),
    ("train.distribution=data_parallel", "on tensorflow use train.distribution=mirrored"),
])
def test_bad_engine_settings_are_refused_before_training(tmp_path, tiny_job, override, fragment):
    with pytest.raises(ConfigError, match=fragment.replace("(", r"\(")):
        train(compose_config(tiny_job + [override], output_dir=tmp_path))
    assert not (tmp_path / "history.csv").exists()


def test_multi_worker_without_tf_config_says_what_is_missing(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ConfigError, match="TF_CONFIG"):
        check_distribution("multi_worker", "tensorflow")
    with pytest.raises(ConfigError, match="on jax use train.distribution=data_parallel"):
        check_distribution("mirrored", "jax")


def _distributed(kind: str, backend: str) -> dict:
    proc = subprocess.run([sys.executable, "-m", "tests.train.distributed_job", kind], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, env={**os.environ, "KERAS_BACKEND": backend})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_mirrored_strategy_over_two_cpu_devices_equals_one_device_training():
    """Gradients averaged over 2 replicas of 16 examples = one device's gradient over 32 (no BN here)."""
    result = _distributed("mirrored", "tensorflow")
    assert result["replicas"] == 2
    assert result["max_weight_diff"] <= 1e-4 * result["max_weight"], result


def test_keras_data_parallel_on_jax_over_two_devices_equals_one_device_training():
    result = _distributed("data_parallel", "jax")
    assert result["replicas"] == 2
    assert result["max_weight_diff"] <= 1e-4 * result["max_weight"], result


def test_data_parallel_without_jit_is_refused():
    with pytest.raises(ConfigError, match="needs train.jit_compile=true"):
        check_distribution("data_parallel", "jax", jit_compile=False)
