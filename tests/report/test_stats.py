"""Paired and Welch comparisons and the verdicts the reports print (src/report/stats.py)."""

from __future__ import annotations

import math

import pytest

from src.report.stats import mean_std, paired, verdict, welch


def test_paired_test_and_verdicts():
    c = paired({1: 0.80, 2: 0.82, 3: 0.81}, {1: 0.78, 2: 0.795, 3: 0.788})
    assert c.n_a == 3 and c.mean_diff == pytest.approx(0.0223, abs=1e-3) and c.p < 0.05
    assert c.verdict() == "yes" and verdict(-c.mean_diff, c.p, 3) == "no (the opposite holds)"
    c = paired({1: 0.8, 2: 0.7, 3: 0.9}, {1: 0.75, 2: 0.8, 3: 0.85})
    assert c.p > 0.05 and c.verdict() == "inconclusive at 3 seeds"
    c = paired({1: 0.8}, {1: 0.7, 2: 0.7})
    assert c.n_a == 1 and math.isnan(c.p) and c.verdict() == "inconclusive (only 1 seed per side)"


def test_welch_matches_the_textbook_statistic():
    a, b = [0.90, 0.91, 0.92], [0.85, 0.87, 0.86, 0.88]
    c = welch(a, b)
    se = math.sqrt(0.0001 / 3 + (0.000166667) / 4)
    assert c.mean_diff == pytest.approx(0.91 - 0.865) and c.std == pytest.approx(se, rel=1e-3)
    # t = 0.045 / se ≈ 5.0 on ≈ 4.9 degrees of freedom: two-sided p ≈ 0.004
    assert 0.002 < c.p < 0.008 and c.verdict() == "yes"
    assert math.isnan(welch([0.9], b).p)


def test_mean_std_formatting():
    assert mean_std([]) == "–" and mean_std([0.5]) == "0.5000" and mean_std([0.5, 0.7]) == "0.6000 ± 0.1414"
