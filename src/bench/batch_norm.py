"""BatchNormalization, training step (forward + backward + SGD update), fused kernel vs Keras' ops, per
channel count, side by side:

    python -m src.bench.batch_norm [--repeats 20] [--precision mixed_bfloat16] [--out experiments/bench/batch_norm.csv]

Our ``BatchNormalization`` (src/layers/batch_norm.py) forced onto TensorFlow's fused kernel against the
same layer with ``fused=False`` (Keras 3's own ops), one layer on a 64×16×16×C batch, timed in
interleaved rounds, under ``--precision``'s dtype policy (``mixed_bfloat16``: bfloat16 activations, float32
γ, β and statistics). The layer's channel rules (fuse only where C is a multiple of 8 in float32, of 16
in bfloat16) come from these tables (experiments/bench/batch_norm.csv, batch_norm_bf16.csv).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from src.atomic_files import write_rows  # noqa: E402
from src.bench.measure import keras_train_stepper, timed_rounds, timing  # noqa: E402
from src.layers import batch_norm  # noqa: E402
from src.train.precision import dtype_policy  # noqa: E402

#: Multiples of 4 and of 8, and ShuffleNet v2's branch widths (58, 116, 232) with their neighbours.
CHANNELS = (24, 30, 50, 58, 60, 64, 116, 122, 128, 232, 240)


def bn_model(channels: int, size: int, fused: bool, precision: str = "float32") -> keras.Model:
    with dtype_policy(precision):
        inputs = keras.Input((size, size, channels))
        x = batch_norm.BatchNormalization(fused=fused)(inputs)
        outputs = keras.layers.Dense(10)(keras.layers.GlobalAveragePooling2D()(x))
        return keras.Model(inputs, outputs)


def main(argv: Sequence[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--channels", default=",".join(map(str, CHANNELS)))
    parser.add_argument("--precision", default="float32", choices=("float32", "mixed_bfloat16"))
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    if keras.backend.backend() != "tensorflow":
        raise SystemExit("the fused kernel is TensorFlow's: run with KERAS_BACKEND=tensorflow")

    rules = batch_norm.FUSED_CHANNEL_MULTIPLE
    rule = rules["bfloat16" if args.precision == "mixed_bfloat16" else "float32"]
    batch_norm.FUSED_CHANNEL_MULTIPLE = dict.fromkeys(rules, 1)  # force the fused path
    rng = np.random.default_rng(0)
    rows = []
    try:
        for channels in map(int, args.channels.split(",")):
            x = rng.normal(size=(args.batch, args.size, args.size, channels)).astype("float32")
            y = rng.integers(0, 10, size=args.batch).astype("int32")
            steppers = []
            for fused in (True, False):
                model = bn_model(channels, args.size, fused, args.precision)
                steppers.append(keras_train_stepper(model, x, y, jit_compile=False))
            fused_t, keras_t = (timing(s) for s in timed_rounds(steppers, args.repeats, args.warmup))
            row = {"precision": args.precision, "batch": args.batch, "size": args.size, "channels": channels,
                   "fused_ms": fused_t.median * 1e3, "fused_ms_min": fused_t.min * 1e3, "fused_ms_max": fused_t.max * 1e3,
                   "keras_ms": keras_t.median * 1e3, "keras_ms_min": keras_t.min * 1e3, "keras_ms_max": keras_t.max * 1e3,
                   "keras_over_fused": keras_t.median / fused_t.median, "fused_by_rule": channels % rule == 0}
            rows.append(row)
            print(f"{args.precision} C={channels:4d} {args.batch}x{args.size}x{args.size}: fused {row['fused_ms']:.2f} ms "
                  f"({row['fused_ms_min']:.2f}-{row['fused_ms_max']:.2f}), Keras ops {row['keras_ms']:.2f} ms "
                  f"({row['keras_ms_min']:.2f}-{row['keras_ms_max']:.2f}), Keras/fused {row['keras_over_fused']:.2f}x, "
                  f"layer fuses: {row['fused_by_rule']}", flush=True)
    finally:
        batch_norm.FUSED_CHANNEL_MULTIPLE = rules
    if args.out:
        write_rows(rows, args.out)
    return rows


if __name__ == "__main__":
    main()
