"""One training job: data -> model -> fit -> test -> save -> TFLite export, tracked in MLflow.

`train(cfg)` is pure with respect to Hydra: it needs only the composed config (with
``output_dir`` set), so tests call it directly; `src.run` is the thin `@hydra.main` entry.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import keras
import numpy as np
from omegaconf import DictConfig, OmegaConf

from src.data import load_splits
from src.data.pipeline import Normalization, adapt_images, eval_dataset, steps_per_epoch, train_dataset
from src.errors import ConfigError
from src.models import build_model
from src.profiling import count_macs, count_params
from src.train.aux_heads import aux_loss_weight, has_aux_heads, inference_network, repeat_labels
from src.train.callbacks import EpochTimer, MainOutputMetrics
from src.train.optim import SparseSmoothedCrossEntropy, build_optimizer, effective_learning_rate

log = logging.getLogger(__name__)


def seed_everything(seed: int, deterministic: bool) -> None:
    """Python, NumPy and backend RNGs; TensorFlow op determinism for bit-identical CPU runs."""
    keras.utils.set_random_seed(int(seed))
    if deterministic and keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


def _subset(x: np.ndarray, y: np.ndarray, limit: int | None) -> tuple[np.ndarray, np.ndarray]:
    return (x, y) if not limit else (x[:limit], y[:limit])


def _model_knobs(model_cfg: DictConfig) -> dict[str, Any]:
    knobs = OmegaConf.to_container(model_cfg, resolve=True)
    knobs.pop("name", None)
    return knobs


#: Inputs smaller than this (height or width) select a family's small-input variant under model_variant=auto.
SMALL_INPUT_BELOW = 64
MODEL_VARIANTS = ("auto", "paper", "small")


def effective_model_knobs(cfg: DictConfig, input_shape: tuple[int, int, int]) -> dict[str, Any]:
    """The knobs the network is built with: ``cfg.model``'s, overlaid with the family's documented
    small-input knobs (registry ``small_knobs``) when ``model_variant`` is ``small``, or ``auto`` and the
    input is below SMALL_INPUT_BELOW pixels (e.g. Fashion-MNIST's 28×28)."""
    from src.models import get_spec
    from src.models.common import check_choice

    knobs = _model_knobs(cfg.model)
    variant = cfg.get("model_variant", "auto")
    check_choice("model_variant", variant, MODEL_VARIANTS, "config")
    small = variant == "small" or (variant == "auto" and min(input_shape[:2]) < SMALL_INPUT_BELOW)
    if small:
        knobs.update(get_spec(cfg.model.name).small_knobs)
    return knobs


def build_from_config(cfg: DictConfig, input_shape: tuple[int, int, int], classes: int) -> keras.Model:
    """The network a config asks for, emitting logits (the loss and TFLite check work on logits)."""
    knobs = effective_model_knobs(cfg, input_shape)
    if knobs != _model_knobs(cfg.model):
        log.info("%s: small-input variant at %s (model_variant=%s): %s", cfg.model.name, input_shape,
                 cfg.get("model_variant", "auto"), knobs)
    return build_model(
        cfg.model.name, input_shape=input_shape, classes=classes, classifier_activation=None, **knobs,
    )


def _verbosity(train_cfg: DictConfig) -> int:
    verbose = train_cfg.get("verbose", "auto")
    if verbose == "auto":
        return 1 if sys.stdout.isatty() else 2
    return int(verbose)


def _tracking(cfg: DictConfig):
    """The MLflow run context (or a null context when logger.enabled is false)."""
    if not cfg.logger.get("enabled", True):
        return nullcontext(None)
    import mlflow

    from src.tracking import git_info, library_versions, resolve_tracking_uri, setup_experiment

    uri = resolve_tracking_uri(cfg.logger.get("tracking_uri"))
    experiment_id = setup_experiment(cfg.experiment_name, uri)
    tags = {"seed": str(cfg.seed), "model": cfg.model.name, "data": cfg.data.name, **git_info()}
    tags.update({f"version.{k}": v for k, v in library_versions().items()})
    return mlflow.start_run(
        experiment_id=experiment_id,
        run_name=cfg.get("run_name") or None,
        parent_run_id=cfg.get("parent_run_id") or None,
        nested=bool(cfg.get("parent_run_id")),
        tags=tags,
    )


def train(cfg: DictConfig) -> dict[str, Any]:
    """Run the job described by ``cfg`` and return its final metrics (also written to results.json)."""
    if not cfg.get("output_dir"):
        raise ConfigError("output_dir is not set; src.run sets it to Hydra's job folder.")
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    seed_everything(cfg.seed, cfg.train.get("deterministic", True))

    data_cfg = cfg.data
    splits = load_splits(data_cfg)
    size, channels = int(data_cfg.image_size), int(data_cfg.channels)
    resize = data_cfg.get("resize", "pad")
    x_train = adapt_images(splits.x_train, size, channels, resize)
    x_val, y_val = _subset(adapt_images(splits.x_val, size, channels, resize), splits.y_val, data_cfg.get("eval_subset"))
    x_test, y_test = _subset(adapt_images(splits.x_test, size, channels, resize), splits.y_test, data_cfg.get("eval_subset"))
    norm = Normalization.create(data_cfg.normalize.mean, data_cfg.normalize.std, channels)

    model = build_from_config(cfg, (size, size, channels), splits.num_classes)
    deployed = inference_network(model)  # the model itself, or its main output without auxiliary heads
    params, macs = count_params(deployed), count_macs(deployed)
    log.info("%s: %s trainable parameters, %.2f M MACs at %dx%dx%d",
             cfg.model.name, f"{params.trainable:,}", macs.total / 1e6, size, size, channels)

    batch = int(data_cfg.batch_size)
    epochs = int(cfg.train.epochs)
    spe = steps_per_epoch(len(x_train), batch)
    train_ds = train_dataset(
        x_train, splits.y_train, norm, batch, seed=int(cfg.seed), epochs=epochs,
        crop_pad=int(data_cfg.augment.random_crop_pad), flip=bool(data_cfg.augment.horizontal_flip),
    )
    val_ds = eval_dataset(x_val, y_val, norm, int(data_cfg.eval_batch_size))
    test_ds = eval_dataset(x_test, y_test, norm, int(data_cfg.eval_batch_size))

    jit = bool(cfg.train.get("jit_compile", True)) and keras.backend.backend() == "tensorflow"
    if jit and cfg.train.get("deterministic", True):
        # Keras silently refuses XLA while TF op determinism is on (trainer.model_supports_jit).
        log.info("jit_compile is off: Keras disables XLA under op determinism; "
                 "train.deterministic=false trains ~1.25x faster but not bit-reproducibly")
        jit = False
    loss = SparseSmoothedCrossEntropy(float(cfg.train.get("label_smoothing", 0.0)))
    accuracy = keras.metrics.SparseCategoricalAccuracy(name="accuracy")
    outputs = len(model.outputs)
    if has_aux_heads(model):
        weight = aux_loss_weight(cfg.model.name, cfg.train.get("aux_loss_weight"))
        log.info("%s: training with %d auxiliary heads, each loss weighted %.2f; they are dropped for "
                 "evaluation, saving and export", cfg.model.name, outputs - 1, weight)
        model.compile(
            optimizer=build_optimizer(cfg.train, spe, batch),
            loss=[loss] * outputs, loss_weights=[1.0] + [weight] * (outputs - 1),
            metrics=[[accuracy]] + [[] for _ in range(outputs - 1)], jit_compile=jit,
        )
        train_ds, val_ds, test_ds = (repeat_labels(ds, outputs) for ds in (train_ds, val_ds, test_ds))
    else:
        model.compile(optimizer=build_optimizer(cfg.train, spe, batch), loss=loss, metrics=[accuracy], jit_compile=jit)

    with _tracking(cfg) as run:
        run_id = run.info.run_id if run else None
        if run:
            _log_run_inputs(cfg, out, splits, norm, params, macs, batch)
        callbacks: list[keras.callbacks.Callback] = [EpochTimer(len(x_train)), keras.callbacks.TerminateOnNaN()]
        if has_aux_heads(model):
            callbacks.insert(1, MainOutputMetrics(model.output_names[0]))
        if cfg.train.get("checkpoint", True):
            (out / "checkpoints").mkdir(exist_ok=True)
            callbacks.append(keras.callbacks.ModelCheckpoint(str(out / "checkpoints" / "last.keras")))
        callbacks.append(keras.callbacks.CSVLogger(str(out / "history.csv")))
        if run:
            from src.tracking import MlflowMetrics

            callbacks.append(MlflowMetrics(run_id))
        history = model.fit(
            train_ds, epochs=epochs, steps_per_epoch=spe, validation_data=val_ds,
            callbacks=callbacks, verbose=_verbosity(cfg.train), shuffle=False,  # the stream is shuffled already
        )
        train_loss = history.history.get("loss", [float("nan")])[-1]
        if not np.isfinite(train_loss):
            raise FloatingPointError(
                f"training loss became {train_loss} in epoch {len(history.history['loss'])}; "
                "lower train.learning_rate or check the data normalisation."
            )
        test_loss, test_acc = _evaluate_main_output(model, test_ds)
        results: dict[str, Any] = {
            "test_loss": float(test_loss),
            "test_accuracy": float(test_acc),
            "final_val_accuracy": float(history.history["val_accuracy"][-1]),
            "params_trainable": params.trainable,
            "params_total": params.total,
            "macs": macs.total,
            "train_examples": len(x_train),
        }
        model_path = out / "model.keras"
        deployed.save(model_path)

        tflite_report = None
        if cfg.export.get("enabled", False):
            from src.export import export_and_verify

            limit = cfg.export.get("max_eval_examples")
            xe, ye = _subset(x_test, y_test, limit)
            tflite_report = export_and_verify(deployed, out, norm.apply_numpy(xe), ye, name=cfg.model.name)
            results.update(tflite_report.as_metrics())
        results["wall_seconds"] = time.perf_counter() - started
        results["train_images_per_s"] = float(np.median(history.history["images_per_s"]))
        (out / "results.json").write_text(json.dumps(results, indent=2))
        from src.report import plot_history

        plot_history(out / "history.csv", out / "curves.png", title=f"{cfg.model.name} on {cfg.data.name}, seed {cfg.seed}")
        if run:
            import mlflow

            mlflow.log_metrics({k: float(v) for k, v in results.items()})
            mlflow.log_artifact(str(model_path))
            mlflow.log_artifact(str(out / "results.json"))
            mlflow.log_artifact(str(out / "history.csv"))
            mlflow.log_artifact(str(out / "curves.png"))
            if tflite_report is not None:
                mlflow.log_artifact(tflite_report.path, artifact_path="tflite")
                mlflow.log_artifact(tflite_report.path + ".json", artifact_path="tflite")
            results["mlflow_run_id"] = run_id
    log.info("test accuracy %.4f, wall %.0f s -> %s", results["test_accuracy"], results["wall_seconds"], out)
    return results


def _evaluate_main_output(model: keras.Model, dataset) -> tuple[float, float]:
    """Test loss and accuracy of the main output (auxiliary heads, if any, are not counted)."""
    metrics = model.evaluate(dataset, verbose=0, return_dict=True)
    prefix = f"{model.output_names[0]}_" if has_aux_heads(model) else ""
    return float(metrics[f"{prefix}loss"]), float(metrics[f"{prefix}accuracy"])


def _log_run_inputs(cfg, out: Path, splits, norm: Normalization, params, macs, batch: int) -> None:
    import mlflow

    from src.tracking import flatten_config

    resolved = OmegaConf.to_container(cfg, resolve=True)
    flat = flatten_config(resolved)
    flat["train.effective_learning_rate"] = str(effective_learning_rate(cfg.train, batch))
    size, channels = int(cfg.data.image_size), int(cfg.data.channels)
    for key, value in effective_model_knobs(cfg, (size, size, channels)).items():
        flat[f"model_effective.{key}"] = str(value)
    flat["data.fingerprint"] = splits.fingerprint
    flat["data.source"] = splits.source
    flat["data.normalization"] = json.dumps({"mean": norm.mean, "std": norm.std})
    mlflow.log_params(flat)
    mlflow.set_tags({"data_fingerprint": splits.fingerprint, "git_commit_short": mlflow.active_run().data.tags.get("git_commit", "")[:10]})
    (out / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    mlflow.log_artifact(str(out / "config.yaml"))
    (out / "macs.txt").write_text(macs.table())
    mlflow.log_artifact(str(out / "macs.txt"))
    mlflow.log_metrics({"params_trainable": params.trainable, "macs": macs.total})
