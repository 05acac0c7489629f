"""One Deep Compression job (Han et al., ICLR 2016) from a Hydra config: train the base network (stage
``base``, an ordinary training job and nested MLflow run), then compress it (prune → retrain → share
weights → retrain centroids → Huffman accounting) with `src.compress.run` in a child process, because
tfmot switches tf.keras to tf_keras for the whole process it is imported in (tfmot is Keras-2 only).

The job's MLflow run holds ``dense_accuracy``, ``pruned_accuracy``, ``quantised_accuracy`` (also as
``test_accuracy``: the job's final model is the compressed one, comparable with every other job's run),
``accuracy_drop``, ``ratio_pq`` and ``ratio_pqh``; ``compressed/`` holds the compression report
(per-layer storage in the paper's Table 4 layout) and ``compressed.keras``. A killed job resumes: a
finished base is not trained again, a finished compression is read back.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from src.compress.pipeline import DEFAULT_PRUNE_SCHEDULE, PRUNE_SCHEDULES
from src.errors import CompressionError, ConfigError
from src.models.common import check_choice
from src.train.staged import run_staged_job, sub_config

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]


def settings_path(cfg: DictConfig) -> Path:
    """``compress.settings``, relative to the repository root unless absolute; it must exist."""
    path = Path(cfg.compress.settings)
    path = path if path.is_absolute() else ROOT / path
    if not path.exists():
        raise ConfigError(f"compress.settings={cfg.compress.settings!r} does not exist; per-network settings are in "
                          f"conf/compress/ ({', '.join(sorted(p.name for p in (ROOT / 'conf' / 'compress').glob('*.yaml')))}).")
    return path


def prune_schedule(cfg: DictConfig) -> str:
    """``compress.prune_schedule``; configs written before the knob existed read as the default."""
    return str(cfg.compress.get("prune_schedule", DEFAULT_PRUNE_SCHEDULE))


def check_compress_config(cfg: DictConfig) -> None:
    if cfg.get("compress") is None:
        raise ConfigError("task=compress needs a `compress:` block; start from experiment=deep_compression.")
    settings_path(cfg)
    for key in ("prune_epochs", "share_epochs", "batch_size"):
        if int(cfg.compress[key]) < (0 if key == "share_epochs" else 1):
            raise ConfigError(f"compress.{key}={cfg.compress[key]!r} is too small.")
    check_choice("compress.prune_schedule", prune_schedule(cfg), PRUNE_SCHEDULES, "config")


def _compress(cfg: DictConfig, base: Path, out: Path) -> dict[str, Any]:
    report = out / "report.json"
    if report.exists():
        return json.loads(report.read_text())
    c = cfg.compress
    command = [sys.executable, "-m", "src.compress.run", str(base), "--settings", str(settings_path(cfg)),
               "--prune-epochs", str(c.prune_epochs), "--share-epochs", str(c.share_epochs),
               "--learning-rate", str(c.learning_rate), "--prune-schedule", prune_schedule(cfg),
               "--share-learning-rate", str(c.share_learning_rate),
               "--batch-size", str(c.batch_size), "--seed", str(cfg.seed), "--out", str(out)]
    log.info("compressing %s in a child process: %s", base, " ".join(command[1:]))
    proc = subprocess.run(command, cwd=ROOT, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    if proc.returncode:
        raise CompressionError(f"compression of {base} failed (exit {proc.returncode}); its output is above")
    return json.loads(report.read_text())


def _run(cfg: DictConfig, out: Path, run_id: str | None) -> dict[str, Any]:
    from src.train import train

    base = train(sub_config(cfg, "base", out, run_id))
    report = _compress(cfg, out / "base", out / "compressed")
    storage = report["storage"]
    return {
        "seed": int(cfg.seed), "model": cfg.model.name, "settings": str(cfg.compress.settings),
        "base_test_accuracy": base["test_accuracy"],
        "dense_accuracy": report["accuracy_dense"], "pruned_accuracy": report["accuracy_pruned"],
        "quantised_accuracy": report["accuracy_quantised"], "test_accuracy": report["accuracy_quantised"],
        "accuracy_drop": report["accuracy_dense"] - report["accuracy_quantised"],
        "ratio_pq": report["ratio_pq"], "ratio_pqh": report["ratio_pqh"],
        "dense_bytes": storage["dense_bytes"], "pruned_bytes": storage["pruned_bytes"],
        "quantised_bytes": storage["quantised_bytes"], "huffman_bytes": storage["huffman_bytes"],
        "kept_fraction": sum(v["kept"] for v in storage["layers"].values())
                         / sum(v["weights"] for v in storage["layers"].values()),
    }


def flat_metrics(results: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in results.items() if isinstance(v, (int, float)) and k != "seed"}


def compress(cfg: DictConfig) -> dict[str, Any]:
    """Run (or resume) one Deep Compression job; returns and writes results.json."""
    check_compress_config(cfg)
    results = run_staged_job(cfg, _run, flat_metrics)
    log.info("Deep Compression of %s (seed %s): %.4f -> %.4f (%+.2f pp), %.1fx (P+Q), %.1fx (P+Q+H)", results["model"],
             cfg.seed, results["dense_accuracy"], results["quantised_accuracy"], -100 * results["accuracy_drop"],
             results["ratio_pq"], results["ratio_pqh"])
    return results
