"""tf.data pipeline: adaptation, normalisation, determinism and exact resumption."""

from __future__ import annotations

import numpy as np
import pytest

from src.data.pipeline import Normalization, adapt_images, eval_dataset, train_dataset
from src.errors import ConfigError


def batches(ds):
    return [(x.numpy(), y.numpy()) for x, y in ds]


@pytest.fixture
def small():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (10, 6, 6, 1), dtype=np.uint8), np.arange(10)


def test_adapt_pad_resize_and_channels(small):
    x, _ = small
    padded = adapt_images(x, 10, 3, "pad")
    assert padded.shape == (10, 10, 10, 3) and padded.dtype == np.uint8
    np.testing.assert_array_equal(padded[:, 2:8, 2:8, 0], x[..., 0])
    assert padded[:, :2].max() == 0
    np.testing.assert_array_equal(padded[..., 0], padded[..., 2])
    assert adapt_images(x, 12, 1, "bilinear").shape == (10, 12, 12, 1)
    with pytest.raises(ConfigError, match="resize"):
        adapt_images(x, 12, 1, "nearest-ish")


def test_normalization_is_per_channel_and_validated():
    norm = Normalization.create([0.5], [0.25], 3)
    assert norm.mean == (0.5, 0.5, 0.5)
    x = np.full((1, 2, 2, 3), 255, np.uint8)
    np.testing.assert_allclose(norm.apply_numpy(x), 2.0)
    np.testing.assert_allclose(norm.apply(x).numpy(), 2.0)
    with pytest.raises(ConfigError):
        Normalization.create([0.5, 0.5], [0.25, 0.25], 3)
    with pytest.raises(ConfigError):
        Normalization.create([0.5], [0.0], 1)


def test_same_seed_same_stream_other_seed_other_stream(small):
    x, y = small
    norm = Normalization.create([0.0], [1.0], 1)
    kw = dict(batch_size=4, epochs=3, crop_pad=1, flip=True)
    a = batches(train_dataset(x, y, norm, seed=1, **kw))
    b = batches(train_dataset(x, y, norm, seed=1, **kw))
    c = batches(train_dataset(x, y, norm, seed=2, **kw))
    assert len(a) == 9  # 3 epochs x ceil(10 / 4)
    assert all((p[0] == q[0]).all() and (p[1] == q[1]).all() for p, q in zip(a, b))
    assert any((p[1] != q[1]).any() for p, q in zip(a, c) if p[1].shape == q[1].shape)


def test_each_epoch_is_a_permutation_and_epochs_differ(small):
    x, y = small
    norm = Normalization.create([0.0], [1.0], 1)
    labels = [b[1] for b in batches(train_dataset(x, y, norm, batch_size=4, seed=3, epochs=2))]
    first, second = np.concatenate(labels[:3]), np.concatenate(labels[3:])
    assert sorted(first) == list(range(10)) and sorted(second) == list(range(10))
    assert (first != second).any()


def test_resumed_stream_equals_the_uninterrupted_one(small):
    x, y = small
    norm = Normalization.create([0.0], [1.0], 1)
    kw = dict(batch_size=4, seed=5, epochs=3, crop_pad=2, flip=True)
    full = batches(train_dataset(x, y, norm, **kw))
    resumed = batches(train_dataset(x, y, norm, start_epoch=2, **kw))
    assert len(resumed) == 3
    for p, q in zip(full[6:], resumed):
        np.testing.assert_array_equal(p[0], q[0])
        np.testing.assert_array_equal(p[1], q[1])


def test_augmentation_changes_images_but_not_labels(small):
    x, y = small
    norm = Normalization.create([0.0], [1.0], 1)
    plain = batches(train_dataset(x, y, norm, batch_size=10, seed=0, epochs=1))
    aug = batches(train_dataset(x, y, norm, batch_size=10, seed=0, epochs=1, crop_pad=2, flip=True))
    np.testing.assert_array_equal(plain[0][1], aug[0][1])
    assert not np.array_equal(plain[0][0], aug[0][0])


def test_eval_dataset_keeps_order(small):
    x, y = small
    norm = Normalization.create([0.0], [1.0], 1)
    got = np.concatenate([b[1] for b in batches(eval_dataset(x, y, norm, 3))])
    np.testing.assert_array_equal(got, y)


def test_two_shards_at_half_the_batch_make_up_each_step_of_the_unsharded_stream(small):
    """Positional sharding (src/data/sources.py): step s of pipelines 0 and 1 at batch 2 together hold
    step s of one pipeline at batch 4, the same examples with the same crops and flips (what a
    multi-worker step needs to equal a one-process step); evaluation shards cover the split once."""
    x, y = small
    norm = Normalization.create([0.0], [1.0], 1)
    kw = dict(seed=4, epochs=2, crop_pad=1, flip=True)
    whole = batches(train_dataset(x, y, norm, batch_size=4, **kw))
    shards = [batches(train_dataset(x, y, norm, batch_size=2, shard=(2, k), **kw)) for k in range(2)]
    assert [len(s) for s in shards] == [6, 6] and len(whole) == 6  # 10 examples: batches of 4, 4, 2 per epoch
    for step, (images, labels) in enumerate(whole):
        got = {int(label): image for k in range(2) for image, label in zip(shards[k][step][0], shards[k][step][1])}
        assert sorted(got) == sorted(labels.tolist())
        for image, label in zip(images, labels):
            np.testing.assert_array_equal(got[int(label)], image)
    blocks = [np.concatenate([b[1] for b in batches(eval_dataset(x, y, norm, 3, shard=(3, k)))]) for k in range(3)]
    np.testing.assert_array_equal(np.concatenate(blocks), y)
