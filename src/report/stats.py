"""The statistics of our reports: a difference between two arms over seeds (Δ, standard error, degrees of
freedom), its 95 % interval and two-sided p, two one-sided tests (TOST) against a margin, a trend over an
ordered factor (OLS), the smallest difference a design detects with 80 % power (MDD80), the seeds a
design needs, and Holm's correction of a family of tests.

Three designs give (Δ, SE, df): ``paired`` (arms share initial weights and data order per seed),
``welch`` (independent arms, unequal variances) and ``pooled`` (independent arms, the residual variance
of every point of the experiment, when a homogeneity test allows). p, interval and TOST come from the t
distribution with those (SE, df); the unit tests check them against scipy's t-tests and statsmodels'
``ttost_ind`` / ``ttost_paired``. Power is statsmodels' (``TTestPower``, ``TTestIndPower``), Holm is
``multipletests``, the trend is ``OLS``. Zero spread between seeds gives no p (nan), never p = 0.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

ALPHA = 0.05
POWER = 0.8


@dataclass(frozen=True)
class Comparison:
    """A − B over seeds: Δ, its standard error and degrees of freedom (nan when too few seeds or no
    spread), sample sizes and the test's name."""

    mean_diff: float
    se: float
    df: float
    n_a: int
    n_b: int
    test: str

    @property
    def testable(self) -> bool:
        return math.isfinite(self.se) and self.se > 0 and math.isfinite(self.df) and self.df > 0

    @property
    def p(self) -> float:
        """Two-sided p of Δ = 0 (nan if not testable)."""
        if not self.testable:
            return math.nan
        from scipy import stats

        return float(2 * stats.t.sf(abs(self.mean_diff) / self.se, self.df))

    def interval(self, level: float = 0.95) -> tuple[float, float]:
        if not self.testable:
            return math.nan, math.nan
        from scipy import stats

        half = float(stats.t.ppf(0.5 + level / 2, self.df)) * self.se
        return self.mean_diff - half, self.mean_diff + half

    def tost(self, margin: float) -> float:
        """p of two one-sided tests that |Δ| < margin (the larger of the two one-sided p's)."""
        if not self.testable:
            return math.nan
        from scipy import stats

        lower = stats.t.sf((self.mean_diff + margin) / self.se, self.df)
        upper = stats.t.cdf((self.mean_diff - margin) / self.se, self.df)
        return float(max(lower, upper))

    @property
    def paired_design(self) -> bool:
        return self.test.startswith("paired")

    @property
    def sd(self) -> float:
        """The per-seed SD behind the SE: of the paired differences, or of one arm's runs."""
        if not self.testable:
            return math.nan
        if self.paired_design:
            return self.se * math.sqrt(self.n_a)
        return self.se / math.sqrt(1 / self.n_a + 1 / self.n_b)

    @property
    def mdd80(self) -> float:
        """The smallest |Δ| this design detects with 80 % power at α = 0.05, two-sided."""
        return mdd(self.se, self.df)


def paired(a: dict, b: dict) -> Comparison:
    """Paired differences over the seeds both arms have (same initial weights and data order per seed)."""
    seeds = sorted(set(a) & set(b), key=str)
    diffs = [a[s] - b[s] for s in seeds]
    n = len(diffs)
    mean = statistics.fmean(diffs) if diffs else math.nan
    if n < 2:
        return Comparison(mean, math.nan, math.nan, n, n, "paired t-test")
    return Comparison(mean, statistics.stdev(diffs) / math.sqrt(n), n - 1, n, n, "paired t-test")


def welch(a: Sequence[float], b: Sequence[float]) -> Comparison:
    """Welch's unequal-variance comparison of mean(a) − mean(b) (Welch–Satterthwaite df)."""
    diff = statistics.fmean(a) - statistics.fmean(b) if len(a) and len(b) else math.nan
    if len(a) < 2 or len(b) < 2:
        return Comparison(diff, math.nan, math.nan, len(a), len(b), "Welch's t-test")
    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    se = math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1)) if se > 0 else math.nan
    return Comparison(diff, se, df, len(a), len(b), "Welch's t-test")


def pooled_sd(groups: Sequence[Sequence[float]]) -> tuple[float, int]:
    """(residual SD, its degrees of freedom) of a one-way layout: every group's deviations from its own mean."""
    used = [g for g in groups if len(g) >= 2]
    df = sum(len(g) - 1 for g in used)
    if not df:
        return math.nan, 0
    return math.sqrt(sum(statistics.variance(g) * (len(g) - 1) for g in used) / df), df


def pooled(a: Sequence[float], b: Sequence[float], sd: float, df: int) -> Comparison:
    """Student's comparison of mean(a) − mean(b) with a residual SD pooled over the experiment's points."""
    diff = statistics.fmean(a) - statistics.fmean(b) if len(a) and len(b) else math.nan
    se = sd * math.sqrt(1 / len(a) + 1 / len(b)) if len(a) and len(b) else math.nan
    return Comparison(diff, se, df, len(a), len(b), f"pooled t-test ({df} df)")


def homogeneity_p(groups: Sequence[Sequence[float]]) -> float:
    """p of Levene's test (Brown–Forsythe, median-centred) that all groups share one variance."""
    from scipy import stats

    used = [list(g) for g in groups if len(g) >= 2]
    if len(used) < 2 or all(statistics.variance(g) == 0 for g in used):
        return math.nan
    return float(stats.levene(*used, center="median").pvalue)


