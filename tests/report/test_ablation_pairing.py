"""The paired claims' arms really share their initial weights per seed (src/report/ablation_specs.py:
a claim with ``paired`` set is tested seed by seed). Data order and augmentation are seeded by the run's
seed alone (src/data/pipeline.py), so equal weights make the pair."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from src.models import build_model
from src.report.ablation_specs import SPECS

#: (experiment, claim number) -> the two arms' (model, input shape, knobs) at CPU scale.
ARMS = {
    ("shufflenet_groups", 2): [("shufflenet_v1", (28, 28, 1), dict(groups=3, width_multiplier=0.5, stem="small", shuffle=s))
                               for s in (True, False)],
    ("shufflenet_groups", 3): [("shufflenet_v1", (28, 28, 1), dict(groups=8, width_multiplier=0.5, stem="small", shuffle=s))
                               for s in (True, False)],
    ("mobilenet_alpha_rho", 2): [("mobilenet_v1", (size, size, 1), dict(stem="small")) for size in (28, 16)],
    ("se_placement", 1): [("resnet20", (28, 28, 1), dict(se_position=p)) for p in ("standard", "post")],
    ("se_placement", 3): [("resnet20", (28, 28, 1), dict(se_position=p)) for p in ("identity", "standard")],
}


def _initial_weights(model: str, shape: tuple[int, int, int], knobs: dict) -> dict[str, np.ndarray]:
    keras.utils.set_random_seed(1)  # what src/train/loop.py's seed_everything does first
    return {v.path: v.numpy() for v in build_model(model, input_shape=shape, classes=10, **knobs).weights}


def test_every_paired_claim_is_checked_here():
    declared = {(name, i) for name, spec in SPECS.items() for i, claim in enumerate(spec.claims) if claim.paired}
    assert declared == set(ARMS)


@pytest.mark.parametrize("key", sorted(ARMS))
def test_paired_arms_start_from_the_same_weights(key):
    a, b = (_initial_weights(*arm) for arm in ARMS[key])
    assert a.keys() == b.keys()
    assert all(np.array_equal(a[name], b[name]) for name in a), f"{key}: the arms' initial weights differ"


def test_an_arm_with_other_layers_does_not_share_them():
    """SE-PRE builds its SE on the block input: other shapes, so its claim is not paired."""
    a = _initial_weights("resnet20", (28, 28, 1), dict(se_position="standard"))
    b = _initial_weights("resnet20", (28, 28, 1), dict(se_position="pre"))
    assert any(a[n].shape != b[n].shape for n in a.keys() & b.keys())
    assert not SPECS["se_placement"].claims[2].paired
