"""Training throughput on the CPU per compute precision, side by side (TensorFlow backend):

    python -m src.bench.cpu_precision [--models alexnet,googlenet] [--out experiments/bench/cpu_precision]

Each network's small-input variant at the Fashion-MNIST jobs' shape (28×28×1, batch 128, SGD, op
determinism on as the jobs train) is timed in interleaved rounds three ways: ``float32``;
``mixed_bfloat16`` with Keras' own BatchNormalization (the layer casts its bfloat16 input to float32 and
back); and ``mixed_bfloat16`` with our fused BN taking the bfloat16 tensor as it is
(src/layers/batch_norm.py). Mixed precision keeps float32 weights (Micikevicius et al. 2018); oneDNN
runs bfloat16 convolutions and matmuls in AVX512-BF16/AMX instructions where the CPU has them, so the
CPU's flags are recorded with the figures. Writes ``results.csv`` and ``summary.md``.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from src.atomic_files import write_rows  # noqa: E402
from src.bench.measure import keras_train_stepper, timed_rounds, timing  # noqa: E402
from src.layers import set_batch_norm_fusion  # noqa: E402
from src.models import build_model, get_spec  # noqa: E402
from src.profiling import count_macs  # noqa: E402
from src.train.precision import dtype_policy  # noqa: E402

#: issue 3's classic networks still to train on Fashion-MNIST, and two of the trained ones.
MODELS = ("alexnet", "vgg16_bn", "googlenet", "densenet_bc_100_12", "squeezenet1_1", "resnet20")
#: (column, policy, fused BN) per variant, in the order they are timed.
VARIANTS = (("float32", "float32", True), ("bf16_keras_bn", "mixed_bfloat16", False),
            ("bf16_fused_bn", "mixed_bfloat16", True))
CPU_FLAGS = ("avx512f", "avx512_bf16", "amx_bf16", "amx_tile")


def cpu_description() -> dict[str, str]:
    """The CPU's model name and which of CPU_FLAGS it has (Linux /proc/cpuinfo; 'unknown' elsewhere)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {"cpu": "unknown", "cpu_flags": "unknown"}
    model = next((line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("model name")),
                 "unknown")
    flags = set(next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), []))
    return {"cpu": model, "cpu_flags": " ".join(f for f in CPU_FLAGS if f in flags) or "none of " + ",".join(CPU_FLAGS)}


def build_variant(name: str, shape: tuple[int, int, int], policy: str, fused_bn: bool) -> keras.Model:
    """``name``'s small-input variant under ``policy``, with our BN fused or not."""
    with dtype_policy(policy):
        model = build_model(name, input_shape=shape, classes=10, classifier_activation=None,
                            **get_spec(name).small_knobs)
    set_batch_norm_fusion(model, fused_bn)
    return model


def bench_model(name: str, shape: tuple[int, int, int], batch: int, steps: int, warmup: int) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch, *shape)).astype("float32")
    y = rng.integers(0, 10, size=batch).astype("int32")
    keras.utils.set_random_seed(0)
    models = [build_variant(name, shape, policy, fused) for _, policy, fused in VARIANTS]
    steppers = [keras_train_stepper(model, x, y, jit_compile=False) for model in models]
    times = {column: timing(seconds)
             for (column, _, _), seconds in zip(VARIANTS, timed_rounds(steppers, steps, warmup))}
    row: dict[str, Any] = {"model": name, "input": "x".join(map(str, shape)), "batch": batch,
                           "params": models[0].count_params(), "macs": count_macs(models[0]).total}
    for column, t in times.items():
        row.update(t.rates(batch, f"{column}_img_s"))
    row["bf16_keras_bn_over_float32"] = row["bf16_keras_bn_img_s"] / row["float32_img_s"]
    row["bf16_fused_bn_over_float32"] = row["bf16_fused_bn_img_s"] / row["float32_img_s"]
    row["fused_over_keras_bn_bf16"] = row["bf16_fused_bn_img_s"] / row["bf16_keras_bn_img_s"]
    keras.backend.clear_session()
    return row


def summary_markdown(rows: list[dict[str, Any]], env: dict[str, str], args: argparse.Namespace, wall: float) -> str:
    lines = [
        "# Training throughput per precision on the CPU",
        "",
        f"`python -m src.bench.cpu_precision --models {','.join(r['model'] for r in rows)} --batch {args.batch} "
        f"--steps {args.steps}`",
        "",
        f"{env['cpu']} ({os.cpu_count()} cores; flags: {env['cpu_flags']}); Keras {keras.__version__} on "
        f"{keras.backend.backend()}; wall {wall / 60:.1f} min. Small-input variants at {rows[0]['input']}, batch "
        f"{args.batch}, SGD, op determinism on, `train_on_batch`, medians of {args.steps} steps after "
        f"{args.warmup} warm-up steps (min–max in results.csv), the three variants of a network timed in "
        "interleaved rounds.",
        "",
        "| model | params | MACs (M) | float32 img/s | bf16, Keras BN img/s | bf16, fused BN img/s "
        "| bf16 Keras BN / float32 | bf16 fused BN / float32 | fused / Keras BN (bf16) |",
        "|" + "---|" * 9,
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['params']:,} | {r['macs'] / 1e6:.1f} | {r['float32_img_s']:.1f} "
            f"| {r['bf16_keras_bn_img_s']:.1f} | {r['bf16_fused_bn_img_s']:.1f} "
            f"| {r['bf16_keras_bn_over_float32']:.2f}× | {r['bf16_fused_bn_over_float32']:.2f}× "
            f"| {r['fused_over_keras_bn_bf16']:.2f}× |")
    lines += ["", "A network without BN (AlexNet, GoogLeNet, SqueezeNet 1.1 as published) has the same graph in "
              "both bfloat16 columns.", ""]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--size", type=int, default=28)
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="folder for results.csv and summary.md")
    args = parser.parse_args(argv)
    if keras.backend.backend() != "tensorflow":
        raise SystemExit("this benchmark times TensorFlow's CPU kernels: run with KERAS_BACKEND=tensorflow")
    import tensorflow as tf

    tf.config.experimental.enable_op_determinism()  # as the jobs train (train.deterministic=true)
    env = cpu_description()
    started = time.perf_counter()
    rows = []
    for name in args.models.split(","):
        row = {**bench_model(name, (args.size, args.size, args.channels), args.batch, args.steps, args.warmup), **env}
        print(f"{name}: float32 {row['float32_img_s']:.1f} img/s, bf16 (Keras BN) {row['bf16_keras_bn_img_s']:.1f} "
              f"({row['bf16_keras_bn_over_float32']:.2f}x), bf16 (fused BN) {row['bf16_fused_bn_img_s']:.1f} "
              f"({row['bf16_fused_bn_over_float32']:.2f}x)", flush=True)
        rows.append(row)
    if args.out:
        write_rows(rows, args.out / "results.csv")
        (args.out / "summary.md").write_text(summary_markdown(rows, env, args, time.perf_counter() - started))
    return rows


if __name__ == "__main__":
    main()
