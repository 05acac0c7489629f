"""The benchmark suite (`python -m src.bench`, configured by conf/bench.yaml): per model, training
throughput side by side with keras.applications' and torchvision's same network, inference latency and
throughput, LiteRT latency, peak memory, params and MACs, and the achieved multiply-adds per second as a
fraction of a large matmul's, measured in the same run. Writes ``results.csv`` (one row per model, with
hardware, library versions and commit) and ``summary.md`` into ``out_dir``.

Ratios are the point (these machines are noisy): each model's variants are timed in interleaved rounds,
one step each per round. torchvision's network, and ours with TensorFlow's oneDNN switched the other way,
train in processes of their own (TensorFlow and PyTorch crash when they share one; TensorFlow reads the
oneDNN switch at import) that the rounds step on demand (src/bench/step_server.py). Models are built at
the paper variant (ImageNet stems) so that they are the same networks as keras.applications' and
torchvision's, at the configured input size.
"""

from __future__ import annotations

import importlib.util
import os
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import keras
import numpy as np
from omegaconf import DictConfig

from src.atomic_files import write_rows
from src.bench.measure import (
    Timing,
    inference_timings,
    keras_train_stepper,
    litert_latency,
    matmul_limit,
    peak_memory_mib,
    pipeline_throughput,
    timed_rounds,
    timing,
)
from src.bench.onednn import onednn_worker
from src.bench.peers import CLASSES, KERAS_APPLICATIONS, TORCHVISION, build_ours
from src.bench.step_server import ProcessStepper
from src.compute_env import cpu_model, tensorflow_onednn
from src.errors import ConfigError
from src.layers import set_batch_norm_fusion
from src.models import list_models
from src.profiling import count_macs, count_params
from src.tracking.provenance import git_info, library_versions


def build_keras_application(name: str, size: int) -> keras.Model:
    constructor, extra, _ = KERAS_APPLICATIONS[name]
    return getattr(keras.applications, constructor)(
        weights=None, input_shape=(size, size, 3), classes=CLASSES, classifier_activation=None, **extra)


def conv_bias_params(model: keras.Model) -> int:
    return sum(int(np.prod(layer.bias.shape)) for layer in model.layers
               if isinstance(layer, keras.layers.Conv2D) and layer.use_bias)


def trainable(model: keras.Model) -> int:
    return count_params(model).trainable


def torch_available(setting: Any) -> bool:
    found = importlib.util.find_spec("torch") is not None and importlib.util.find_spec("torchvision") is not None
    if setting == "auto":
        return found
    if setting and not found:
        raise ConfigError("torch=true but torch/torchvision are not installed: "
                          "pip install torch==2.14.1 torchvision==0.29.1 (or torch=auto to skip them).")
    return bool(setting)


def environment() -> dict[str, str]:
    versions = library_versions(("tensorflow", "torch", "torchvision", "ai-edge-litert"))
    return {"cpu": cpu_model(), "cores": str(os.cpu_count()), "backend": keras.backend.backend(),
            "tf_onednn": tensorflow_onednn(), "keras": keras.__version__,
            "tensorflow": versions.get("tensorflow", "n/a"), "torch": versions.get("torch", "n/a"),
            "torchvision": versions.get("torchvision", "n/a"), "ai_edge_litert": versions.get("ai-edge-litert", "n/a"),
            "git_commit": git_info().get("git_commit", "")[:10]}


def _check(cfg: DictConfig) -> None:
    unknown = [m for m in cfg.models if m not in list_models()]
    if unknown:
        raise ConfigError(f"bench models {unknown} are not registered; see python -m src.models for the names.")
    if int(cfg.steps) < 1 or int(cfg.warmup) < 0 or int(cfg.batch) < 1:
        raise ConfigError("bench needs steps >= 1, warmup >= 0 and batch >= 1.")


