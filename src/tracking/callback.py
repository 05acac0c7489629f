"""Per-epoch metrics to MLflow with stable names (not mlflow.keras.autolog, which duplicates val
metrics and is only tested up to Keras 3.13)."""

from __future__ import annotations

import math

import keras
import mlflow


def current_learning_rate(optimizer: keras.optimizers.Optimizer) -> float:
    return float(keras.ops.convert_to_numpy(optimizer.learning_rate))


class MlflowMetrics(keras.callbacks.Callback):
    """Logs every numeric epoch log (loss, accuracy, val_*, epoch_seconds, images_per_s) and the
    learning rate at step = epoch number (1-based)."""

    def __init__(self, run_id: str | None = None):
        super().__init__()
        self.run_id = run_id

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        metrics = {}
        for key, value in (logs or {}).items():
            try:
                value = float(value)
            except (TypeError, ValueError):
                continue
            if math.isfinite(value):
                metrics[key] = value
        metrics["learning_rate"] = current_learning_rate(self.model.optimizer)
        mlflow.log_metrics(metrics, step=epoch + 1, run_id=self.run_id)
