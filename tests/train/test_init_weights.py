"""train.init_weights: a job starts from another job's weights (fine-tuning; the distillation student's
init=teacher), and refuses a model of another architecture."""

from __future__ import annotations

import numpy as np
import pytest

from src.errors import ConfigError
from src.models.saving import load_model
from src.train import train
from tests.helpers.config import TINY_JOB, compose_config


def test_a_job_starts_from_the_given_weights(tmp_path):
    train(compose_config(TINY_JOB, tmp_path / "first"))
    source = tmp_path / "first" / "model.keras"
    # A learning rate of ~0: the trainable weights stay where they started (BN statistics still move).
    second = compose_config([*TINY_JOB, f"train.init_weights={source}", "train.learning_rate=1e-12", "train.epochs=1"],
                            tmp_path / "second")
    train(second)
    before = load_model(source, compile=False)
    after = load_model(tmp_path / "second" / "model.keras", compile=False)
    for a, b in zip(before.trainable_weights, after.trainable_weights):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-6)
    fresh = compose_config([*TINY_JOB, "train.learning_rate=1e-12", "train.epochs=1", "seed=7"], tmp_path / "fresh")
    train(fresh)
    other = load_model(tmp_path / "fresh" / "model.keras", compile=False)
    assert not np.allclose(np.asarray(before.trainable_weights[0]), np.asarray(other.trainable_weights[0]))


def test_weights_of_another_architecture_are_refused(tmp_path):
    train(compose_config(TINY_JOB, tmp_path / "first"))
    other = [o if o != "model=resnet20" else "model=resnet32" for o in TINY_JOB]
    with pytest.raises(ConfigError, match="different architecture"):
        train(compose_config([*other, f"train.init_weights={tmp_path / 'first' / 'model.keras'}"], tmp_path / "b"))