def _local_steppers(name: str, size: int, knobs: dict, ours: keras.Model, x, y, cfg: DictConfig,
                    row: dict[str, Any]) -> dict[str, Any]:
    """Steppers in this process: ours, its XLA / unfused-BN variants, and keras.applications' network."""
    jit = bool(cfg.jit_compile)
    steppers = {"ours": keras_train_stepper(ours, x, y, jit)}
    if cfg.xla_variant:  # the same network again with the other XLA setting
        steppers["ours_xla" if not jit else "ours_noxla"] = keras_train_stepper(build_ours(name, size, **knobs), x, y, not jit)
    if cfg.get("bn_fusion_variant", False):  # the same network with Keras' unfused BatchNormalization (before/after)
        unfused = build_ours(name, size, **knobs)
        if set_batch_norm_fusion(unfused, False):
            steppers["ours_unfused_bn"] = keras_train_stepper(unfused, x, y, jit)
    if name in KERAS_APPLICATIONS and cfg.keras_applications:
        reference = build_keras_application(name, size)
        row["keras_params"] = trainable(reference)
        extra = row["keras_params"] - row["params"]
        if extra and extra != conv_bias_params(reference):  # keras.applications' ResNet-50 has conv biases
            raise AssertionError(f"{name}: {row['params']:,} trainable parameters, keras.applications "
                                 f"{row['keras_params']:,}: not the same network")
        steppers["keras"] = keras_train_stepper(reference, x, y, jit)
    return steppers


def _worker_steppers(workers: ExitStack, name: str, size: int, knobs: dict, x, y, cfg: DictConfig, use_torch: bool,
                     row: dict[str, Any]) -> dict[str, Any]:
    """Steppers in processes of their own: oneDNN switched the other way, torchvision's network."""
    steppers: dict[str, Any] = {}
    batch, jit = int(cfg.batch), bool(cfg.jit_compile)
    if cfg.get("onednn_variant", False) and keras.backend.backend() == "tensorflow":
        # a process of its own, since TensorFlow reads the switch at import (src/__init__.py)
        other = "off" if tensorflow_onednn() == "on" else "on"
        steppers[f"ours_onednn_{other}"] = variant = workers.enter_context(
            onednn_worker(other, name, size, batch, jit, {"knobs": knobs}))
        if variant.ready["params"] != row["params"]:
            raise AssertionError(f"{name}: the oneDNN-{other} worker built {variant.ready['params']:,} "
                                 f"parameters (ours: {row['params']:,})")
    if name in TORCHVISION and use_torch:
        torch_name, torch_knobs = TORCHVISION[name]
        if torch_knobs != knobs:  # a second instance of ours, built as torchvision's variant
            steppers["ours_tv"] = keras_train_stepper(build_ours(name, size, **torch_knobs), x, y, jit)
        # torchvision's step in a process of its own, stepped in the same rounds as ours
        steppers["torch"] = workers.enter_context(ProcessStepper("src.bench.torch_train", "--serve", torch_name, size, batch))
        row["torch_params"] = int(steppers["torch"].ready["params"])
        if row["torch_params"] != row["params"]:
            raise AssertionError(f"{name}: {row['params']:,} trainable parameters, torchvision's "
                                 f"{torch_name} {row['torch_params']:,}: not the same network")
    return steppers


def _training_rates(row: dict[str, Any], times: dict[str, Any], batch: int, limit_macs_per_s: float) -> None:
    """Images per second of every stepper, and the ratios between them, into ``row``."""
    for key, t in times.items():
        row.update(t.rates(batch, f"train_{key}_img_s"))
    row["train_macs_per_s"] = 3 * row["macs"] * row["train_ours_img_s"]
    row["fraction_of_matmul"] = row["train_macs_per_s"] / limit_macs_per_s
    for other in ("ours_xla", "ours_noxla"):
        if other in times:
            row[f"xla_{'on' if other == 'ours_xla' else 'off'}_over_default"] = row[f"train_{other}_img_s"] / row["train_ours_img_s"]
    if "ours_unfused_bn" in times:
        row["fused_bn_speedup"] = row["train_ours_img_s"] / row["train_ours_unfused_bn_img_s"]
    if "ours_onednn_off" in times:  # oneDNN on over off, whichever setting the suite's own process has
        row["onednn_speedup"] = row["train_ours_img_s"] / row["train_ours_onednn_off_img_s"]
    elif "ours_onednn_on" in times:
        row["onednn_speedup"] = row["train_ours_onednn_on_img_s"] / row["train_ours_img_s"]
    if "keras" in times:
        row["ratio_vs_keras"] = row["train_ours_img_s"] / row["train_keras_img_s"]
    if "torch" in times:
        ours_key = "ours_tv" if "ours_tv" in times else "ours"
        row["ratio_vs_torch"] = row[f"train_{ours_key}_img_s"] / row["train_torch_img_s"]


