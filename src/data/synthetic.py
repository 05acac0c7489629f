"""Seeded synthetic images for tests and smoke runs: any shape, learnable in a couple of epochs.

Class k is Gaussian noise plus a bright square in cell k of a ⌈√K⌉×⌈√K⌉ grid of positions, so every
class has its own patch position and a tiny network can tell them apart (a smoke run that learns
nothing would hide a broken pipeline).
"""

from __future__ import annotations

import math

import numpy as np

from src.data.splits import DataSplits, fingerprint
from src.errors import ConfigError

#: Bumped whenever the generator changes, so the fingerprint tracks the pixels, not only the settings.
GENERATOR_VERSION = 2
NOISE_MEAN, NOISE_STD, PATCH_GAIN = 64.0, 24.0, 150.0


def _check(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"data.{name} must be an integer ≥ {minimum}, got {value!r}.")


def _patch_positions(image_size: int, num_classes: int) -> list[tuple[int, int, int]]:
    """(top, left, side) of each class's patch; distinct for every class."""
    side = max(image_size // 4, 1)
    grid = math.ceil(math.sqrt(num_classes))
    slots = image_size - side
    if slots < grid - 1:
        smallest = next(s for s in range(image_size, 10 * grid + 8) if s - max(s // 4, 1) >= grid - 1)
        raise ConfigError(
            f"data.image_size={image_size} leaves no room for {num_classes} distinct class patches; "
            f"use data.image_size ≥ {smallest} or fewer classes."
        )
    step = slots / max(grid - 1, 1)
    return [(round((k // grid) * step), round((k % grid) * step), side) for k in range(num_classes)]


def _make(
    n: int, size: int, channels: int, positions: list[tuple[int, int, int]], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    labels = rng.integers(0, len(positions), n).astype(np.int64)
    images = rng.normal(NOISE_MEAN, NOISE_STD, (n, size, size, channels))
    for k, (top, left, side) in enumerate(positions):
        images[labels == k, top : top + side, left : left + side, :] += PATCH_GAIN
    return np.clip(np.rint(images), 0, 255).astype(np.uint8), labels


def load_synthetic(
    num_train: int = 512,
    num_val: int = 128,
    num_test: int = 128,
    image_size: int = 28,
    channels: int = 1,
    num_classes: int = 10,
    seed: int = 0,
) -> DataSplits:
    """Random uint8 images (N, S, S, C) with uniformly drawn labels and a class-dependent bright
    patch, fully determined by the arguments (numpy ``default_rng(seed)``)."""
    for name, value, minimum in (
        ("num_train", num_train, 1), ("num_val", num_val, 1), ("num_test", num_test, 1),
        ("image_size", image_size, 4), ("channels", channels, 1), ("num_classes", num_classes, 2),
    ):
        _check(name, value, minimum)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"data.split_seed (the synthetic seed) must be an integer ≥ 0, got {seed!r}.")
    positions = _patch_positions(image_size, num_classes)
    rng = np.random.default_rng(seed)
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = (
        _make(n, image_size, channels, positions, rng) for n in (num_train, num_val, num_test)
    )
    settings = (
        f"synthetic-v{GENERATOR_VERSION}:{num_train},{num_val},{num_test},"
        f"{image_size},{channels},{num_classes},{seed}"
    )
    return DataSplits(
        x_train=x_train, y_train=y_train,
        x_val=x_val, y_val=y_val,
        x_test=x_test, y_test=y_test,
        class_names=tuple(f"class_{k}" for k in range(num_classes)),
        fingerprint=fingerprint(settings),
        source=f"synthetic(seed={seed})",
    )
