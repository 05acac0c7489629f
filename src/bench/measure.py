"""The measurements of the benchmark suite (`python -m src.bench`), each a small function.

Conventions: times are medians over ``steps`` repeats after ``warmup`` untimed ones, with min and max;
steppers that are compared are timed in interleaved rounds (`timed_rounds`), so machine load hits them
alike and their ratio is meaningful on a noisy machine. A training step is forward + backward + SGD
update; its multiply-adds are counted as 3 × the forward MACs (the backward pass computes gradients for
activations and weights, each about one forward pass).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from src.bench.model_throughput import compile_for_bench, timed_rounds

__all__ = ["Timing", "timed_rounds", "timing", "matmul_limit", "keras_train_stepper",
           "inference_timings", "litert_latency", "pipeline_throughput", "peak_memory_mib"]


@dataclass(frozen=True)
class Timing:
    """Seconds per repeat: median, min, max."""

    median: float
    min: float
    max: float

    def per_second(self, items: int) -> float:
        return items / self.median

    def rates(self, items: int, key: str) -> dict[str, float]:
        """``{key: items/s at the median, key_min: at the slowest repeat, key_max: at the fastest}``."""
        return {key: self.per_second(items), f"{key}_min": items / self.max, f"{key}_max": items / self.min}


def timing(seconds: Sequence[float]) -> Timing:
    return Timing(statistics.median(seconds), min(seconds), max(seconds))


def matmul_limit(n: int, steps: int, warmup: int, dtype: str = "float32") -> Timing:
    """Seconds per [n, n] @ [n, n] matmul of ``dtype`` in the Keras backend: the machine's practical
    ceiling of multiply-adds per second (n³ per call) for dense work of that type."""
    rng = np.random.default_rng(0)
    a = keras.ops.convert_to_tensor(rng.normal(size=(n, n)).astype("float32"), dtype=dtype)
    b = keras.ops.convert_to_tensor(rng.normal(size=(n, n)).astype("float32"), dtype=dtype)

    def step() -> None:
        keras.ops.convert_to_numpy(keras.ops.cast(keras.ops.matmul(a, b)[0, 0], "float32"))  # waits for the result

    return timing(timed_rounds([step], steps, warmup)[0])


def keras_train_stepper(model: keras.Model, x: np.ndarray, y: np.ndarray, jit_compile: bool) -> Callable[[], None]:
    """One ``train_on_batch`` (`compile_for_bench`: SGD 0.01, cross-entropy on logits) per call."""
    compile_for_bench(model, jit_compile)
    return lambda: model.train_on_batch(x, y)


def json_of_module(module: str, *args: object, timeout: float = 3600) -> dict:
    """Run ``python -m module args...`` in a fresh process; the JSON of its last stdout line."""
    proc = subprocess.run([sys.executable, "-m", module, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    if proc.returncode != 0:
        raise RuntimeError(f"python -m {module} {' '.join(map(str, args))} failed (exit {proc.returncode}): "
                           f"{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def inference_timings(model: keras.Model, size: int, batch: int, steps: int, warmup: int) -> tuple[Timing, Timing]:
    """(batch-1 latency, batch-``batch`` time) of ``predict_on_batch`` (inference mode)."""
    rng = np.random.default_rng(2)
    one = rng.normal(size=(1, size, size, 3)).astype("float32")
    many = rng.normal(size=(batch, size, size, 3)).astype("float32")
    single, batched = timed_rounds([lambda: model.predict_on_batch(one), lambda: model.predict_on_batch(many)],
                                   steps, warmup)
    return timing(single), timing(batched)


def litert_latency(model: keras.Model, threads: Sequence[int], steps: int, warmup: int) -> dict[int, Timing]:
    """Batch-1 latency of the float32 .tflite in LiteRT (XNNPACK) per thread count."""
    from ai_edge_litert.interpreter import Interpreter

    from src.export.tflite import convert_to_tflite

    with tempfile.TemporaryDirectory() as tmp:
        data = convert_to_tflite(model, Path(tmp) / "model.tflite").read_bytes()
    x = np.random.default_rng(3).normal(size=(1, *model.input_shape[1:])).astype("float32")
    result = {}
    for n in threads:
        interp = Interpreter(model_content=data, num_threads=int(n))
        interp.allocate_tensors()
        index = interp.get_input_details()[0]["index"]

        def invoke() -> None:
            interp.set_tensor(index, x)
            interp.invoke()

        result[int(n)] = timing(timed_rounds([invoke], steps, warmup)[0])
    return result


def pipeline_throughput(size: int, batch: int, batches: int, examples: int = 4096) -> float:
    """Images per second out of the training input pipeline (src.data.pipeline.train_dataset: seeded
    shuffle, random crop and flip, normalisation) at ``size``×``size``×3, consumed as NumPy."""
    from src.data.pipeline import Normalization, train_dataset

    rng = np.random.default_rng(4)
    images = rng.integers(0, 256, size=(examples, size, size, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, size=examples)
    norm = Normalization.create([0.5, 0.5, 0.5], [0.25, 0.25, 0.25], 3)
    epochs = batches * batch // examples + 2
    ds = train_dataset(images, labels, norm, batch, seed=0, epochs=epochs, crop_pad=4, flip=True).prefetch(2)
    it = iter(ds)
    next(it)  # warm-up: tracing and the first shuffle
    start = time.perf_counter()
    for _ in range(batches):
        xb, _ = next(it)
        xb.numpy()
    return batches * batch / (time.perf_counter() - start)


def peak_memory_mib(name: str, size: int, batch: int, steps: int = 3) -> dict[str, float]:
    """Peak resident memory of a fresh process that builds our ``name`` at ``size`` and trains ``steps``
    steps (src/bench/peak_memory.py): {'baseline_mib': after imports, 'peak_mib': maximum RSS}."""
    return json_of_module("src.bench.peak_memory", name, size, batch, steps, timeout=1800)


def call_times_ms(fn: Callable[[], object], repeats: int, warmup: int = 3) -> tuple[float, float, float]:
    """Median, min and max milliseconds of ``fn()`` over ``repeats`` calls, after ``warmup`` calls
    (tracing, compilation)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3, min(times) * 1e3, max(times) * 1e3

