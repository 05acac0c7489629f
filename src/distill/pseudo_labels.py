"""From a teacher's predictions under several transforms to hard pseudo-labels (Data Distillation §3.1-3.2).

Ensembling: the predictions of all transforms are averaged as probabilities (the paper averages keypoint
heat-maps), as logits, or combined by majority vote. The paper keeps hard labels of the same type as the
ground truth, above a score threshold chosen so that "the average number of annotations per unlabelled
image equals that of labelled images"; its classification counterpart here (`class_proportional_mask`)
keeps, per predicted class, the most confident images in numbers proportional to the labelled class
frequencies, as many in total as every class can fill.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from src.errors import ConfigError

ENSEMBLES = ("mean_prob", "mean_logit", "vote")


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def ensemble(logits: np.ndarray, method: str = "mean_prob") -> tuple[np.ndarray, np.ndarray]:
    """(labels, scores) from per-transform logits of shape (T, N, C).

    mean_prob / mean_logit: argmax and max of the averaged probabilities (of the averaged logits);
    vote: the most frequent per-transform argmax (ties go to the higher mean probability), scored by its vote share."""
    if logits.ndim != 3:
        raise ValueError(f"expected logits of shape (transforms, images, classes), got {logits.shape}")
    if method == "mean_prob":
        probs = softmax(logits).mean(axis=0)
        return probs.argmax(-1), probs.max(-1)
    if method == "mean_logit":
        probs = softmax(logits.mean(axis=0))
        return probs.argmax(-1), probs.max(-1)
    if method == "vote":
        t, _, c = logits.shape
        votes = np.stack([np.bincount(row, minlength=c) for row in logits.argmax(-1).T])  # (N, C)
        tie_break = softmax(logits).mean(axis=0) * 1e-3  # < one vote
        labels = (votes + tie_break).argmax(-1)
        return labels, votes[np.arange(len(labels)), labels] / t
    raise ConfigError(f"distill.ensemble={method!r} is unknown; use one of {list(ENSEMBLES)}.")


def fixed_threshold_mask(scores: np.ndarray, threshold: float) -> np.ndarray:
    if not 0.0 <= threshold <= 1.0:
        raise ConfigError(f"a fixed pseudo-label threshold must lie in [0, 1], got {threshold}.")
    return scores >= threshold


def class_proportional_mask(
    labels: np.ndarray, scores: np.ndarray, class_frequencies: Sequence[float], min_score: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """(mask, per-class score thresholds): keep the top ``q_c`` scores among images predicted as class c,
    with ``q_c = round(f_c · K)`` and K the largest total every class can fill (K = min_c n_c / f_c over the
    n_c candidates of class c scoring at least ``min_score``). A class the teacher never predicts (n_c = 0)
    cannot be filled at any K and is left out of the minimum, so it does not empty every other class;
    classes with frequency 0 keep nothing."""
    freq = np.asarray(class_frequencies, dtype=np.float64)
    if freq.min() < 0 or freq.sum() <= 0:
        raise ValueError(f"class frequencies must be non-negative with a positive sum, got {freq}")
    freq = freq / freq.sum()
    eligible = scores >= min_score
    counts = np.bincount(labels[eligible], minlength=len(freq))[: len(freq)]
    present = (freq > 0) & (counts > 0)
    if not present.any():
        return np.zeros(len(labels), dtype=bool), np.full(len(freq), np.inf)
    total = float(np.min(counts[present] / freq[present]))
    mask = np.zeros(len(labels), dtype=bool)
    thresholds = np.full(len(freq), np.inf)
    for c in np.flatnonzero(present):
        quota = int(round(freq[c] * total))
        members = np.flatnonzero(eligible & (labels == c))
        if quota == 0 or len(members) == 0:
            continue
        top = members[np.argsort(-scores[members], kind="stable")[: min(quota, len(members))]]
        mask[top] = True
        thresholds[c] = float(scores[top].min())
    return mask, thresholds


@dataclass(frozen=True)
class PseudoLabelStats:
    """Count, coverage and precision of kept pseudo-labels, overall and per class (precision needs the
    hidden labels, which only this report reads)."""

    count: int
    coverage: float
    precision: float
    per_class_count: np.ndarray
    per_class_precision: np.ndarray
    per_class_recall: np.ndarray  # kept-and-correct / hidden members of the class

    def as_metrics(self, prefix: str) -> dict[str, float]:
        metrics = {f"{prefix}.pseudo_count": float(self.count), f"{prefix}.pseudo_coverage": self.coverage,
                   f"{prefix}.pseudo_precision": self.precision}
        for c, (n, p) in enumerate(zip(self.per_class_count, self.per_class_precision)):
            metrics[f"{prefix}.class{c}.pseudo_count"] = float(n)
            if np.isfinite(p):
                metrics[f"{prefix}.class{c}.pseudo_precision"] = float(p)
        return metrics


def pseudo_label_stats(labels: np.ndarray, mask: np.ndarray, hidden: np.ndarray, num_classes: int) -> PseudoLabelStats:
    kept, correct = labels[mask], labels[mask] == hidden[mask]
    per_count = np.bincount(kept, minlength=num_classes)
    per_correct = np.bincount(kept[correct], minlength=num_classes)
    members = np.bincount(hidden, minlength=num_classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_precision = np.where(per_count > 0, per_correct / per_count, np.nan)
        per_recall = np.where(members > 0, per_correct / members, np.nan)
    return PseudoLabelStats(
        count=int(mask.sum()), coverage=float(mask.mean()) if len(mask) else 0.0,
        precision=float(correct.mean()) if len(kept) else float("nan"),
        per_class_count=per_count, per_class_precision=per_precision, per_class_recall=per_recall,
    )


def precision_coverage_curve(labels: np.ndarray, scores: np.ndarray, hidden: np.ndarray,
                             thresholds: Sequence[float]) -> list[tuple[float, float, float]]:
    """(threshold, coverage, precision) of fixed thresholds: the pseudo-label precision vs threshold plot."""
    rows = []
    for t in thresholds:
        mask = scores >= t
        precision = float((labels[mask] == hidden[mask]).mean()) if mask.any() else float("nan")
        rows.append((float(t), float(mask.mean()), precision))
    return rows
