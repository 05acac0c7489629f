"""Synthetic data: seeded, any shape, learnable, validated."""

from __future__ import annotations

import numpy as np
import pytest

from src.data.synthetic import _patch_positions, load_synthetic
from src.errors import ConfigError


def test_shapes_dtypes_and_determinism():
    a = load_synthetic(20, 5, 6, image_size=12, channels=3, num_classes=4, seed=3)
    assert a.x_train.shape == (20, 12, 12, 3) and a.x_train.dtype == np.uint8
    assert a.y_train.shape == (20,) and a.y_train.dtype == np.int64
    assert a.x_val.shape == (5, 12, 12, 3) and a.y_val.dtype == np.int64 and a.x_test.shape == (6, 12, 12, 3)
    assert a.class_names == ("class_0", "class_1", "class_2", "class_3") and a.source == "synthetic(seed=3)"
    assert a.y_train.min() >= 0 and a.y_train.max() < 4
    b = load_synthetic(20, 5, 6, image_size=12, channels=3, num_classes=4, seed=3)
    for part in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(a, part), getattr(b, part))
    assert a.fingerprint == b.fingerprint
    c = load_synthetic(20, 5, 6, image_size=12, channels=3, num_classes=4, seed=4)
    assert not np.array_equal(a.x_train, c.x_train) and a.fingerprint != c.fingerprint
    assert load_synthetic(20, 5, 6, image_size=13, channels=3, num_classes=4, seed=3).fingerprint != a.fingerprint


def test_classes_are_separable_by_their_patch():
    s = load_synthetic(400, 10, 10, image_size=16, channels=1, num_classes=5, seed=0)
    means = np.stack([s.x_train[s.y_train == k].mean(0).ravel() for k in range(5)])
    predicted = np.argmin(((s.x_train.reshape(400, -1)[:, None] - means[None]) ** 2).sum(-1), axis=1)
    assert np.mean(predicted == s.y_train) > 0.95  # nearest class mean separates them


@pytest.mark.parametrize("size, classes", [(4, 2), (4, 9), (8, 10), (28, 10), (32, 100)])
def test_every_class_gets_its_own_patch(size, classes):
    positions = _patch_positions(size, classes)
    assert len(set(positions)) == classes
    assert all(top + side <= size and left + side <= size for top, left, side in positions)


@pytest.mark.parametrize(
    "field, value",
    [("num_train", 0), ("num_val", -1), ("image_size", 2), ("num_classes", 1), ("channels", 0), ("num_test", 1.5)],
)
def test_invalid_settings_are_refused(field, value):
    with pytest.raises(ConfigError, match=f"data.{field} must be an integer ≥"):
        load_synthetic(**{field: value})


def test_too_many_classes_for_the_image_size_is_refused():
    with pytest.raises(ConfigError, match="data.image_size=4 leaves no room for 100"):
        load_synthetic(image_size=4, num_classes=100)
