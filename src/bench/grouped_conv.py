"""Grouped convolution, training step (forward + backward + SGD update) per implementation, side by side.

    python -m src.bench.grouped_conv [--repeats 20] [--out experiments/bench/grouped_conv.csv]

Compares, for each shape, our ``GroupedConv2D`` split path (the training default), the native
``Conv2D(groups=g)`` path, and a dense (groups=1) conv of the same width for scale; for narrow groups
(≤ 4 input channels, IGC's primary conv) on TensorFlow also IGC's ``NarrowGroupedConv2D`` (depthwise +
group sum). Prints medians (min–max) and the native/split ratio. Run it under ``KERAS_BACKEND=jax``
too: the choice is made per backend (experiments/bench/README.md).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from src.atomic_files import write_rows  # noqa: E402
from src.compute_env import cpu_model, tensorflow_onednn  # noqa: E402
from src.layers import GroupedConv2D  # noqa: E402
from src.models.igc import NarrowGroupedConv2D  # noqa: E402

# (batch, height, width, channels, groups, kernel): the pitfall's 32×14×14×64 g=8 case, ShuffleNet-like
# 1×1 grouped convs (g=3, 240 channels at 28×28 and 480 at 14×14), depthwise, and IGC-L24M2's stage-1
# primary conv (24 groups of 2 channels at 28×28).
SHAPES = [
    (32, 14, 14, 64, 8, 3),
    (32, 28, 28, 240, 3, 1),
    (32, 14, 14, 480, 3, 1),
    (32, 14, 14, 64, 64, 3),
    (32, 28, 28, 48, 24, 3),
]


def implementations(channels: int, groups: int, kernel: int) -> dict:
    """name -> layer factory for one shape; ``narrow`` only where IGC's depthwise path runs (narrow
    groups, on TensorFlow: src.models.igc.DEPTHWISE_PATH_BACKENDS)."""
    factories = {
        "split": lambda: GroupedConv2D(channels, kernel, groups=groups, implementation="split"),
        "native": lambda: GroupedConv2D(channels, kernel, groups=groups, implementation="native"),
        "dense": lambda: GroupedConv2D(channels, kernel, groups=1),
    }
    if NarrowGroupedConv2D(channels, kernel, groups=groups).takes_depthwise_path(channels):
        factories["narrow"] = lambda: NarrowGroupedConv2D(channels, kernel, groups=groups)
    return factories


def jit_compile() -> bool:
    """How each backend trains in src.train: TensorFlow without XLA (off under op determinism), JAX
    under ``jax.jit``."""
    return keras.backend.backend() == "jax"


def step_seconds(layer_factory, shape, repeats: int) -> list[float]:
    b, h, w, c, _, _ = shape
    inputs = keras.Input((h, w, c))
    model = keras.Model(inputs, layer_factory()(inputs))
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse", jit_compile=jit_compile())
    x = np.random.default_rng(0).normal(size=(b, h, w, c)).astype("float32")
    y = np.zeros((b, *model.output_shape[1:]), "float32")
    for _ in range(3):  # warm-up (tracing, compilation)
        model.train_on_batch(x, y)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.train_on_batch(x, y)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--out", type=Path, default=None, help="CSV file to write (optional)")
    args = parser.parse_args()
    backend = keras.backend.backend()
    print(f"backend={backend} jit_compile={jit_compile()} keras={keras.__version__} "
          f"cpu={cpu_model()} tf_onednn={tensorflow_onednn()} cores={os.cpu_count()}")
    print(f"{'shape (N,H,W,C) g k':<28} {'split ms':>20} {'native ms':>20} {'dense g=1 ms':>20} {'native/split':>12}"
          f" {'narrow ms':>20}")
    rows = []
    for shape in SHAPES:
        b, h, w, c, g, k = shape
        results = {}
        for name, factory in implementations(c, g, k).items():
            t = step_seconds(factory, shape, args.repeats)
            results[name] = (statistics.median(t) * 1e3, min(t) * 1e3, max(t) * 1e3)
        cell = lambda r: f"{r[0]:7.1f} ({r[1]:.1f}-{r[2]:.1f})"  # noqa: E731
        ratio = results["native"][0] / results["split"][0]
        label = f"{b}x{h}x{w}x{c} g={g} k={k}"
        narrow = cell(results["narrow"]) if "narrow" in results else "-"
        print(f"{label:<28} {cell(results['split']):>20} {cell(results['native']):>20} {cell(results['dense']):>20} {ratio:12.1f}"
              f" {narrow:>20}")
        rows.append({"backend": backend, "jit_compile": jit_compile(), "shape": label, **{f"{n}_ms_median": r[0] for n, r in results.items()},
                     **{f"{n}_ms_min": r[1] for n, r in results.items()}, **{f"{n}_ms_max": r[2] for n, r in results.items()},
                     "native_over_split": ratio})
    if args.out:
        write_rows(rows, args.out)


if __name__ == "__main__":
    main()
