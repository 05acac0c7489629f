"""Semi-supervised splits: a stratified labelled part of the training split, the unlabelled rest, and
pseudo-labels for that rest (Radosavovic et al. 2018, "Data Distillation", §3; our classification set-up).

The unlabelled part's true labels stay in `UnlabelledPool.hidden_labels`, which only the reporting code
reads (pseudo-label precision); the training data of a pseudo-labelled student is built from the pool's
images and the pseudo-labels file alone (`with_pseudo_labels`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from src.atomic_files import atomic_path
from src.data.splits import DataSplits, fingerprint
from src.errors import ConfigError, DataError


def stratified_labelled_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(labelled_idx, unlabelled_idx), sorted: ``round(fraction · n_c)`` seeded picks of every class c
    (at least one per class), so the labelled part keeps the class frequencies of ``labels``."""
    if not 0.0 < fraction < 1.0:
        raise ConfigError(f"data.labelled_fraction must be in (0, 1), got {fraction!r} (e.g. 0.1 for 10 % labelled).")
    rng = np.random.default_rng(seed)
    keep = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        k = min(len(members), max(1, int(round(fraction * len(members)))))
        keep.append(rng.choice(members, k, replace=False))
    labelled = np.sort(np.concatenate(keep))
    unlabelled = np.setdiff1d(np.arange(len(labels)), labelled)
    return labelled, unlabelled


@dataclass(frozen=True)
class UnlabelledPool:
    """The training images whose labels the pipeline must not see; ``indices`` point into the full training split."""

    indices: np.ndarray
    images: np.ndarray
    hidden_labels: np.ndarray  # for reporting pseudo-label precision only


def split_labelled(splits: DataSplits, fraction: float, seed: int) -> tuple[DataSplits, UnlabelledPool]:
    """The splits restricted to their labelled part, and the unlabelled pool (validation and test untouched)."""
    labelled, unlabelled = stratified_labelled_split(splits.y_train, fraction, seed)
    kept = dataclasses.replace(
        splits, x_train=splits.x_train[labelled], y_train=splits.y_train[labelled],
        fingerprint=fingerprint(splits.fingerprint, "labelled", labelled),
    )
    pool = UnlabelledPool(unlabelled, splits.x_train[unlabelled], splits.y_train[unlabelled])
    return kept, pool


def save_pseudo_labels(path: str | Path, indices: np.ndarray, labels: np.ndarray, scores: np.ndarray) -> Path:
    """Write pseudo-labels (indices into the full training split, hard labels, scores) as .npz."""
    path = Path(path)
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez(tmp, indices=np.asarray(indices, np.int64), labels=np.asarray(labels, np.int64),
                 scores=np.asarray(scores, np.float32))
    return path


def load_pseudo_labels(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(indices, labels) of a pseudo-labels file written by `save_pseudo_labels`."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"data.pseudo_labels={str(path)!r} does not exist; it is written by the distillation job "
                        "(python -m src.run experiment=data_distillation).")
    with np.load(path) as f:
        if not {"indices", "labels"} <= set(f.files):
            raise DataError(f"{path} is not a pseudo-labels file (needs arrays 'indices' and 'labels', has {f.files}).")
        return f["indices"].astype(np.int64), f["labels"].astype(np.int64)


def pool_rows(pool_indices: np.ndarray, indices: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Positions in the unlabelled pool of pseudo-labelled ``indices`` (into the full training split), after
    checking that every index lies in the pool (else leakage) and every label in 0..num_classes-1."""
    position = {int(i): k for k, i in enumerate(pool_indices)}
    missing = [int(i) for i in indices if int(i) not in position]
    if missing:
        raise DataError(f"{len(missing)} pseudo-labels point outside the unlabelled part (e.g. index {missing[0]}); "
                        "the file belongs to another labelled split (data.labelled_fraction / data.labelled_seed).")
    rows = np.array([position[int(i)] for i in indices], dtype=np.int64)
    if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
        raise DataError(f"pseudo-labels must lie in 0..{num_classes - 1}, got {labels.min()}..{labels.max()}.")
    return rows


def with_pseudo_labels(labelled: DataSplits, pool: UnlabelledPool, indices: np.ndarray, labels: np.ndarray) -> DataSplits:
    """``labelled`` plus the pool images at ``indices`` as a second training source with ``labels``.

    Refuses indices outside the unlabelled pool: a pseudo-label on a labelled, validation or test image
    would be leakage."""
    rows = pool_rows(pool.indices, indices, labels, labelled.num_classes)
    return dataclasses.replace(
        labelled,
        x_extra=pool.images[rows],
        y_extra=labels.astype(np.int64),
        fingerprint=fingerprint(labelled.fingerprint, "pseudo", np.asarray(indices, np.int64), labels.astype(np.int64)),
    )
