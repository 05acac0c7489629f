"""Training callbacks of our own (everything else is a stock Keras callback)."""

from __future__ import annotations

import math
import time

import keras


class EpochTimer(keras.callbacks.Callback):
    """Adds ``epoch_seconds`` and ``images_per_s`` (training examples / wall second) to the epoch logs,
    so the CSV log, MLflow and the History all carry them. Put it first in the callback list."""

    def __init__(self, num_train_examples: int):
        super().__init__()
        self.num_train_examples = num_train_examples
        self._start = 0.0

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        seconds = time.perf_counter() - self._start
        if logs is not None:
            logs["epoch_seconds"] = seconds
            logs["images_per_s"] = self.num_train_examples / seconds if seconds > 0 else 0.0


class EpochCSVLogger(keras.callbacks.CSVLogger):
    """Keras' CSVLogger with epochs numbered 1..N, as the progress log, MLflow's steps and curves.png number them."""

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        super().on_epoch_end(epoch + 1, logs)


class MainOutputMetrics(keras.callbacks.Callback):
    """For a model with auxiliary heads (GoogLeNet, Inception-v3): copies the main output's
    ``{output}_accuracy`` / ``val_{output}_accuracy`` to ``accuracy`` / ``val_accuracy``, so the logs,
    the CSV log, MLflow and the History use the same names as for a single-output model. Put it right
    after `EpochTimer` (Keras appends its History callback last, so it sees the aliases)."""

    def __init__(self, main_output: str):
        super().__init__()
        self.main_output = main_output

    def _alias(self, logs) -> None:
        if logs is None:
            return
        for prefix in ("", "val_"):
            key = f"{prefix}{self.main_output}_accuracy"
            if key in logs:
                logs[f"{prefix}accuracy"] = logs[key]

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        self._alias(logs)

    def on_train_batch_end(self, batch: int, logs=None) -> None:
        self._alias(logs)


class ProgressLog(keras.callbacks.Callback):
    """A log line every ``every_s`` seconds within an epoch (step, running loss and accuracy, images/s,
    time left in the epoch), for jobs whose output is a file, where Keras prints one line per epoch: an
    epoch of a slow network on a CPU can take 20 minutes without a word otherwise."""

    def __init__(self, every_s: float, batch_size: int, logger):
        super().__init__()
        self.every_s = float(every_s)
        self.batch_size = int(batch_size)
        self.logger = logger
        self._epoch = 0
        self._start = self._last = 0.0

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        self._epoch = epoch
        self._start = self._last = time.perf_counter()

    def on_train_batch_end(self, batch: int, logs=None) -> None:
        now = time.perf_counter()
        if now - self._last < self.every_s:
            return
        self._last = now
        steps, done = self.params.get("steps"), batch + 1
        rate = done / (now - self._start)  # steps per second in this epoch so far
        where = f"step {done}/{steps} ({100 * done / steps:.0f} %)" if steps else f"step {done}"
        logs = logs or {}
        metrics = ", ".join(f"{k} {float(logs[k]):.4f}" for k in ("loss", "accuracy") if k in logs)
        seconds_left = (steps - done) / rate if steps else None
        left = ("" if seconds_left is None else f", ~{seconds_left:.0f} s left in the epoch" if seconds_left < 90
                else f", ~{seconds_left / 60:.1f} min left in the epoch")
        self.logger.info("epoch %d/%s: %s, %s, %.0f images/s%s", self._epoch + 1, self.params.get("epochs"),
                         where, metrics or "no metrics yet", rate * self.batch_size, left)


#: A running training loss above this stops the job as diverged. Cross-entropy starts near ln(classes)
#: (2.3 for 10 classes, 6.9 for 1,000) and only a diverged network's logits are 1,000 apart.
MAX_TRAINING_LOSS = 1000.0


def loss_diverged(loss) -> bool:
    """Whether a training loss is NaN, infinite or above MAX_TRAINING_LOSS."""
    try:
        value = float(loss)
    except (TypeError, ValueError):
        return False
    return not math.isfinite(value) or value > MAX_TRAINING_LOSS


class LossGuard(keras.callbacks.Callback):
    """Stops training at the first batch whose running loss `loss_diverged` (Keras' TerminateOnNaN,
    extended to absurd finite values such as the 6e22 of ``train.learning_rate=1e6``); the job then
    raises `TrainingDivergedError` (src/train/loop.py) and `TrainingState` keeps the last good epoch."""

    def __init__(self):
        super().__init__()
        self.diverged: tuple[int, float] | None = None  # (epoch, loss) where it stopped
        self._epoch = 0

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        self._epoch = epoch

    def on_train_batch_end(self, batch: int, logs=None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and loss_diverged(loss):
            self.diverged = (self._epoch + 1, float(loss))
            self.model.stop_training = True
