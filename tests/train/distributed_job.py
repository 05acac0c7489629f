"""Run in its own process by test_engines.py (devices must be split before the backend starts):
trains the tiny LeNet-5 job once on one device and once data-parallel over two CPU devices, and prints
the replica count and the largest weight difference between the two as JSON.

    python -m tests.train.distributed_job mirrored        # KERAS_BACKEND=tensorflow
    python -m tests.train.distributed_job data_parallel   # KERAS_BACKEND=jax
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
if os.environ.get("KERAS_BACKEND") == "jax":  # two host devices for JAX; must precede importing jax
    os.environ["XLA_FLAGS"] = os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2"

import keras  # noqa: E402
import numpy as np  # noqa: E402

from tests.helpers.config import compose_config  # noqa: E402

#: LeNet-5 has no BatchNormalization, whose per-replica batch statistics would make the runs differ.
JOB = ["model=lenet5", "data=synthetic", "data.num_train=256", "data.num_val=32", "data.num_test=32",
       "data.image_size=28", "data.batch_size=32", "train.epochs=2", "train.warmup_epochs=0",
       "train.learning_rate=0.05", "logger=none", "export=none", "train.checkpoint=false"]


def split_cpu_in_two() -> None:
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)


def weights_after(kind: str, root: Path) -> tuple[list[np.ndarray], float]:
    from src.train import train

    cfg = compose_config(JOB + [f"train.distribution={kind}"], output_dir=root / kind)
    results = train(cfg)
    model = keras.saving.load_model(root / kind / "model.keras", compile=False)
    return model.get_weights(), results["test_accuracy"]


def main(kind: str) -> dict:
    split_cpu_in_two()
    from src.train.distribution import distribution_scope

    with distribution_scope(kind, 32) as replicas:
        pass
    with tempfile.TemporaryDirectory() as tmp:
        single, acc_single = weights_after("none", Path(tmp))
        parallel, acc_parallel = weights_after(kind, Path(tmp))
    diff = max(float(np.max(np.abs(a - b))) for a, b in zip(single, parallel))
    scale = max(float(np.max(np.abs(a))) for a in single)
    return {"replicas": replicas, "max_weight_diff": diff, "max_weight": scale,
            "accuracy_single": acc_single, "accuracy_parallel": acc_parallel}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])))
