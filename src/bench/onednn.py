"""TensorFlow's oneDNN CPU kernels on against off, for the networks as the Fashion-MNIST jobs train them:

    python -m src.bench.onednn [--models resnet20,mobilenet_v2] [--size 28] [--channels 1] [--batch 128]
        [--steps 5] [--warmup 2] [--out experiments/bench/onednn]

TensorFlow's x86 build turns oneDNN on by default only on CPUs with AVX-512 VNNI/BF16 or AMX; this
package turns it on everywhere (src/__init__.py). Each network's small-input variant (the registry's
``small_knobs``), float32, with op determinism as the jobs train, runs in two worker processes, one with
``TF_ENABLE_ONEDNN_OPTS=1`` and one with ``0`` (TensorFlow reads it at import), stepped one
``train_on_batch`` each per round in interleaved rounds (src/bench/step_server.py), so machine load hits
both alike. Writes ``results.csv`` and ``summary.md``; the workers report which setting they ran with.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from pathlib import Path

from src.atomic_files import write_rows
from src.bench.measure import timed_rounds, timing
from src.bench.step_server import ProcessStepper
from src.compute_env import cpu_model
from src.models import get_spec, list_models
from src.tracking.provenance import git_info, library_versions

#: The networks the experiments train on Fashion-MNIST (experiments/zoo_*_fashion_mnist).
MODELS = ("resnet20", "mobilenet_v1", "mobilenet_v2", "mobilenet_v3_small", "shufflenet_v1", "shufflenet_v2",
          "squeezenet1_1", "igc", "alexnet", "vgg16_bn", "googlenet", "densenet_bc_100_12")
SETTINGS = ("on", "off")


def onednn_worker(setting: str, name: str, size: int, batch: int, jit_compile: bool, options: dict) -> ProcessStepper:
    """Our ``name`` training in a worker process (`src.bench.keras_train --serve`, float32) with TensorFlow's
    oneDNN ``setting`` ('on' or 'off'), checked against what the worker reports it ran with."""
    worker = ProcessStepper("src.bench.keras_train", "--serve", name, size, batch, "float32", int(jit_compile),
                            json.dumps(options), env={"TF_ENABLE_ONEDNN_OPTS": "1" if setting == "on" else "0"})
    if worker.ready["tf_onednn"] != setting:
        worker.close()
        raise RuntimeError(f"{name}: the oneDNN-{setting} worker ran with oneDNN {worker.ready['tf_onednn']}")
    return worker


def measure(name: str, args: argparse.Namespace) -> dict:
    """One row: the network's training images/s with oneDNN on and off, and on over off."""
    options = {"knobs": dict(get_spec(name).small_knobs), "channels": args.channels, "deterministic": True}
    common = (name, args.size, args.batch, False, options)
    row: dict = {"model": name, "size": args.size, "channels": args.channels, "batch": args.batch}
    with onednn_worker("on", *common) as on, onednn_worker("off", *common) as off:
        row.update(params=on.ready["params"], macs=on.ready["macs"])
        print(f"[{name}] {args.size}x{args.size}x{args.channels}, batch {args.batch}: oneDNN on and off in "
              "interleaved rounds", flush=True)
        for setting, seconds in zip(SETTINGS, timed_rounds([on, off], args.steps, args.warmup)):
            row.update(timing(seconds).rates(args.batch, f"onednn_{setting}_img_s"))
    row["on_over_off"] = row["onednn_on_img_s"] / row["onednn_off_img_s"]
    print(f"  on {row['onednn_on_img_s']:.1f} img/s, off {row['onednn_off_img_s']:.1f}: {row['on_over_off']:.2f}×",
          flush=True)
    return row


def summary_markdown(rows: list[dict], args: argparse.Namespace, env: dict) -> str:
    lines = ["# TensorFlow's oneDNN kernels on / off (`python -m src.bench.onednn`)", "",
             f"{env['cpu']}, {env['cores']} cores; TensorFlow {env['tensorflow']}, Keras {env['keras']}; commit "
             f"{env['git_commit']}. Small-input variants at {args.size}×{args.size}×{args.channels}, batch "
             f"{args.batch}, SGD, float32, op determinism; medians of {args.steps} steps after {args.warmup} "
             "warm-up steps, both settings stepped in interleaved rounds (min–max in results.csv).", "",
             "| model | params | MACs (M) | oneDNN on img/s | oneDNN off img/s | on / off |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['params']:,} | {r['macs'] / 1e6:.1f} | {r['onednn_on_img_s']:.1f} "
                     f"| {r['onednn_off_img_s']:.1f} | {r['on_over_off']:.2f}× |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated registry names")
    parser.add_argument("--size", type=int, default=28)
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=5, help="timed steps per setting (median over these)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed rounds first (tracing)")
    parser.add_argument("--out", type=Path, default=None, help="folder for results.csv and summary.md")
    args = parser.parse_args(argv)
    models = [m for m in args.models.split(",") if m]
    unknown = [m for m in models if m not in list_models()]
    if unknown:
        parser.error(f"unknown models {unknown}; see python -m src.models for the names")
    if args.steps < 1 or args.warmup < 0 or args.batch < 1:
        parser.error("--steps and --batch must be ≥ 1 and --warmup ≥ 0")
    versions = library_versions(("tensorflow", "keras"))
    env = {"cpu": cpu_model(), "cores": str(os.cpu_count()), "tensorflow": versions.get("tensorflow", "n/a"),
           "keras": versions.get("keras", "n/a"), "git_commit": git_info().get("git_commit", "")[:10]}
    rows = []
    for name in models:
        rows.append({**env, **measure(name, args)})
        if args.out:  # after every model, so a stopped run keeps what it measured
            write_rows(rows, args.out / "results.csv")
            (args.out / "summary.md").write_text(summary_markdown(rows, args, env))
    return rows


if __name__ == "__main__":
    main()
