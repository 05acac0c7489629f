"""Our network's Keras training step timed in a process of its own, on whatever backend and device
Keras runs (the GPU machine has JAX and no TensorFlow):

    python -m src.bench.keras_train <model> <size> <batch> <steps> <warmup> [precision] [jit 0|1]
    python -m src.bench.keras_train --serve <model> <size> <batch> <precision> <jit 0|1> <options as JSON>

Prints JSON: the seconds of each timed ``train_on_batch`` (forward + backward + SGD update; it returns
Python floats, so each step waits for the device), the trainable parameter count, the forward
multiply-adds per image, the backend and the device. ``precision`` is a `src.train.precision` policy
(``mixed_float16`` gets Keras' loss scaling); the batch is placed on the device once, as the PyTorch
counterpart does. The model is built with `src.bench.peers.TORCHVISION`'s knobs so that it is
torchvision's network.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from src.bench.measure import keras_train_stepper, timed_rounds  # noqa: E402
from src.bench.peers import CLASSES, TORCHVISION, build_ours  # noqa: E402
from src.bench.step_server import serve  # noqa: E402
from src.compute_env import tensorflow_onednn  # noqa: E402
from src.profiling import count_macs, count_params  # noqa: E402
from src.train.precision import dtype_policy  # noqa: E402


def device_name() -> str:
    if keras.backend.backend() == "jax":
        import jax

        return str(jax.devices()[0].device_kind)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        return gpus[0].name if gpus else "cpu"
    return keras.backend.backend()


def matmul_precision() -> str:
    """JAX's default float32 matmul/conv precision on the device (None: TF32 on NVIDIA tensor cores)."""
    if keras.backend.backend() != "jax":
        return "n/a"
    import jax

    return str(jax.config.jax_default_matmul_precision)


def build_step(name: str, size: int, batch: int, precision: str = "float32", jit_compile: bool = True,
               knobs: dict | None = None, channels: int = 3) -> tuple[Callable[[], object], keras.Model]:
    """(one ``train_on_batch`` of our ``name`` on a fixed batch, the model); ``knobs`` default to
    torchvision's variant (`src.bench.peers.TORCHVISION`)."""
    keras.utils.set_random_seed(0)
    knobs = TORCHVISION.get(name, (None, {}))[1] if knobs is None else knobs
    rng = np.random.default_rng(0)
    x = keras.ops.convert_to_tensor(rng.normal(size=(batch, size, size, channels)).astype("float32"))
    y = keras.ops.convert_to_tensor(rng.integers(0, CLASSES, size=batch).astype("int32"))
    with dtype_policy(precision):
        model = build_ours(name, size, channels, **knobs)
        step = keras_train_stepper(model, x, y, jit_compile)
    return step, model


def main(name: str, size: int, batch: int, steps: int, warmup: int, precision: str = "float32",
         jit_compile: bool = True) -> dict:
    step, model = build_step(name, size, batch, precision, jit_compile)
    seconds = timed_rounds([step], steps, warmup)[0]
    return {"seconds": seconds, "params": count_params(model).trainable, "macs": count_macs(model).total,
            "backend": keras.backend.backend(),
            "device": device_name(), "keras": keras.__version__, "matmul_precision": matmul_precision(), "precision": precision, "jit_compile": jit_compile}


def serve_step(name: str, size: int, batch: int, precision: str, jit_compile: bool, options: dict) -> None:
    """Set up once, then one timed step per request (src/bench/step_server.py): a variant of ours that
    needs a process of its own (another TF_ENABLE_ONEDNN_OPTS) joins interleaved rounds. ``options``:
    ``knobs`` (default torchvision's variant), ``channels`` (3), ``deterministic`` (TensorFlow's op
    determinism, as the training jobs run; false)."""
    if options.get("deterministic") and keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    step, model = build_step(name, size, batch, precision, jit_compile, options.get("knobs"),
                             int(options.get("channels", 3)))

    def timed() -> float:
        start = time.perf_counter()
        step()
        return time.perf_counter() - start

    serve(timed, {"params": count_params(model).trainable, "macs": count_macs(model).total,
                  "backend": keras.backend.backend(), "tf_onednn": tensorflow_onednn()})


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        name, size, batch, precision, jit, options = sys.argv[2:]
        serve_step(name, int(size), int(batch), precision, bool(int(jit)), json.loads(options))
    else:
        name, size, batch, steps, warmup, *rest = sys.argv[1:]
        precision = rest[0] if rest else "float32"
        jit = bool(int(rest[1])) if len(rest) > 1 else True
        print(json.dumps(main(name, int(size), int(batch), int(steps), int(warmup), precision, jit)))
