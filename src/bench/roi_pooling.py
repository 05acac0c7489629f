"""RoI pooling operators side by side: forward and forward + backward time per call.

    python -m src.bench.roi_pooling [--repeats 10] [--jit both] [--shapes all] [--out experiments/bench/roi_pooling.csv]

For each shape: bilinear RoI pooling (`roi_pool`), deformable RoI pooling (`DeformableRoIPooling`: a
plain pooling, the offset fc and a second pooling), PS RoI pooling and deformable PS RoI pooling
(src/layers/roi_pooling.py), and on TensorFlow the usual TF spelling of RoIAlign,
``tf.image.crop_and_resize`` to k·S × k·S then a k×k mean, as the baseline. The backward pass is the
gradient of a weighted sum with respect to the feature (score) maps and the offset fc / offset fields.
Shapes: a Faster R-CNN head at output stride 16 on a 600×1000 image (38×63 map, 256 channels, 128 RoIs
of a training mini-batch, k = 7) with R-FCN's VOC score maps (k²·21 = 1,029 channels), and a small one.
Run it under ``KERAS_BACKEND=jax`` too.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from src.atomic_files import write_rows  # noqa: E402
from src.bench.measure import call_times_ms  # noqa: E402
from src.compute_env import cpu_model, tensorflow_onednn  # noqa: E402
from src.layers.roi_pooling import DeformableRoIPooling, PSRoIPooling, roi_pool  # noqa: E402

# (name, images, height, width, channels, rois, k, classes for PS pooling, spatial scale)
SHAPES = [
    ("detector head (stride 16)", 1, 38, 63, 256, 128, 7, 21, 1 / 16),
    ("small", 2, 16, 16, 32, 32, 3, 4, 1 / 4),
]
SAMPLING_RATIO = 2


def _boxes(rng: np.random.Generator, n: int, h: int, w: int, rois: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Random boxes inside the image (y1, x1, y2, x2), 1/16 to 1/2 of its sides."""
    ih, iw = h / scale, w / scale
    size = rng.uniform(1 / 16, 1 / 2, size=(rois, 2)) * (ih, iw)
    start = rng.uniform(0, 1, size=(rois, 2)) * ((ih, iw) - size)
    boxes = np.concatenate([start, start + size], axis=1)[:, [0, 1, 2, 3]].astype("float32")
    return boxes, rng.integers(0, n, size=rois).astype("int32")


def _compile(fn: Callable, jit: bool) -> Callable:
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(fn, jit_compile=jit)
    if backend == "jax":
        import jax

        return jax.jit(fn) if jit else fn
    raise SystemExit(f"error: no compiler for the {backend} backend")


