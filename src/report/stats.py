"""The statistics of our reports: comparing two methods' test accuracies over seeds, and a verdict per claim.

Paired t-test when the seeds pair the runs (same labelled split and teacher, as in data distillation),
Welch's t-test when they do not (different networks trained with the same seeds); two-sided, α = 0.05.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

ALPHA = 0.05


@dataclass(frozen=True)
class Comparison:
    """A − B: mean difference, its spread, sample sizes, p-value and the test used (nan p: too few seeds)."""

    mean_diff: float
    std: float  # std of the paired differences, or the standard error of the difference (Welch)
    n_a: int
    n_b: int
    p: float
    test: str

    def verdict(self) -> str:
        return verdict(self.mean_diff, self.p, min(self.n_a, self.n_b))


def paired(a: dict[int, float], b: dict[int, float]) -> Comparison:
    """Paired t-test over the seeds both have."""
    seeds = sorted(set(a) & set(b))
    diffs = [a[s] - b[s] for s in seeds]
    n = len(diffs)
    if n < 2:
        return Comparison(diffs[0] if diffs else math.nan, math.nan, n, n, math.nan, "paired t-test")
    mean, std = statistics.fmean(diffs), statistics.stdev(diffs)
    if std == 0:
        return Comparison(mean, std, n, n, 0.0 if mean else 1.0, "paired t-test")
    from scipy import stats

    p = float(stats.ttest_rel([a[s] for s in seeds], [b[s] for s in seeds]).pvalue)
    return Comparison(mean, std, n, n, p, "paired t-test")


def welch(a: list[float], b: list[float]) -> Comparison:
    """Welch's unequal-variance t-test of mean(a) − mean(b)."""
    if len(a) < 2 or len(b) < 2:
        diff = (statistics.fmean(a) - statistics.fmean(b)) if a and b else math.nan
        return Comparison(diff, math.nan, len(a), len(b), math.nan, "Welch's t-test")
    diff = statistics.fmean(a) - statistics.fmean(b)
    se = math.sqrt(statistics.variance(a) / len(a) + statistics.variance(b) / len(b))
    if se == 0:
        return Comparison(diff, se, len(a), len(b), 0.0 if diff else 1.0, "Welch's t-test")
    from scipy import stats

    p = float(stats.ttest_ind(a, b, equal_var=False).pvalue)
    return Comparison(diff, se, len(a), len(b), p, "Welch's t-test")


def verdict(mean: float, p: float, n: int) -> str:
    """"yes" (A better, significant), "no (the opposite holds)" (B better, significant), else inconclusive."""
    if not math.isfinite(p):
        return f"inconclusive (only {n} seed{'s' if n != 1 else ''} per side)"
    if p < ALPHA:
        return "yes" if mean > 0 else "no (the opposite holds)"
    return f"inconclusive at {n} seeds"


def mean_std(values: list[float], digits: int = 4) -> str:
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.fmean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"
