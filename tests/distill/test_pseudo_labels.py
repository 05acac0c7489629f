"""Ensembling, thresholds and pseudo-label statistics (src/distill/pseudo_labels.py)."""

from __future__ import annotations

import numpy as np
import pytest

from src.distill.pseudo_labels import (
    class_proportional_mask,
    ensemble,
    fixed_threshold_mask,
    precision_coverage_curve,
    pseudo_label_stats,
    softmax,
)
from src.errors import ConfigError


def test_mean_prob_averages_probabilities_not_logits():
    # transform 1 is very sure of class 0, transform 2 mildly prefers class 1
    logits = np.array([[[10.0, 0.0]], [[0.0, 1.0]]])
    labels, scores = ensemble(logits, "mean_prob")
    probs = softmax(logits).mean(0)[0]
    assert labels[0] == 0 and scores[0] == pytest.approx(probs.max())
    labels_logit, _ = ensemble(logits, "mean_logit")
    assert labels_logit[0] == 0


def test_vote_takes_the_majority_and_scores_the_vote_share():
    logits = np.array([[[2.0, 0, 0]], [[0, 2.0, 0]], [[0, 3.0, 0]]])
    labels, scores = ensemble(logits, "vote")
    assert labels[0] == 1 and scores[0] == pytest.approx(2 / 3)


def test_unknown_ensemble_is_a_config_error():
    with pytest.raises(ConfigError, match="mean_prob"):
        ensemble(np.zeros((1, 2, 3)), "median")


def test_class_proportional_heuristic_follows_the_labelled_frequencies():
    rng = np.random.default_rng(0)
    n = 10_000
    labels = rng.integers(0, 4, n)
    scores = rng.uniform(0, 1, n)
    # class 3 is predicted rarely: it limits the total
    labels[labels == 3] = rng.choice([0, 1, 2, 3], (labels == 3).sum(), p=[0.3, 0.3, 0.3, 0.1])
    freq = np.array([0.4, 0.3, 0.2, 0.1])
    mask, thresholds = class_proportional_mask(labels, scores, freq)
    kept = np.bincount(labels[mask], minlength=4)
    np.testing.assert_allclose(kept / kept.sum(), freq, atol=2e-3)
    assert kept[3] == (labels == 3).sum()  # the scarcest class is kept whole
    for c in range(4):  # each class keeps its most confident images
        assert scores[(labels == c) & mask].min() >= scores[(labels == c) & ~mask].max(initial=-1)
        assert thresholds[c] == pytest.approx(scores[(labels == c) & mask].min())


def test_class_proportional_heuristic_respects_the_score_floor_and_absent_classes():
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    scores = np.array([0.9, 0.8, 0.2, 0.1, 0.95, 0.85, 0.75, 0.3])
    mask, _ = class_proportional_mask(labels, scores, [0.5, 0.5, 0.0], min_score=0.5)
    np.testing.assert_array_equal(mask, [1, 1, 0, 0, 1, 1, 0, 0])
    # class 2 has labelled frequency > 0 but is never predicted: the others are still kept
    mask, _ = class_proportional_mask(labels, scores, [0.25, 0.25, 0.5])
    assert mask.sum() == 8


def test_fixed_threshold_and_its_bounds():
    np.testing.assert_array_equal(fixed_threshold_mask(np.array([0.5, 0.9, 0.95]), 0.9), [False, True, True])
    with pytest.raises(ConfigError):
        fixed_threshold_mask(np.array([0.5]), 1.5)


def test_stats_count_precision_and_recall_against_hidden_labels():
    labels = np.array([0, 0, 1, 1, 2])
    hidden = np.array([0, 1, 1, 1, 0])
    mask = np.array([True, True, True, False, False])
    stats = pseudo_label_stats(labels, mask, hidden, 3)
    assert stats.count == 3 and stats.coverage == pytest.approx(0.6) and stats.precision == pytest.approx(2 / 3)
    np.testing.assert_array_equal(stats.per_class_count, [2, 1, 0])
    np.testing.assert_allclose(stats.per_class_precision[:2], [0.5, 1.0])
    assert np.isnan(stats.per_class_precision[2])
    np.testing.assert_allclose(stats.per_class_recall, [0.5, 1 / 3, np.nan])
    curve = precision_coverage_curve(labels, np.array([0.9, 0.6, 0.8, 0.4, 0.99]), hidden, [0.5, 0.95])
    assert curve[0] == (0.5, 0.8, pytest.approx(0.5)) and curve[1][1] == pytest.approx(0.2)
