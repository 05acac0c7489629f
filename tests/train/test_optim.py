"""Learning-rate schedules and the smoothed loss."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from src.errors import ConfigError
from src.train.optim import SparseSmoothedCrossEntropy, WarmupSchedule, build_optimizer, effective_learning_rate


def lr(schedule, step):
    return float(keras.ops.convert_to_numpy(schedule(step)))


def test_cosine_with_warmup():
    s = WarmupSchedule(0.1, total_steps=100, warmup_steps=10, kind="cosine")
    assert lr(s, 0) == pytest.approx(0.01)
    assert lr(s, 9) == pytest.approx(0.1)
    assert lr(s, 10) == pytest.approx(0.1)
    assert lr(s, 55) == pytest.approx(0.05, abs=1e-6)
    assert lr(s, 100) == pytest.approx(0.0, abs=1e-7)


def test_step_schedule():
    s = WarmupSchedule(0.1, total_steps=100, kind="step", milestones=[50, 75], gamma=0.1)
    assert [lr(s, t) for t in (0, 49, 50, 74, 75, 99)] == pytest.approx([0.1, 0.1, 0.01, 0.01, 0.001, 0.001])


def test_schedule_round_trips_through_config():
    s = WarmupSchedule(0.2, 10, 2, "step", [5], 0.5)
    t = WarmupSchedule.from_config(s.get_config())
    assert [lr(s, i) for i in range(10)] == [lr(t, i) for i in range(10)]


def test_linear_scaling_and_bad_values():
    cfg = {"learning_rate": 0.1, "base_batch_size": 128, "epochs": 2, "schedule": "cosine"}
    assert effective_learning_rate(cfg, 256) == pytest.approx(0.2)
    with pytest.raises(ConfigError, match="schedule"):
        build_optimizer({**cfg, "schedule": "exp"}, 10, 128)
    with pytest.raises(ConfigError, match="learning_rate"):
        build_optimizer({**cfg, "learning_rate": 0.0}, 10, 128)


def test_smoothed_loss_matches_the_formula():
    logits = np.array([[2.0, 0.0, -1.0]], np.float32)
    p = np.exp(logits) / np.exp(logits).sum()
    eps = 0.3
    target = np.full(3, eps / 3) + np.eye(3)[0] * (1 - eps)
    expected = -(target * np.log(p)).sum()
    got = float(SparseSmoothedCrossEntropy(eps)(np.array([0]), logits))
    assert got == pytest.approx(expected, rel=1e-5)
    plain = float(SparseSmoothedCrossEntropy(0.0)(np.array([0]), logits))
    assert plain == pytest.approx(-np.log(p[0, 0]), rel=1e-5)
