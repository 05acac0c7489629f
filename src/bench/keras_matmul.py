"""The device's matmul ceiling, timed in a process of its own on whatever backend Keras runs:

    python -m src.bench.keras_matmul <n> <steps> <warmup> [dtype]

Prints JSON: the seconds of each timed [n, n] @ [n, n] product of ``dtype`` (`src.bench.measure.matmul_limit`),
its multiply-adds per second at the median, the backend and the device. src.bench.accelerator divides each
model's training multiply-adds per second by it.
"""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402

from src.bench.keras_train import device_name, matmul_precision  # noqa: E402
from src.bench.measure import matmul_limit  # noqa: E402


def main(n: int, steps: int, warmup: int, dtype: str = "float32") -> dict:
    limit = matmul_limit(n, steps, warmup, dtype)
    return {"n": n, "dtype": dtype, "seconds_median": limit.median, "macs_per_s": n ** 3 / limit.median,
            "backend": keras.backend.backend(), "device": device_name(), "matmul_precision": matmul_precision()}


if __name__ == "__main__":
    n, steps, warmup, *rest = sys.argv[1:]
    print(json.dumps(main(int(n), int(steps), int(warmup), *rest)))