def mdd(se: float, df: float, alpha: float = ALPHA, power: float = POWER) -> float:
    """Smallest |Δ| a two-sided t-test with this standard error and df detects with the given power."""
    if not (math.isfinite(se) and se > 0 and math.isfinite(df) and df > 0):
        return math.nan
    from scipy.optimize import brentq
    from statsmodels.stats.power import TTestPower

    def short(ncp: float) -> float:  # TTestPower with nobs = 1 takes effect_size as the noncentrality Δ / SE
        value = TTestPower().power(ncp, nobs=1, alpha=alpha, df=df)
        return (1.0 if math.isnan(value) else value) - power  # nan: its integration fails far above the target

    high = 2.0
    while short(high) < 0:
        high *= 2
    ncp = brentq(short, 1e-6, high)
    return ncp * se


def seeds_needed(effect: float, sd: float, paired_design: bool, alpha: float = ALPHA, power: float = POWER) -> int:
    """Seeds per arm for the given power to detect ``effect`` (two-sided), given the seed SD (of the paired
    differences, or of one arm's runs)."""
    if not (math.isfinite(effect) and effect and math.isfinite(sd) and sd > 0):
        return 0
    from statsmodels.stats.power import TTestIndPower, TTestPower

    return _smallest_n(TTestPower() if paired_design else TTestIndPower(), abs(effect) / sd, alpha, power, "two-sided")


def seeds_needed_equivalence(margin: float, sd: float, paired_design: bool, alpha: float = ALPHA,
                             power: float = POWER) -> int:
    """Seeds per arm for TOST to show |Δ| < margin with the given power when the true Δ is 0: each one-sided
    test at α needs power 1 − (1 − power) / 2 (Chow, Shao & Wang, Sample Size Calculations, §3.2)."""
    if not (math.isfinite(margin) and margin > 0 and math.isfinite(sd) and sd > 0):
        return 0
    from statsmodels.stats.power import TTestIndPower, TTestPower

    return _smallest_n(TTestPower() if paired_design else TTestIndPower(), margin / sd, alpha, 1 - (1 - power) / 2,
                       "larger")


def _smallest_n(analysis, effect_size: float, alpha: float, power: float, alternative: str) -> int:
    """The smallest n ≥ 2 whose power reaches ``power`` (statsmodels' solver, checked at n = 2 first)."""
    achieved = analysis.power(effect_size, 2, alpha, alternative=alternative)
    if math.isnan(achieved) or achieved >= power:
        return 2
    n = analysis.solve_power(effect_size, None, alpha, power, alternative=alternative)  # n: 2nd positional
    return max(2, math.ceil(float(n)))


def seeds_needed_trend(slope: float, sd: float, x: Sequence[float], alpha: float = ALPHA, power: float = POWER,
                       most: int = 200) -> int:
    """Seeds per point for the given power to detect ``slope`` by OLS over the points ``x`` (one x each),
    given the residual SD of one run: SE(slope) = sd / sqrt(k · Σ(x − x̄)²) on k·len(x) − 2 df."""
    if not (math.isfinite(slope) and slope and math.isfinite(sd) and sd > 0 and len(set(x)) > 1):
        return 0
    from statsmodels.stats.power import TTestPower

    mean = statistics.fmean(x)
    sxx = sum((v - mean) ** 2 for v in x)
    for k in range(2, most + 1):
        ncp = abs(slope) / (sd / math.sqrt(k * sxx))
        achieved = TTestPower().power(ncp, nobs=1, alpha=alpha, df=k * len(x) - 2)
        if math.isnan(achieved) or achieved >= power:
            return k
    return most


@dataclass(frozen=True)
class Trend:
    """OLS slope of accuracy on an ordered factor (e.g. log2 α): per unit of x, with its SE and df."""

    slope: float
    se: float
    df: int
    n: int
    points: int
    sd: float = math.nan  # residual SD of one run

    def as_comparison(self) -> Comparison:
        return Comparison(self.slope, self.se, self.df, self.n, self.n, "OLS trend")


def trend(x: Sequence[float], y: Sequence[float]) -> Trend:
    """Least-squares line y = a + b·x over every run (one x per run)."""
    import numpy as np
    import statsmodels.api as sm

    points = len(set(x))
    if len(x) < 3 or points < 2:
        return Trend(math.nan, math.nan, 0, len(x), points)
    fit = sm.OLS(np.asarray(y, float), sm.add_constant(np.asarray(x, float))).fit()
    se = float(fit.bse[1])
    return Trend(float(fit.params[1]), se if se > 0 else math.nan, int(fit.df_resid), len(x), points,
                 math.sqrt(float(fit.mse_resid)))


def holm(ps: Sequence[float], alpha: float = ALPHA) -> list[float]:
    """Holm-adjusted p's of a family (nan p's stay nan and do not count in the family)."""
    from statsmodels.stats.multitest import multipletests

    finite = [i for i, p in enumerate(ps) if math.isfinite(p)]
    adjusted = [math.nan] * len(ps)
    if finite:
        for i, q in zip(finite, multipletests([ps[i] for i in finite], alpha=alpha, method="holm")[1]):
            adjusted[i] = float(q)
    return adjusted


def mean_std(values: list[float], digits: int = 4) -> str:
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.fmean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"
