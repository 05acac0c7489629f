"""Optimiser, learning-rate schedule and loss of the training recipe."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import keras
from keras import ops

from src.errors import ConfigError

SCHEDULES = ("cosine", "step", "constant")


@keras.saving.register_keras_serializable(package="cnnzoo")
class WarmupSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up, then cosine decay to 0 or step decay (×gamma at each milestone step).

    Written here because Keras' built-ins offer warm-up only with cosine decay; one schedule class
    keeps the two recipes (ResNet's step, SGDR-style cosine) on one code path."""

    def __init__(
        self,
        base_lr: float,
        total_steps: int,
        warmup_steps: int = 0,
        kind: str = "cosine",
        milestones: Sequence[int] = (),
        gamma: float = 0.1,
    ):
        self.base_lr = float(base_lr)
        self.total_steps = int(total_steps)
        self.warmup_steps = int(warmup_steps)
        self.kind = kind
        self.milestones = [int(m) for m in milestones]
        self.gamma = float(gamma)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        warm = float(max(self.warmup_steps, 1))
        warmup_lr = self.base_lr * ops.minimum(1.0, (step + 1.0) / warm)
        if self.kind == "cosine":
            span = float(max(self.total_steps - self.warmup_steps, 1))
            progress = ops.clip((step - self.warmup_steps) / span, 0.0, 1.0)
            lr = 0.5 * self.base_lr * (1.0 + ops.cos(math.pi * progress))
        elif self.kind == "step":
            passed = sum(ops.cast(step >= m, "float32") for m in self.milestones) if self.milestones else 0.0
            lr = self.base_lr * ops.power(self.gamma, passed)
        else:
            lr = ops.convert_to_tensor(self.base_lr, "float32")
        if self.warmup_steps:
            return ops.where(step < self.warmup_steps, warmup_lr, lr)
        return lr

    def get_config(self) -> dict:
        return {
            "base_lr": self.base_lr, "total_steps": self.total_steps, "warmup_steps": self.warmup_steps,
            "kind": self.kind, "milestones": self.milestones, "gamma": self.gamma,
        }


@keras.saving.register_keras_serializable(package="cnnzoo")
class SparseSmoothedCrossEntropy(keras.losses.Loss):
    """Cross-entropy on logits with integer labels and optional label smoothing (Szegedy et al. 2016,
    §7); Keras' sparse loss has no smoothing and its dense loss needs one-hot labels."""

    def __init__(self, label_smoothing: float = 0.0, name: str = "sparse_smoothed_cross_entropy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true, y_pred):
        num_classes = ops.shape(y_pred)[-1]
        onehot = ops.one_hot(ops.cast(ops.reshape(y_true, (-1,)), "int32"), num_classes)
        if self.label_smoothing:
            onehot = onehot * (1.0 - self.label_smoothing) + self.label_smoothing / ops.cast(num_classes, "float32")
        return keras.losses.categorical_crossentropy(onehot, y_pred, from_logits=True)

    def get_config(self) -> dict:
        return {**super().get_config(), "label_smoothing": self.label_smoothing}


def effective_learning_rate(train_cfg: Mapping[str, Any], batch_size: int) -> float:
    """Linear scaling rule (Goyal et al. 2017): lr = learning_rate × batch_size / base_batch_size."""
    return float(train_cfg["learning_rate"]) * batch_size / float(train_cfg.get("base_batch_size", batch_size))


def build_schedule(train_cfg: Mapping[str, Any], steps_per_epoch: int, batch_size: int) -> WarmupSchedule:
    kind = train_cfg["schedule"]
    if kind not in SCHEDULES:
        raise ConfigError(f"train.schedule={kind!r} is unknown; choose one of {list(SCHEDULES)}.")
    epochs = int(train_cfg["epochs"])
    milestones = [int(round(f * epochs)) * steps_per_epoch for f in train_cfg.get("milestones", ())]
    return WarmupSchedule(
        base_lr=effective_learning_rate(train_cfg, batch_size),
        total_steps=epochs * steps_per_epoch,
        warmup_steps=int(round(float(train_cfg.get("warmup_epochs", 0)) * steps_per_epoch)),
        kind=kind,
        milestones=milestones,
        gamma=float(train_cfg.get("gamma", 0.1)),
    )


def build_optimizer(train_cfg: Mapping[str, Any], steps_per_epoch: int, batch_size: int) -> keras.optimizers.Optimizer:
    """SGD with momentum (Nesterov option), decoupled weight decay on kernels only (not BN, biases), and
    optional clipping of the global gradient norm (``train.clip_norm``, for networks without BN)."""
    if train_cfg.get("optimizer", "sgd") != "sgd":
        raise ConfigError(f"train.optimizer={train_cfg.get('optimizer')!r} is unknown; only 'sgd' is supported.")
    if float(train_cfg["learning_rate"]) <= 0:
        raise ConfigError(f"train.learning_rate must be > 0, got {train_cfg['learning_rate']}.")
    clip = train_cfg.get("clip_norm")
    if clip is not None and float(clip) <= 0:
        raise ConfigError(f"train.clip_norm must be > 0 or null, got {clip}.")
    opt = keras.optimizers.SGD(
        learning_rate=build_schedule(train_cfg, steps_per_epoch, batch_size),
        momentum=float(train_cfg.get("momentum", 0.9)),
        nesterov=bool(train_cfg.get("nesterov", True)),
        weight_decay=float(train_cfg.get("weight_decay", 0.0)) or None,
        global_clipnorm=None if clip is None else float(clip),
    )
    if train_cfg.get("weight_decay"):
        opt.exclude_from_weight_decay(var_names=["gamma", "beta", "bias"])
    return opt