def _gradient_fn(forward: Callable, variables: list) -> Callable:
    """A function of the inputs returning d sum(forward · weights) / d (inputs[0], variables)."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        def step(*inputs):
            with tf.GradientTape() as tape:
                tape.watch(inputs[0])
                value = tf.reduce_sum(forward(*inputs))
            return tape.gradient(value, [inputs[0], *variables])
        return step
    import jax

    def loss(features, *rest):
        return keras.ops.sum(forward(features, *rest))
    return jax.grad(loss)


def _times(fn: Callable, args: tuple, repeats: int, warmup: int = 3) -> tuple[float, float, float]:
    def run():
        out = fn(*args)
        keras.ops.convert_to_numpy(keras.tree.flatten(out)[0])  # wait for asynchronous dispatch
    return call_times_ms(run, repeats, warmup)


def operators(shape) -> dict[str, tuple[Callable, tuple, list]]:
    """name -> (forward function, its inputs, trainable variables)."""
    _, n, h, w, c, rois, k, classes, scale = shape
    rng = np.random.default_rng(0)
    features = rng.normal(size=(n, h, w, c)).astype("float32")
    scores = rng.normal(size=(n, h, w, k * k * classes)).astype("float32")
    fields = rng.normal(scale=0.1, size=(n, h, w, 2 * k * k)).astype("float32")
    boxes, indices = _boxes(rng, n, h, w, rois, scale)
    deformable = DeformableRoIPooling(output_size=k, sampling_ratio=SAMPLING_RATIO, spatial_scale=scale)
    deformable(features, boxes, indices)
    deformable.offset_fc.kernel.assign(rng.normal(scale=1e-3, size=deformable.offset_fc.kernel.shape).astype("float32"))
    ps = PSRoIPooling(output_size=k, sampling_ratio=SAMPLING_RATIO, spatial_scale=scale)
    dps = PSRoIPooling(output_size=k, sampling_ratio=SAMPLING_RATIO, spatial_scale=scale, deformable=True)
    ops_ = {
        "roi_pool": (lambda f, b, i: roi_pool(f, b, i, k, SAMPLING_RATIO, scale), (features, boxes, indices), []),
        "deformable_roi_pool": (lambda f, b, i: deformable(f, b, i), (features, boxes, indices),
                                [deformable.offset_fc.kernel.value]),
        "ps_roi_pool": (lambda f, b, i: ps(f, b, i), (scores, boxes, indices), []),
        "deformable_ps_roi_pool": (lambda f, b, i, o: dps(f, b, i, o), (scores, boxes, indices, fields), []),
    }
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        def crop_and_resize(f, b, i):
            hh, ww = tf.cast(tf.shape(f)[1], tf.float32), tf.cast(tf.shape(f)[2], tf.float32)
            y1, x1, y2, x2 = tf.unstack(b * scale - 0.5, axis=1)
            step_y, step_x = (y2 - y1) / (k * SAMPLING_RATIO), (x2 - x1) / (k * SAMPLING_RATIO)
            normalised = tf.stack([(y1 + step_y / 2) / (hh - 1), (x1 + step_x / 2) / (ww - 1),
                                   (y2 - step_y / 2) / (hh - 1), (x2 - step_x / 2) / (ww - 1)], axis=1)
            crops = tf.image.crop_and_resize(f, normalised, i, (k * SAMPLING_RATIO,) * 2)
            return tf.nn.avg_pool2d(crops, SAMPLING_RATIO, SAMPLING_RATIO, "VALID")
        ops_ = {"crop_and_resize (baseline)": (crop_and_resize, (features, boxes, indices), []), **ops_}
    return ops_


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--jit", choices=("off", "on", "both"), default="both", help="XLA compilation")
    parser.add_argument("--shapes", choices=("all", "small"), default="all", help="'small': the small shape only (a smoke run)")
    parser.add_argument("--out", type=Path, default=None, help="CSV file to write (optional)")
    args = parser.parse_args()
    backend = keras.backend.backend()
    jits = {"off": [False], "on": [True], "both": [False, True]}[args.jit]
    print(f"backend={backend} keras={keras.__version__} cpu={cpu_model()} tf_onednn={tensorflow_onednn()} cores={os.cpu_count()}")
    cell = lambda r: f"{r[0]:8.2f} ({r[1]:.2f}-{r[2]:.2f})"  # noqa: E731
    print(f"{'shape':<40} {'operator':<27} {'jit':>3} {'forward ms':>24} {'fwd+bwd ms':>24}")
    rows = []
    for shape in SHAPES if args.shapes == "all" else [s for s in SHAPES if s[0] == "small"]:
        name, n, h, w, c, rois, k, classes, _ = shape
        label = f"{name}: {n}x{h}x{w}x{c}, {rois} RoIs, k={k}"
        for jit in jits:
            for op_name, (forward, inputs, variables) in operators(shape).items():
                fwd = _times(_compile(forward, jit), inputs, args.repeats)
                both = _times(_compile(_gradient_fn(forward, variables), jit), inputs, args.repeats)
                print(f"{label:<40} {op_name:<27} {'on' if jit else 'off':>3} {cell(fwd):>24} {cell(both):>24}")
                rows.append({"backend": backend, "shape": label, "operator": op_name, "jit_compile": jit,
                             "forward_ms_median": fwd[0], "forward_ms_min": fwd[1], "forward_ms_max": fwd[2],
                             "forward_backward_ms_median": both[0], "forward_backward_ms_min": both[1],
                             "forward_backward_ms_max": both[2]})
    if args.out:
        write_rows(rows, args.out)


if __name__ == "__main__":
    main()
