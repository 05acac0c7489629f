"""Training throughput on an accelerator: our networks (Keras, any backend: JAX on the GPU machine)
against torchvision's same networks (PyTorch eager), per precision, side by side in one run.

    python -m src.bench.accelerator [--models resnet50,mobilenet_v2,shufflenet_v2] [--size 224]
        [--batch 128] [--steps 20] [--warmup 5] [--precisions float32,mixed_bfloat16]
        [--torch-compile] [--matmul-n 8192] [--budget-s 480] [--out experiments/bench/accelerator]

Each measurement runs in a fresh process (src/bench/keras_train.py, src/bench/torch_train.py): two
frameworks never share the device's memory, and TensorFlow and PyTorch cannot share a process. Rows
are written after every model, so a run stopped by ``--budget-s`` (or killed) keeps what it measured.
A GPU is needed for ``cuda``; on a CPU-only machine use ``--torch-device cpu`` (tests do, tiny).

``--torch-compile`` also times torchvision under ``torch.compile``, PyTorch's compiler (ours always runs
compiled, by XLA). The device's ceiling is a large matmul per precision's compute type, timed in the same
run; each model's training multiply-adds per second (3 × forward MACs × images/s) is reported as a
fraction of it.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from src.atomic_files import write_rows
from src.bench.measure import json_of_module, timing
from src.bench.peers import TORCHVISION

DEFAULT_MODELS = ("resnet50", "mobilenet_v2", "shufflenet_v2", "densenet121", "squeezenet1_1")
#: The compute type of each precision policy's convolutions and matmuls: the matmul that bounds it.
MATMUL_DTYPE = {"float32": "float32", "mixed_bfloat16": "bfloat16", "mixed_float16": "float16"}


def torch_installed() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("torch", "torchvision"))


def matmul_ceilings(precisions: Sequence[str], args: argparse.Namespace) -> dict[str, float]:
    """Multiply-adds/s of an [n, n] @ [n, n] matmul in each precision's compute type (empty if n is 0)."""
    ceilings: dict[str, float] = {}
    for precision in precisions if args.matmul_n else ():
        result = json_of_module("src.bench.keras_matmul", args.matmul_n, 10, 3, MATMUL_DTYPE[precision],
                                timeout=args.budget_s)
        ceilings[precision] = result["macs_per_s"]
        print(f"[matmul {args.matmul_n}² {result['dtype']}] {result['macs_per_s'] / 1e12:.1f} T multiply-adds/s on "
              f"{result['device']}", flush=True)
    return ceilings


def measure(name: str, precision: str, args: argparse.Namespace, matmul_macs_per_s: float | None = None) -> dict:
    """One row: ours and torchvision's training images/s at ``precision`` and their ratio; with
    ``--torch-compile`` also torchvision under ``torch.compile``; with a matmul ceiling, our training
    multiply-adds/s as a fraction of it."""
    common = (args.size, args.batch, args.steps, args.warmup)
    row: dict = {"model": name, "precision": precision, "size": args.size, "batch": args.batch}
    ours = json_of_module("src.bench.keras_train", name, *common, precision, int(args.jit), timeout=args.budget_s)
    row.update({**timing(ours["seconds"]).rates(args.batch, "ours_img_s"), "ours_params": ours["params"],
                "backend": ours["backend"], "device": ours["device"], "keras": ours["keras"],
                "jax_matmul_precision": ours["matmul_precision"], "macs": ours["macs"]})
    row["ours_train_macs_per_s"] = 3 * ours["macs"] * row["ours_img_s"]
    if matmul_macs_per_s:
        row.update(matmul_macs_per_s=matmul_macs_per_s,
                   fraction_of_matmul=row["ours_train_macs_per_s"] / matmul_macs_per_s)
    if name in TORCHVISION and not args.no_torch and torch_installed():
        theirs = json_of_module("src.bench.torch_train", TORCHVISION[name][0], *common, args.torch_device,
                                 precision, timeout=args.budget_s)
        row.update({**timing(theirs["seconds"]).rates(args.batch, "torch_img_s"), "torch_params": theirs["params"],
                    "torch_device": theirs["device"], "torch": theirs["torch"], "torch_tf32": theirs["tf32"]})
        row["ratio_vs_torch"] = row["ours_img_s"] / row["torch_img_s"]
        if theirs["params"] != ours["params"]:
            raise AssertionError(f"{name}: ours has {ours['params']:,} trainable parameters, torchvision's "
                                 f"{theirs['params']:,}: not the same network")
        if args.torch_compile:
            row.update(compiled_torch(name, precision, args))
            if "torch_compiled_img_s" in row:
                row["ratio_vs_torch_compiled"] = row["ours_img_s"] / row["torch_compiled_img_s"]
    return row


