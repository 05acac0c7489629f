"""Split helpers: seeded, disjoint, subset recorded in the fingerprint."""

from __future__ import annotations

import numpy as np
import pytest

from src.data import load_splits
from src.data.splits import split_train_val
from src.errors import ConfigError

SYNTH = {"name": "synthetic", "num_train": 50, "num_val": 5, "num_test": 5, "image_size": 8, "channels": 1, "num_classes": 3}


def test_split_is_seeded_disjoint_and_complete():
    t, v = split_train_val(100, 0.1, seed=0)
    assert len(v) == 10 and len(t) == 90 and not set(t) & set(v) and set(t) | set(v) == set(range(100))
    assert np.array_equal(split_train_val(100, 0.1, 0)[1], v)
    assert not np.array_equal(split_train_val(100, 0.1, 1)[1], v)


def test_train_subset_is_at_most_n_and_seeded():
    full = load_splits(SYNTH)
    sub = load_splits({**SYNTH, "train_subset": 20})
    assert len(sub.x_train) == 20 and len(sub.x_val) == 5 and sub.fingerprint != full.fingerprint
    assert load_splits({**SYNTH, "train_subset": 20}).fingerprint == sub.fingerprint
    assert load_splits({**SYNTH, "train_subset": 500}).fingerprint == full.fingerprint  # at most: no-op
    with pytest.raises(ConfigError, match="train_subset"):
        load_splits({**SYNTH, "train_subset": 0})


def test_unknown_data_set_name():
    with pytest.raises(ConfigError, match="Did you mean 'synthetic'"):
        load_splits({"name": "synthetc"})
