"""Fixed magnitude masks (DSD's sparse phase): pruned weights are the smallest, stay exactly zero through
training, and a resumed model gets the same mask back."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from src.errors import ConfigError
from src.models import build_model
from src.train.sparsity import apply_fixed_masks, kernel_sparsity, magnitude_mask, prunable_kernels


def test_the_mask_prunes_the_smallest_magnitudes_in_the_asked_number():
    values = np.array([[0.3, -0.1, 2.0], [-0.05, 0.7, -1.5]])
    mask = magnitude_mask(values, 0.5)
    np.testing.assert_array_equal(mask, [[0, 0, 1], [0, 1, 1]])
    assert magnitude_mask(np.arange(1000.0), 0.37).sum() == 630


def _model():
    keras.utils.set_random_seed(0)
    return build_model("resnet20", input_shape=(16, 16, 1), classes=4)


def test_pruned_weights_stay_zero_through_training_and_the_rest_learns():
    model = _model()
    kept = apply_fixed_masks(model, 0.6)
    assert len(kept) == len(prunable_kernels(model)) == 20  # 19 convs + the classifier
    assert all(v == pytest.approx(0.4, abs=0.02) for v in kept.values())
    before = [keras.ops.convert_to_numpy(v).copy() for v in prunable_kernels(model)]
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9), loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(0).normal(size=(64, 16, 16, 1)).astype("float32")
    model.fit(x, np.arange(64) % 4, epochs=2, batch_size=16, verbose=0)
    for old, variable in zip(before, prunable_kernels(model)):
        new = keras.ops.convert_to_numpy(variable)
        assert np.all(new[old == 0] == 0)  # momentum does not revive a pruned weight
        assert np.any(new[old != 0] != old[old != 0])
    assert kernel_sparsity(model) == pytest.approx(0.6, abs=0.02)


def test_re_applying_to_a_pruned_model_keeps_the_same_mask():
    model = _model()
    apply_fixed_masks(model, 0.5)
    zeros = [keras.ops.convert_to_numpy(v) == 0 for v in prunable_kernels(model)]
    apply_fixed_masks(model, 0.5)  # what a resumed sparse phase does with its restored weights
    for z, variable in zip(zeros, prunable_kernels(model)):
        np.testing.assert_array_equal(z, keras.ops.convert_to_numpy(variable) == 0)


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.2, 1.5])
def test_a_sparsity_outside_the_open_unit_interval_is_refused(bad):
    with pytest.raises(ConfigError, match="train.sparsity"):
        apply_fixed_masks(_model(), bad)
