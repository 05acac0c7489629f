"""The reports' statistics against textbook values and the libraries' own tests (src/report/stats.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.weightstats import ttost_ind, ttost_paired

from src.report.stats import (
    holm,
    homogeneity_p,
    mdd,
    mean_std,
    paired,
    pooled,
    pooled_sd,
    seeds_needed,
    seeds_needed_equivalence,
    trend,
    welch,
)

A, B = [0.90, 0.91, 0.92], [0.85, 0.87, 0.86, 0.88]


def test_welch_matches_the_textbook_statistic_and_scipy():
    c = welch(A, B)
    se = math.sqrt(0.0001 / 3 + 0.000166667 / 4)
    assert c.mean_diff == pytest.approx(0.045) and c.se == pytest.approx(se, rel=1e-3)
    # Welch–Satterthwaite: (s1²/n1 + s2²/n2)² / Σ (s²/n)² / (n − 1) = 4.96
    assert c.df == pytest.approx(4.959, abs=1e-3)
    assert c.p == pytest.approx(sps.ttest_ind(A, B, equal_var=False).pvalue, rel=1e-9)
    low, high = c.interval()
    t975 = sps.t.ppf(0.975, c.df)
    assert (low, high) == pytest.approx((0.045 - t975 * se, 0.045 + t975 * se), rel=1e-3)


def test_paired_matches_scipy_and_needs_two_seeds():
    a, b = {1: 0.80, 2: 0.82, 3: 0.81}, {1: 0.78, 2: 0.795, 3: 0.788}
    c = paired(a, b)
    assert c.n_a == 3 and c.df == 2 and c.mean_diff == pytest.approx(0.0223, abs=1e-3)
    assert c.p == pytest.approx(sps.ttest_rel([0.80, 0.82, 0.81], [0.78, 0.795, 0.788]).pvalue, rel=1e-9)
    single = paired({1: 0.8}, {1: 0.7, 2: 0.7})
    assert single.n_a == 1 and math.isnan(single.p) and math.isnan(single.mdd80)


def test_zero_spread_gives_no_p_instead_of_a_certain_yes():
    c = paired({1: 0.9, 2: 0.9, 3: 0.9}, {1: 0.8, 2: 0.8, 3: 0.8})  # a constant gap: no seed noise to test against
    assert not c.testable and math.isnan(c.p) and math.isnan(c.tost(0.5)) and all(map(math.isnan, c.interval()))
    assert math.isnan(welch([0.9, 0.9], [0.8, 0.8]).p)


def test_tost_matches_statsmodels_for_each_design():
    assert welch(A, B).tost(0.03) == pytest.approx(ttost_ind(np.array(A), np.array(B), -0.03, 0.03, usevar="unequal")[0])
    sd, df = pooled_sd([A, B])  # pooled over just these two arms: Student's test
    assert df == 5
    assert pooled(A, B, sd, df).tost(0.06) == pytest.approx(ttost_ind(np.array(A), np.array(B), -0.06, 0.06)[0])
    x, y = [0.80, 0.82, 0.81, 0.79], [0.78, 0.795, 0.788, 0.785]
    c = paired(dict(enumerate(x)), dict(enumerate(y)))
    assert c.tost(0.03) == pytest.approx(ttost_paired(np.array(x), np.array(y), -0.03, 0.03)[0])
    assert c.tost(0.03) < 0.05 < c.tost(0.02)  # a wider margin is easier to show


def test_pooled_sd_is_the_one_way_anova_residual():
    groups = [[1.0, 2.0, 3.0], [2.0, 4.0], [5.0, 5.0, 8.0]]
    # SS within = 2 + 2 + 6 = 10 on 2 + 1 + 2 = 5 df
    assert pooled_sd(groups) == (pytest.approx(math.sqrt(2.0)), 5)
    assert homogeneity_p(groups) == pytest.approx(sps.levene(*groups, center="median").pvalue)


def test_holm_matches_the_textbook_step_down():
    # sorted 0.005, 0.01, 0.03, 0.04 × 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04 → monotone: 0.02, 0.03, 0.06, 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.01, math.nan]) == [pytest.approx(0.01), pytest.approx(math.nan, nan_ok=True)]


def test_power_matches_cohens_tables():
    # Cohen (1988), Table 2.4.1: d = 0.5, α = 0.05 two-sided, power 0.8 → 64 per group; one-sample/paired: 34
    assert seeds_needed(0.5, 1.0, paired_design=False) == 64
    assert seeds_needed(0.5, 1.0, paired_design=True) == 34
    assert seeds_needed(1.0, 1.0, paired_design=False) == 17
    # and the MDD80 of that 64-per-arm design is d = 0.5 again
    assert mdd(math.sqrt(2 / 64), 126) == pytest.approx(0.5, abs=0.002)
    # TOST at Δ = 0: n = 2 (z_0.95 + z_0.9)² / (m/σ)² = 68.5 by the normal formula; the t-based answer is 70
    assert seeds_needed_equivalence(0.5, 1.0, paired_design=False) == 70
    # a design with few df needs a larger difference: df = 2 with SE 1 needs a noncentrality near 6.2
    assert 5.5 < mdd(1.0, 2) < 7.0 and mdd(1.0, 2) > mdd(1.0, 20)


def test_trend_matches_the_least_squares_line():
    x, y = [0, 0, 1, 1, 2, 2], [1.0, 1.2, 2.1, 1.9, 3.0, 3.2]
    t, ref = trend(x, y), sps.linregress(x, y)
    assert t.slope == pytest.approx(1.0) and t.se == pytest.approx(ref.stderr) and t.df == 4
    assert t.as_comparison().p == pytest.approx(ref.pvalue)
    assert math.isnan(trend([1, 1, 1], [1, 2, 3]).slope)


def test_mean_std_formatting():
    assert mean_std([]) == "–" and mean_std([0.5]) == "0.5000" and mean_std([0.5, 0.7]) == "0.6000 ± 0.1414"
