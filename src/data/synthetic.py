"""Seeded synthetic images for tests and smoke runs: any shape, learnable in a couple of epochs.

Class k is noise plus a bright square at a class-dependent position, so a tiny network can tell
the classes apart (a smoke run that learns nothing would hide a broken pipeline)."""

from __future__ import annotations

import numpy as np

from src.data.splits import DataSplits, fingerprint
from src.errors import ConfigError


def _check(name: str, value: int, minimum: int) -> None:
    if not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"data.{name} must be an integer ≥ {minimum}, got {value!r}.")


def _make(n: int, size: int, channels: int, num_classes: int, rng: np.random.Generator):
    labels = rng.integers(0, num_classes, n).astype(np.int64)
    images = rng.normal(64, 24, (n, size, size, channels))
    patch = max(size // 4, 1)
    slots = max(size - patch, 1)
    for k in range(num_classes):
        idx = labels == k
        top = (k * 7919 % num_classes) * slots // max(num_classes - 1, 1)
        left = k * slots // max(num_classes - 1, 1)
        images[idx, top : top + patch, left : left + patch, :] += 150
    return np.clip(images, 0, 255).astype(np.uint8), labels


def load_synthetic(
    num_train: int = 512,
    num_val: int = 128,
    num_test: int = 128,
    image_size: int = 28,
    channels: int = 1,
    num_classes: int = 10,
    seed: int = 0,
) -> DataSplits:
    """Random uint8 images (N, S, S, C) with a class-dependent bright patch, fixed by ``seed``."""
    for name, value, minimum in (
        ("num_train", num_train, 1), ("num_val", num_val, 1), ("num_test", num_test, 1),
        ("image_size", image_size, 4), ("channels", channels, 1), ("num_classes", num_classes, 2),
    ):
        _check(name, value, minimum)
    rng = np.random.default_rng(seed)
    parts = [_make(n, image_size, channels, num_classes, rng) for n in (num_train, num_val, num_test)]
    settings = f"synthetic:{num_train},{num_val},{num_test},{image_size},{channels},{num_classes},{seed}"
    return DataSplits(
        x_train=parts[0][0], y_train=parts[0][1],
        x_val=parts[1][0], y_val=parts[1][1],
        x_test=parts[2][0], y_test=parts[2][1],
        class_names=tuple(f"class_{k}" for k in range(num_classes)),
        fingerprint=fingerprint(settings),
        source=f"synthetic(seed={seed})",
    )
