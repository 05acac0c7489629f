"""DSD: Dense-Sparse-Dense training (Han et al., ICLR 2017), one job per seed, against equally long dense
training.

Stages, each an ordinary training job in a sub-folder and a nested MLflow run (src/train/staged.py):

- ``dense``: the usual training (``dsd.dense_epochs``);
- ``sparse``: from ``dense``, every conv/dense kernel pruned by magnitude to ``dsd.sparsity`` and retrained
  with the mask fixed (``train.sparsity``, src/train/sparsity.py) for ``dsd.sparse_epochs``;
- ``redense``: from ``sparse``, mask removed (pruned weights restart at zero), ``dsd.redense_epochs`` at
  ``dsd.redense_lr_factor`` × the learning rate — the DSD model;
- the baseline, ``continued`` then ``continued_low``: from ``dense``, the same two phases with the same
  epochs and learning rates but no mask, so DSD and baseline differ only in the sparse phase.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from src.errors import ConfigError
from src.job_folder import model_path
from src.train.staged import run_staged_job, sub_config

log = logging.getLogger(__name__)

STAGES = ("dense", "sparse", "redense", "continued", "continued_low")


def check_dsd_config(cfg: DictConfig) -> None:
    """Clear errors for a DSD config that cannot work, before anything trains."""
    d = cfg.get("dsd")
    if d is None:
        raise ConfigError("task=dsd needs a `dsd:` block; start from experiment=dsd.")
    if not 0.0 < float(d.sparsity) < 1.0:
        raise ConfigError(f"dsd.sparsity={d.sparsity!r}; use the fraction of each kernel to prune, in (0, 1).")
    for key in ("dense_epochs", "sparse_epochs", "redense_epochs"):
        if int(d[key]) < 1:
            raise ConfigError(f"dsd.{key}={d[key]!r}; each phase needs at least 1 epoch.")
    if not 0.0 < float(d.redense_lr_factor) <= 1.0:
        raise ConfigError(f"dsd.redense_lr_factor={d.redense_lr_factor!r}; use a factor in (0, 1] (paper: lower lr).")
    if cfg.train.get("sparsity") or cfg.train.get("init_weights"):
        raise ConfigError("task=dsd sets train.sparsity and train.init_weights per phase itself; leave them null.")


def _run(cfg: DictConfig, out: Path, run_id: str | None) -> dict[str, Any]:
    from src.train import train

    d, lr = cfg.dsd, float(cfg.train.learning_rate)
    later = {"train.warmup_epochs": 0}  # phases after the first start from trained weights

    def stage(name: str, epochs: int, **overrides: Any) -> dict[str, Any]:
        return train(sub_config(cfg, name, out, run_id, **{"train.epochs": int(epochs), **overrides}))

    results = {"dense": stage("dense", d.dense_epochs)}
    dense = str(model_path(out / "dense"))
    results["sparse"] = stage("sparse", d.sparse_epochs, **later, **{"train.init_weights": dense,
                                                                    "train.sparsity": float(d.sparsity)})
    results["redense"] = stage("redense", d.redense_epochs, **later, **{
        "train.init_weights": str(model_path(out / "sparse")), "train.learning_rate": lr * d.redense_lr_factor})
    results["continued"] = stage("continued", d.sparse_epochs, **later, **{"train.init_weights": dense})
    results["continued_low"] = stage("continued_low", d.redense_epochs, **later, **{
        "train.init_weights": str(model_path(out / "continued")), "train.learning_rate": lr * d.redense_lr_factor})
    return {
        "seed": int(cfg.seed), "model": cfg.model.name, "sparsity": float(d.sparsity),
        "epochs": {"dense": int(d.dense_epochs), "sparse": int(d.sparse_epochs), "redense": int(d.redense_epochs)},
        "stages": {name: {"test_accuracy": r["test_accuracy"], "kernel_sparsity": r["kernel_sparsity"]}
                   for name, r in results.items()},
        "dsd_test_accuracy": results["redense"]["test_accuracy"],
        "baseline_test_accuracy": results["continued_low"]["test_accuracy"],
        "dsd_gain": results["redense"]["test_accuracy"] - results["continued_low"]["test_accuracy"],
    }


def flat_metrics(results: dict[str, Any]) -> dict[str, float]:
    """One MLflow metric per stage and quantity, plus the DSD-vs-baseline comparison."""
    metrics = {f"{name}.{key}": float(value) for name, stage in results["stages"].items() for key, value in stage.items()}
    metrics.update({k: float(results[k]) for k in ("dsd_test_accuracy", "baseline_test_accuracy", "dsd_gain")})
    return metrics


def dsd(cfg: DictConfig) -> dict[str, Any]:
    """Run (or resume) one DSD job; returns and writes results.json."""
    check_dsd_config(cfg)
    results = run_staged_job(cfg, _run, flat_metrics)
    log.info("DSD (seed %s, sparsity %.2f): dense %.4f, sparse %.4f, DSD %.4f vs baseline %.4f (%+.2f pp)", cfg.seed,
             results["sparsity"], results["stages"]["dense"]["test_accuracy"],
             results["stages"]["sparse"]["test_accuracy"], results["dsd_test_accuracy"],
             results["baseline_test_accuracy"], 100 * results["dsd_gain"])
    return results