def compiled_torch(name: str, precision: str, args: argparse.Namespace) -> dict:
    """torchvision's ``name`` under ``torch.compile``: its images/s and ratio columns, or the error
    (a compiler failure must not lose the row's eager figures)."""
    common = (args.size, args.batch, args.steps, args.warmup)
    try:
        compiled = json_of_module("src.bench.torch_train", TORCHVISION[name][0], *common, args.torch_device,
                                  precision, 1, timeout=args.budget_s)
    except (RuntimeError, subprocess.TimeoutExpired) as err:
        print(f"[{name} {precision}] torch.compile FAILED: {str(err)[-500:]}", flush=True)
        return {"torch_compiled_error": str(err).strip().splitlines()[-1][:200]}
    return {**timing(compiled["seconds"]).rates(args.batch, "torch_compiled_img_s"),
            "torch_compiled_first_step_s": compiled["first_step_s"]}


def summary_markdown(rows: list[dict], args: argparse.Namespace) -> str:
    lines = [f"# Training throughput on {rows[0]['device'] if rows else '?'} ({platform.node()})", "",
             f"{args.size}×{args.size}×3, batch {args.batch}, SGD, medians of {args.steps} steps after "
             f"{args.warmup} warm-up steps; Keras {rows[0]['keras'] if rows else '?'} on "
             f"{rows[0]['backend'] if rows else '?'} (jit_compile={bool(args.jit)}), PyTorch eager on "
             f"{args.torch_device}" + (", channels-last, cuDNN autotuning" if args.torch_device == "cuda" else "")
             + ". Ratio > 1: ours is faster. torch.compile: TorchInductor, default mode. Training MAC/s = "
             "3 × forward MACs × images/s; of matmul: as a fraction of a large matmul in the precision's compute "
             "type, timed in the same run.", "",
             "| model | precision | ours img/s (min–max) | torchvision eager img/s (min–max) | ours / eager "
             "| torch.compile img/s (min–max) | ours / compiled | ours training TMAC/s | of matmul |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['precision']} | {_rate_cell(r, 'ours_img_s')} | {_rate_cell(r, 'torch_img_s')} "
                     f"| {_cell(r, 'ratio_vs_torch', '{:.2f}')} | {_rate_cell(r, 'torch_compiled_img_s')} "
                     f"| {_cell(r, 'ratio_vs_torch_compiled', '{:.2f}')} "
                     f"| {r['ours_train_macs_per_s'] / 1e12:.1f} | {_cell(r, 'fraction_of_matmul', '{:.0%}')} |")
    return "\n".join(lines) + "\n"


def _cell(row: dict, key: str, pattern: str) -> str:
    return pattern.format(row[key]) if key in row else "n/a"


def _rate_cell(row: dict, key: str) -> str:
    if key not in row:
        return "failed" if key == "torch_compiled_img_s" and "torch_compiled_error" in row else "n/a"
    return f"{row[key]:.0f} ({row[key + '_min']:.0f}–{row[key + '_max']:.0f})"


def main(argv: Sequence[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS))
    parser.add_argument("--precisions", default="float32,mixed_bfloat16")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--jit", type=int, default=1, help="1: jit_compile (jax.jit / XLA) for Keras")
    parser.add_argument("--torch-device", default="cuda")
    parser.add_argument("--no-torch", action="store_true", help="skip torchvision (skipped anyway when not installed)")
    parser.add_argument("--torch-compile", action="store_true", help="also time torchvision under torch.compile")
    parser.add_argument("--matmul-n", type=int, default=8192, help="the ceiling's matmul size (0: not measured)")
    parser.add_argument("--budget-s", type=float, default=480, help="start no new model after this many seconds")
    parser.add_argument("--out", default="experiments/bench/accelerator")
    args = parser.parse_args(argv)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    rows: list[dict] = []
    precisions = args.precisions.split(",")
    unknown = sorted(set(precisions) - set(MATMUL_DTYPE))
    if unknown:
        parser.error(f"--precisions {','.join(unknown)}: use {', '.join(MATMUL_DTYPE)}")
    ceilings = matmul_ceilings(precisions, args)
    for name in args.models.split(","):
        for precision in precisions:
            if time.monotonic() - started > args.budget_s:
                print(f"[{name} {precision}] skipped: --budget-s {args.budget_s:.0f} s spent", flush=True)
                continue
            try:
                rows.append(measure(name, precision, args, ceilings.get(precision)))
            except (RuntimeError, AssertionError, subprocess.TimeoutExpired) as err:  # one failing model must not lose the others
                print(f"[{name} {precision}] FAILED: {err}", flush=True)
                continue
            print(f"[{name} {precision}] " + ", ".join(
                f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in rows[-1].items()), flush=True)
            keys = list(dict.fromkeys(k for r in rows for k in r))
            write_rows([{k: r.get(k, "") for k in keys} for r in rows], out / "results.csv")
            (out / "summary.md").write_text(summary_markdown(rows, args))
    print(f"{len(rows)} rows -> {out}/results.csv, summary.md ({time.monotonic() - started:.0f} s)", flush=True)
    return rows


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    main()
