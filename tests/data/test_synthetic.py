"""Synthetic data: seeded, any shape, learnable, validated."""

from __future__ import annotations

import numpy as np
import pytest

from src.data.synthetic import load_synthetic
from src.errors import ConfigError


def test_shapes_dtypes_and_determinism():
    a = load_synthetic(20, 5, 6, image_size=12, channels=3, num_classes=4, seed=3)
    assert a.x_train.shape == (20, 12, 12, 3) and a.x_train.dtype == np.uint8
    assert a.y_val.shape == (5,) and a.y_val.dtype == np.int64 and a.x_test.shape[0] == 6
    assert a.class_names == ("class_0", "class_1", "class_2", "class_3")
    b = load_synthetic(20, 5, 6, image_size=12, channels=3, num_classes=4, seed=3)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    assert a.fingerprint == b.fingerprint
    c = load_synthetic(20, 5, 6, image_size=12, channels=3, num_classes=4, seed=4)
    assert not np.array_equal(a.x_train, c.x_train) and a.fingerprint != c.fingerprint


def test_classes_are_separable_by_their_patch():
    s = load_synthetic(400, 10, 10, image_size=16, channels=1, num_classes=5, seed=0)
    means = np.stack([s.x_train[s.y_train == k].mean(0).ravel() for k in range(5)])
    predicted = np.argmin(((s.x_train.reshape(400, -1)[:, None] - means[None]) ** 2).sum(-1), axis=1)
    assert np.mean(predicted == s.y_train) > 0.95  # nearest class mean separates them


@pytest.mark.parametrize("field, value", [("num_train", 0), ("image_size", 2), ("num_classes", 1), ("channels", 0)])
def test_invalid_settings_are_refused(field, value):
    with pytest.raises(ConfigError, match=f"data.{field}"):
        load_synthetic(**{field: value})
