"""Labelled / unlabelled splits, pseudo-label files and mixed batches (src/data/labelled.py, pipeline.py)."""

from __future__ import annotations

import numpy as np
import pytest

from src.data import load_semi_supervised, load_splits
from src.data.labelled import (
    load_pseudo_labels,
    save_pseudo_labels,
    stratified_labelled_split,
    with_pseudo_labels,
)
from src.data.pipeline import Normalization, batch_shares, mixed_train_dataset
from src.errors import ConfigError, DataError

SYNTHETIC = {"name": "synthetic", "num_train": 400, "num_val": 40, "num_test": 40, "image_size": 12,
             "channels": 1, "num_classes": 4, "split_seed": 0}


def test_stratified_split_keeps_class_frequencies_and_partitions():
    labels = np.repeat(np.arange(5), [100, 200, 300, 50, 350])
    labelled, unlabelled = stratified_labelled_split(labels, 0.1, seed=3)
    np.testing.assert_array_equal(np.bincount(labels[labelled]), [10, 20, 30, 5, 35])
    assert len(np.intersect1d(labelled, unlabelled)) == 0 and len(labelled) + len(unlabelled) == len(labels)
    again, _ = stratified_labelled_split(labels, 0.1, seed=3)
    other, _ = stratified_labelled_split(labels, 0.1, seed=4)
    np.testing.assert_array_equal(labelled, again)
    assert not np.array_equal(labelled, other)


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 2])
def test_bad_fraction_is_a_config_error(fraction):
    with pytest.raises(ConfigError, match="labelled_fraction"):
        stratified_labelled_split(np.zeros(10, int), fraction, 0)


def test_load_semi_supervised_hides_the_pool_labels_from_the_training_split():
    cfg = {**SYNTHETIC, "labelled_fraction": 0.25, "labelled_seed": 1}
    splits, pool = load_semi_supervised(cfg)
    full = load_splits(SYNTHETIC)
    assert len(splits.x_train) + len(pool.indices) == len(full.x_train) == 400
    np.testing.assert_array_equal(pool.images, full.x_train[pool.indices])
    np.testing.assert_array_equal(pool.hidden_labels, full.y_train[pool.indices])
    assert splits.x_extra is None and splits.fingerprint != full.fingerprint
    np.testing.assert_array_equal(splits.x_test, full.x_test)  # validation and test untouched


def test_pseudo_labels_come_from_the_file_never_from_the_hidden_labels(tmp_path):
    labelled, pool = load_semi_supervised({**SYNTHETIC, "labelled_fraction": 0.25})
    chosen = pool.indices[::3]
    pseudo = (np.arange(len(chosen)) * 7) % 4
    path = save_pseudo_labels(tmp_path / "p.npz", chosen, pseudo, np.ones(len(chosen)))
    splits = with_pseudo_labels(labelled, pool, *load_pseudo_labels(path))
    np.testing.assert_array_equal(splits.y_extra, pseudo)
    np.testing.assert_array_equal(splits.x_extra, pool.images[::3])
    scrambled = type(pool)(pool.indices, pool.images, (pool.hidden_labels + 1) % 4)
    again = with_pseudo_labels(labelled, scrambled, *load_pseudo_labels(path))
    np.testing.assert_array_equal(again.y_extra, splits.y_extra)
    assert again.fingerprint == splits.fingerprint
    # through the config, as the student's training job loads it
    loaded = load_splits({**SYNTHETIC, "labelled_fraction": 0.25, "pseudo_labels": str(path)})
    np.testing.assert_array_equal(loaded.y_extra, pseudo)


def test_pseudo_labels_outside_the_unlabelled_pool_are_refused(tmp_path):
    labelled, pool = load_semi_supervised({**SYNTHETIC, "labelled_fraction": 0.25})
    inside_labelled = np.setdiff1d(np.arange(400), pool.indices)[:2]
    with pytest.raises(DataError, match="outside the unlabelled part"):
        with_pseudo_labels(labelled, pool, inside_labelled, np.zeros(2, int))
    with pytest.raises(DataError, match="0..3"):
        with_pseudo_labels(labelled, pool, pool.indices[:2], np.array([0, 9]))
    with pytest.raises(DataError, match="does not exist"):
        load_pseudo_labels(tmp_path / "missing.npz")
    with pytest.raises(ConfigError, match="labelled_fraction"):
        load_splits({**SYNTHETIC, "pseudo_labels": str(tmp_path / "missing.npz")})


def test_batch_shares():
    assert batch_shares(128, 0.4) == (77, 51)
    assert batch_shares(4, 0.01) == (3, 1)
    with pytest.raises(ConfigError, match="pseudo_ratio"):
        batch_shares(128, 1.0)


def _mixed(start_epoch=0, epochs=2, seed=5):
    primary = (np.arange(10, dtype=np.uint8).reshape(10, 1, 1, 1).repeat(2, 1).repeat(2, 2), np.zeros(10, int))
    extra = (np.arange(100, 135, dtype=np.uint8).reshape(35, 1, 1, 1).repeat(2, 1).repeat(2, 2), np.ones(35, int))
    norm = Normalization((0.0,), (1 / 255,))  # pixel values come back unchanged
    return mixed_train_dataset([primary, extra], (6, 4), norm, seed=seed, epochs=epochs, steps=5,
                               start_epoch=start_epoch)


def test_mixed_batches_hold_the_shares_and_cycle_the_small_source():
    batches = [(np.rint(x.numpy()[:, 0, 0, 0]).astype(int), y.numpy()) for x, y in _mixed()]
    assert len(batches) == 10  # 2 epochs x 5 steps
    for _x, y in batches:
        np.testing.assert_array_equal(y, [0] * 6 + [1] * 4)
    first_epoch = np.concatenate([x[:6] for x, _ in batches[:5]])  # 30 draws from 10 labelled images
    np.testing.assert_array_equal(np.bincount(first_epoch, minlength=10), [3] * 10)
    extra = np.concatenate([x[6:] for x, _ in batches[:5]])
    assert len(set(extra.tolist())) == 20  # 20 distinct pseudo-labelled images, no repeats within an epoch


def test_mixed_stream_is_a_function_of_seed_and_epoch():
    full = [x.numpy() for x, _ in _mixed()]
    resumed = [x.numpy() for x, _ in _mixed(start_epoch=1)]
    for a, b in zip(full[5:], resumed):
        np.testing.assert_array_equal(a, b)
    other = [x.numpy() for x, _ in _mixed(seed=6)]
    assert any(not np.array_equal(a, b) for a, b in zip(full, other))