def _deployment_figures(row: dict[str, Any], ours: keras.Model, name: str, size: int, cfg: DictConfig) -> None:
    """Inference latency and throughput, LiteRT latency and peak memory, as ``cfg`` asks, into ``row``."""
    steps, warmup = int(cfg.steps), int(cfg.warmup)
    if cfg.inference:
        single, batched = inference_timings(ours, size, int(cfg.infer_batch), steps, warmup)
        row.update({"infer_b1_ms": single.median * 1e3, "infer_b1_ms_min": single.min * 1e3,
                    "infer_b1_ms_max": single.max * 1e3,
                    f"infer_b{cfg.infer_batch}_img_s": batched.per_second(int(cfg.infer_batch))})
    if cfg.litert:
        for threads, t in litert_latency(ours, cfg.litert_threads, steps, warmup).items():
            row.update({f"litert_{threads}t_ms": t.median * 1e3, f"litert_{threads}t_ms_min": t.min * 1e3,
                        f"litert_{threads}t_ms_max": t.max * 1e3})
    if cfg.memory:
        memory = peak_memory_mib(name, size, int(cfg.batch))
        row.update({"peak_rss_mib": memory["peak_mib"], "rss_after_imports_mib": memory["baseline_mib"],
                    "model_rss_mib": memory["peak_mib"] - memory["baseline_mib"]})


def bench_model(name: str, cfg: DictConfig, use_torch: bool, limit_macs_per_s: float) -> dict[str, Any]:
    """Every measurement of one model (a dict of CSV columns), printing progress."""
    size = int(cfg.sizes.get(name, cfg.size))
    batch, steps, warmup = int(cfg.batch), int(cfg.steps), int(cfg.warmup)
    rng = np.random.default_rng(int(cfg.seed))
    x = rng.normal(size=(batch, size, size, 3)).astype("float32")
    y = rng.integers(0, CLASSES, size=batch).astype("int32")
    keras.utils.set_random_seed(int(cfg.seed))

    knobs = dict(KERAS_APPLICATIONS[name][2]) if name in KERAS_APPLICATIONS and cfg.keras_applications else {}
    ours = build_ours(name, size, **knobs)
    row: dict[str, Any] = {"model": name, "size": size, "batch": batch, "params": trainable(ours),
                           "macs": count_macs(ours).total, "knobs": ";".join(f"{k}={v}" for k, v in knobs.items())}
    steppers = _local_steppers(name, size, knobs, ours, x, y, cfg, row)
    with ExitStack() as workers:
        steppers.update(_worker_steppers(workers, name, size, knobs, x, y, cfg, use_torch, row))
        print(f"[{name}] {size}x{size}x3, batch {batch}: timing {', '.join(steppers)} in interleaved rounds",
              flush=True)
        rounds = timed_rounds(list(steppers.values()), steps, warmup)
    _training_rates(row, {key: timing(seconds) for key, seconds in zip(steppers, rounds)}, batch, limit_macs_per_s)
    _deployment_figures(row, ours, name, size, cfg)
    keras.backend.clear_session()
    print("  " + ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()), flush=True)
    return row


def run_suite(cfg: DictConfig) -> list[dict[str, Any]]:
    _check(cfg)
    env = environment()
    use_torch = torch_available(cfg.torch)
    started = time.perf_counter()
    print(" ".join(f"{k}={v}" for k, v in env.items()), flush=True)
    limit = matmul_limit(int(cfg.matmul_n), int(cfg.steps), int(cfg.warmup))
    limit_macs_per_s = int(cfg.matmul_n) ** 3 / limit.median
    print(f"matmul {cfg.matmul_n}x{cfg.matmul_n} float32: {limit_macs_per_s / 1e9:.1f} G multiply-adds/s "
          f"({limit.median * 1e3:.1f} ms, {limit.min * 1e3:.1f}-{limit.max * 1e3:.1f})", flush=True)
    rows = []
    for name in cfg.models:
        row = {**env, **bench_model(name, cfg, use_torch, limit_macs_per_s), "matmul_macs_per_s": limit_macs_per_s}
        if cfg.pipeline:
            row["pipeline_img_s"] = pipeline_throughput(row["size"], int(cfg.batch), int(cfg.pipeline_batches))
            row["pipeline_over_training"] = row["pipeline_img_s"] / row["train_ours_img_s"]
        rows.append(row)
    out = Path(cfg.out_dir)
    write_rows(_rectangular(rows), out / "results.csv")
    (out / "summary.md").write_text(summary_markdown(rows, cfg, env, limit, time.perf_counter() - started))
    print(f"wrote {out / 'summary.md'}")
    return rows


