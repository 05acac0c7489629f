"""Fixed magnitude masks on a model's kernels, held through training: DSD's sparse phase (Han et al.,
ICLR 2017, §2: prune the smallest-magnitude weights of every layer, retrain with the mask fixed).

The mask is a Keras variable constraint, which the optimizer applies after every update inside the
compiled train step (any backend, any ``steps_per_execution``), so pruned weights stay exactly zero.
Written here rather than with tfmot: tfmot works on tf_keras models only (model-optimization#1141) and would move the
training out of our loop (data stream, schedules, checkpoints, resume).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from src.errors import ConfigError


class FixedMask(keras.constraints.Constraint):
    """w ↦ w · mask (mask of 0/1, the variable's shape)."""

    def __init__(self, mask: np.ndarray):
        self.mask = np.asarray(mask, dtype="float32")

    def __call__(self, w):
        return w * ops.cast(self.mask, w.dtype)


def prunable_kernels(model: keras.Model) -> list:
    """The trainable convolution and dense kernels (biases, BN and other variables are never pruned)."""
    return [v for v in model.trainable_weights if v.path.split("/")[-1] == "kernel" and len(v.shape) >= 2]


def magnitude_mask(values: np.ndarray, sparsity: float) -> np.ndarray:
    """1 for the kept weights, 0 for the ``round(sparsity · n)`` smallest by |w| (ties: first in order)."""
    flat = np.abs(np.asarray(values)).ravel()
    pruned = int(round(sparsity * flat.size))
    mask = np.ones(flat.size, dtype="float32")
    mask[np.argsort(flat, kind="stable")[:pruned]] = 0.0
    return mask.reshape(np.shape(values))


def apply_fixed_masks(model: keras.Model, sparsity: float) -> dict[str, float]:
    """Prune every kernel of ``model`` to ``sparsity`` by magnitude (per layer), zero the pruned weights and
    keep them zero in training; returns the kept fraction per kernel. Re-applied to a resumed model whose
    pruned weights are zero already, it picks the same mask."""
    if not 0.0 < float(sparsity) < 1.0:
        raise ConfigError(f"train.sparsity={sparsity!r}; use a fraction in (0, 1) of each kernel to prune, or null.")
    kept = {}
    for variable in prunable_kernels(model):
        mask = magnitude_mask(keras.ops.convert_to_numpy(variable), float(sparsity))
        variable.assign(keras.ops.convert_to_numpy(variable) * mask)
        variable.constraint = FixedMask(mask)
        kept[variable.path] = float(mask.mean())
    return kept


def kernel_sparsity(model: keras.Model) -> float:
    """Fraction of exactly-zero weights over all prunable kernels."""
    kernels = [keras.ops.convert_to_numpy(v) for v in prunable_kernels(model)]
    return float(sum(int((k == 0).sum()) for k in kernels) / max(1, sum(k.size for k in kernels)))
