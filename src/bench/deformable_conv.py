"""Deformable vs regular 3×3 convolution: forward and training-step time, side by side.

    python -m src.bench.deformable_conv [--repeats 10] [--jit both] [--out experiments/bench/deformable_conv.csv]

For each shape, ``DeformableConv2D`` (Dai et al. 2017; offsets set to small random values so that
samples fall between pixels, as after training) against ``Conv2D`` with the same kernel, strides and
padding: forward (``predict_on_batch``) and training step (forward + backward + SGD update,
``train_on_batch``), medians (min–max) and the deformable/regular ratio. Shapes: a ResNet stage-4-like
3×3 conv (conv4_x, 14×14×256 → 256, as in a Deformable ConvNets res4/res5 block at output stride 16)
and a small one. Compiled with and without XLA (``jit_compile``; the training config's default is XLA).
Run it under ``KERAS_BACKEND=jax`` too where JAX is installed.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from src.atomic_files import write_rows  # noqa: E402
from src.bench.measure import call_times_ms  # noqa: E402
from src.compute_env import cpu_model, tensorflow_onednn  # noqa: E402
from src.layers.deformable_conv import DeformableConv2D  # noqa: E402

# (batch, height, width, in channels, filters, kernel)
SHAPES = [
    (8, 14, 14, 256, 256, 3),
    (8, 8, 8, 32, 32, 3),
]


def _model(kind: str, shape) -> keras.Model:
    _, h, w, c, f, k = shape
    inputs = keras.Input((h, w, c))
    if kind == "conv":
        layer = keras.layers.Conv2D(f, k, padding="same", name="layer")
    else:
        layer = DeformableConv2D(f, k, padding="same", name="layer")
    model = keras.Model(inputs, layer(inputs))
    if kind == "deformable":  # trained-like offsets: fractional, a pixel or so
        rng = np.random.default_rng(0)
        layer.offset_kernel.assign(rng.normal(scale=0.01, size=layer.offset_kernel.shape).astype("float32"))
        layer.offset_bias.assign(rng.normal(scale=1.0, size=layer.offset_bias.shape).astype("float32"))
    return model


def _times(fn, repeats: int, warmup: int = 3) -> tuple[float, float, float]:
    return call_times_ms(fn, repeats, warmup)


def measure(kind: str, shape, jit: bool, repeats: int) -> dict[str, tuple[float, float, float]]:
    """Forward and training-step milliseconds (median, min, max) of one layer kind."""
    keras.backend.clear_session()
    b, h, w, c, _, _ = shape
    model = _model(kind, shape)
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse", jit_compile=jit)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(b, h, w, c)).astype("float32")
    y = np.zeros((b, *model.output_shape[1:]), "float32")
    forward = _times(lambda: model.predict_on_batch(x), repeats)
    train = _times(lambda: model.train_on_batch(x, y), repeats)
    return {"forward": forward, "train": train}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--jit", choices=("off", "on", "both"), default="both", help="XLA compilation")
    parser.add_argument("--out", type=Path, default=None, help="CSV file to write (optional)")
    args = parser.parse_args()
    backend = keras.backend.backend()
    jits = {"off": [False], "on": [True], "both": [False, True]}[args.jit]
    print(f"backend={backend} keras={keras.__version__} cpu={cpu_model()} tf_onednn={tensorflow_onednn()} cores={os.cpu_count()}")
    cell = lambda r: f"{r[0]:7.1f} ({r[1]:.1f}-{r[2]:.1f})"  # noqa: E731
    header = f"{'shape N,H,W,Cin->Cout k':<26} {'jit':>3} {'conv fwd ms':>20} {'deform fwd ms':>22} {'ratio':>6}"
    print(header + f" {'conv train ms':>20} {'deform train ms':>22} {'ratio':>6}")
    rows = []
    for shape in SHAPES:
        b, h, w, c, f, k = shape
        label = f"{b}x{h}x{w}x{c}->{f} k={k}"
        for jit in jits:
            conv = measure("conv", shape, jit, args.repeats)
            deform = measure("deformable", shape, jit, args.repeats)
            ratio = {phase: deform[phase][0] / conv[phase][0] for phase in ("forward", "train")}
            print(
                f"{label:<26} {'on' if jit else 'off':>3} {cell(conv['forward']):>20} {cell(deform['forward']):>22} "
                f"{ratio['forward']:6.1f} {cell(conv['train']):>20} {cell(deform['train']):>22} {ratio['train']:6.1f}"
            )
            row = {"backend": backend, "shape": label, "jit_compile": jit}
            for phase in ("forward", "train"):
                for name, result in (("conv", conv), ("deformable", deform)):
                    row.update({f"{name}_{phase}_ms_median": result[phase][0], f"{name}_{phase}_ms_min": result[phase][1],
                                f"{name}_{phase}_ms_max": result[phase][2]})
                row[f"{phase}_deformable_over_conv"] = ratio[phase]
            rows.append(row)
    if args.out:
        write_rows(rows, args.out)


if __name__ == "__main__":
    main()
