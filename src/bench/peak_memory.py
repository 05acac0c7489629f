"""Peak resident memory of one training run, in a fresh process (memory cannot be attributed to one of
several models sharing a process):

    python -m src.bench.peak_memory <model> <size> <batch> <steps>

Prints JSON: ``baseline_mib`` (RSS after imports) and ``peak_mib`` (the highest RSS while building the
model and running ``steps`` training steps). The peak is Linux's ``VmHWM``, reset after the imports by
writing 5 to /proc/self/clear_refs: importing TensorFlow (and torch, when installed) passes through a
higher transient peak than a small model's training reaches, which ``ru_maxrss`` would report instead.
Where /proc is not available the peak falls back to ``ru_maxrss`` (KiB on Linux).
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


def _status_mib(field: str) -> float | None:
    """``field`` (VmRSS, VmHWM) of /proc/self/status in MiB; None without /proc."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def reset_peak_rss() -> bool:
    """Set the process' peak RSS (VmHWM) to its current RSS; False where the kernel does not allow it."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        return True
    except OSError:
        return False


def current_rss_mib() -> float:
    return _status_mib("VmRSS") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def max_rss_mib() -> float:
    return _status_mib("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(name: str, size: int, batch: int, steps: int) -> dict[str, float]:
    baseline = current_rss_mib()
    reset_peak_rss()
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
