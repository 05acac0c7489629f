"""Each verdict of src/report/verdict.py, from comparisons built with known Δ, SE and df."""

from __future__ import annotations

import math

import pytest

from src.report.stats import Comparison
from src.report.verdict import Evidence, Expectation, judge


def _c(diff: float, se: float = 0.002, df: float = 4, n: int = 3) -> Comparison:
    return Comparison(diff, se, df, n, n, "Welch's t-test")


def test_expectation_scales_the_papers_relative_gain_to_this_runs_error():
    se = Expectation(22.28, 23.30, "SENet Table 10")
    assert se.relative == pytest.approx(0.04378, abs=1e-5)
    assert se.at(0.8917) == pytest.approx(0.04378 * 0.1083, rel=1e-3)  # ≈ 0.47 pp, the audit's figure
    assert Expectation(42.3, 45.1, "", per=3).at(0.80) == pytest.approx((2.8 / 45.1) * 0.2 / 3)


def test_better_claims():
    assert judge(_c(0.02), "better", p_holm=0.001, expected=0.01) == "reproduced"
    assert judge(_c(-0.02), "better", p_holm=0.001, expected=0.01) == "opposite holds"
    # Δ = 0 ± 0.0056 (t(4) 2.776 × 0.002): the interval lies below an expected +1 pp
    assert judge(_c(0.0), "better", p_holm=1.0, expected=0.01).startswith("paper-size effect ruled out")
    # the same design cannot exclude +0.5 pp, and its MDD80 (noncentrality 3.75 on 4 df × 0.2 pp) exceeds it
    assert judge(_c(0.0), "better", p_holm=1.0, expected=0.005) == "inconclusive: MDD80 0.75 pp > expected 0.50 pp"
    assert "no expected effect declared" in judge(_c(0.0), "better", p_holm=1.0)
    assert "still holds the expected" in judge(_c(0.006), "better", p_holm=0.09, expected=0.009)


def test_zero_spread_and_single_seeds_are_inconclusive_never_a_yes():
    assert "no spread" in judge(_c(0.01, se=0.0, df=math.nan), "better", p_holm=math.nan, expected=0.005)
    assert judge(Comparison(0.01, math.nan, math.nan, 1, 1, "paired t-test"), "better", math.nan) == \
        "inconclusive: only 1 seed per side"


def test_alike_claims_need_a_margin_and_tost():
    e = Evidence(_c(0.0005, se=0.001, df=10), "similar", margin=0.005)
    assert e.family_p == pytest.approx(e.c.tost(0.005)) and e.family_p < 0.001
    assert judge(e.c, "similar", math.nan, margin=0.005, tost_holm=e.family_p) == "equivalent within ±0.50 pp (TOST)"
    assert judge(_c(0.03), "similar", math.nan, margin=0.005, tost_holm=1.0).startswith("opposite holds: they differ")
    assert judge(_c(0.0), "similar", math.nan, margin=0.005, tost_holm=0.3).startswith("inconclusive: MDD80")
    with pytest.raises(ValueError, match="margin"):
        judge(_c(0.0), "similar", math.nan)
