"""The in-memory data set every loader returns, before the tf.data pipeline."""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DataSplits:
    """Train / validation / test arrays of one data set.

    Images are uint8 pixel values, shape (N, H, W, C); labels are int64, shape (N,).
    The pipeline (`src.data.pipeline`) resizes, normalises and augments them.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]
    fingerprint: str
    source: str
    # A second training source (pseudo-labelled images, src/data/labelled.py) mixed into every batch
    # at data.extra_ratio; None for ordinary supervised data.
    x_extra: np.ndarray | None = None
    y_extra: np.ndarray | None = None

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(int(d) for d in self.x_train.shape[1:])  # type: ignore[return-value]


def split_train_val(
    num_examples: int, val_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded permutation split of range(num_examples) into (train_idx, val_idx), each sorted."""
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    perm = np.random.default_rng(seed).permutation(num_examples)
    n_val = int(round(num_examples * val_fraction))
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def fingerprint(*parts: bytes | str | np.ndarray) -> str:
    """SHA-256 over file digests, split indices and settings: the data identity of a run."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            h.update(np.ascontiguousarray(part).tobytes())
        elif isinstance(part, str):
            h.update(part.encode())
        else:
            h.update(part)
        h.update(b"|")
    return h.hexdigest()


def subset_train(splits: DataSplits, at_most: int, seed: int) -> DataSplits:
    """Keep a seeded random subset of at most ``at_most`` training examples (quick runs, smoke tests);
    validation and test stay whole. The subset is part of the fingerprint."""
    if at_most < 1:
        raise ValueError(f"data.train_subset must be ≥ 1, got {at_most}")
    n = len(splits.x_train)
    if at_most >= n:
        return splits
    keep = np.sort(np.random.default_rng(seed + 1).choice(n, at_most, replace=False))
    return dataclasses.replace(
        splits,
        x_train=splits.x_train[keep],
        y_train=splits.y_train[keep],
        fingerprint=fingerprint(splits.fingerprint, keep),
    )
