"""Peak resident memory of one training run, in a fresh process (memory cannot be attributed to one of
several models sharing a process):

    python -m src.bench.peak_memory <model> <size> <batch> <steps>

Prints JSON: ``baseline_mib`` (maximum RSS after imports) and ``peak_mib`` (maximum RSS after building
the model and ``steps`` training steps). Linux reports ``ru_maxrss`` in KiB.
"""

from __future__ import annotations

import json
import os
import resource
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from src.bench.measure import keras_train_stepper  # noqa: E402
from src.bench.peers import build_ours  # noqa: E402


def max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(name: str, size: int, batch: int, steps: int) -> dict[str, float]:
    baseline = max_rss_mib()
    model = build_ours(name, size)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch, size, size, 3)).astype("float32")
    y = rng.integers(0, 10, size=batch).astype("int32")
    step = keras_train_stepper(model, x, y, jit_compile=False)
    for _ in range(steps):
        step()
    keras.backend.clear_session()
    return {"baseline_mib": baseline, "peak_mib": max_rss_mib()}


if __name__ == "__main__":
    name, size, batch, steps = sys.argv[1], *map(int, sys.argv[2:5])
    print(json.dumps(main(name, size, batch, steps)))