def _rectangular(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every row with every column (empty where a model has no such measurement), in first-seen order."""
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    return [{c: row.get(c, "") for c in columns} for row in rows]


def _fmt(row: dict[str, Any], key: str, pattern: str = "{:.0f}") -> str:
    value = row.get(key)
    return pattern.format(value) if isinstance(value, (int, float)) else "–"


def summary_markdown(rows: list[dict[str, Any]], cfg: DictConfig, env: dict[str, str], limit: Timing,
                     wall: float) -> str:
    lines = [
        "# Benchmark suite",
        "",
        "`" + " ".join(["python -m src.bench", *cfg.get("overrides", [])]) + "`",
        "",
        f"{env['cpu']}, {env['cores']} cores; Keras {env['keras']} on {env['backend']} (TensorFlow "
        f"{env['tensorflow']}, oneDNN {env['tf_onednn']}), torch {env['torch']} / torchvision {env['torchvision']}, ai-edge-litert "
        f"{env['ai_edge_litert']}; commit {env['git_commit']}; wall {wall / 60:.1f} min.",
        f"Training: batch {cfg.batch}, SGD, `train_on_batch` (XLA {'on' if cfg.jit_compile else 'off'}), medians of "
        f"{cfg.steps} steps after {cfg.warmup} warm-up steps, each model's variants timed in interleaved rounds; "
        f"MAC/s = 3 × forward MACs × images/s. Machine limit: a {cfg.matmul_n}² float32 matmul, "
        f"{cfg.matmul_n ** 3 / limit.median / 1e9:.1f} G multiply-adds/s.",
        "",
        "| model | input | params | MACs (M) | ours img/s | keras.applications img/s | ours / keras | torchvision img/s "
        "| ours / torch | other XLA setting / default | fused BN / unfused | oneDNN on / off | training MAC/s (G) | of matmul | infer b1 ms | infer b64 img/s | LiteRT 1t ms | LiteRT 2t ms "
        "| peak RSS MiB (model's share) | pipeline img/s (× training) |",
        "|" + "---|" * 20,
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['size']} | {r['params']:,} | {r['macs'] / 1e6:.1f} "
            f"| {_fmt(r, 'train_ours_img_s', '{:.1f}')} | {_fmt(r, 'train_keras_img_s', '{:.1f}')} "
            f"| {_fmt(r, 'ratio_vs_keras', '{:.2f}×')} | {_fmt(r, 'train_torch_img_s', '{:.1f}')} "
            f"| {_fmt(r, 'ratio_vs_torch', '{:.2f}×')} "
            f"| {_fmt(r, 'xla_on_over_default', '{:.2f}×') if 'xla_on_over_default' in r else _fmt(r, 'xla_off_over_default', '{:.2f}×')} "
            f"| {_fmt(r, 'fused_bn_speedup', '{:.2f}×')} | {_fmt(r, 'onednn_speedup', '{:.2f}×')} "
            f"| {r['train_macs_per_s'] / 1e9:.1f} "
            f"| {100 * r['fraction_of_matmul']:.0f} % | {_fmt(r, 'infer_b1_ms', '{:.1f}')} "
            f"| {_fmt(r, f'infer_b{cfg.infer_batch}_img_s', '{:.0f}')} | {_fmt(r, 'litert_1t_ms', '{:.2f}')} "
            f"| {_fmt(r, 'litert_2t_ms', '{:.2f}')} | {_fmt(r, 'peak_rss_mib')} ({_fmt(r, 'model_rss_mib')}) "
            f"| {_fmt(r, 'pipeline_img_s')} ({_fmt(r, 'pipeline_over_training', '{:.0f}×')}) |")
    lines += ["", "Raw figures with min/max: `results.csv`. Where torchvision's variant differs from our default "
              "(ResNet-50 v1.5), the torch ratio uses ours built as that variant. "
              "Fused BN / unfused: ours against the same network with Keras' own (unfused) BatchNormalization, "
              "timed in the same rounds (src/layers/batch_norm.py); keras.applications' networks use Keras' own. "
              "oneDNN on / off: ours with TensorFlow's oneDNN kernels on over off (src/__init__.py turns them on), "
              "the other setting in a process of its own stepped in the same rounds; torchvision's network also "
              "trains in a process of its own, stepped in the same rounds (src/bench/step_server.py).", ""]
    return "\n".join(lines)
