"""A claim's verdict and the evidence its row prints: Δ with its 95 % interval, raw and Holm-corrected p,
the design's MDD80, the effect the claim expects at this scale (or, for "alike" claims, the declared
margin) with its source, and the seeds 80 % power would need.

Verdicts: **reproduced** (Holm p < 0.05, the claim's sign); **opposite holds** (Holm p < 0.05, the other
sign; for "alike" claims: they differ); **paper-size effect ruled out** (the 95 % interval lies below the
expected effect); **equivalent within ±m** (two one-sided tests against the margin, Holm p < 0.05; an
"alike" claim's opposite: the interval lies beyond ±m); else **inconclusive**, with the reason. Holm
corrects the claims of one report together: a "better" claim's t-test p, an "alike" claim's TOST p.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from src.report.stats import ALPHA, Comparison


@dataclass(frozen=True)
class Expectation:
    """A paper's effect as a relative error reduction (worse → better error, %), scaled to this run: the
    expected accuracy gain is (worse − better) / worse × the reference arm's error at this scale. ``per``
    divides it, e.g. into a slope per doubling over ``per`` doublings."""

    better_error: float
    worse_error: float
    source: str
    per: float = 1.0

    @property
    def relative(self) -> float:
        return (self.worse_error - self.better_error) / self.worse_error

    def at(self, reference_accuracy: float) -> float:
        """Expected gain (accuracy, as a fraction) given the reference arm's accuracy at this scale."""
        return self.relative * (1 - reference_accuracy) / self.per


def pp(x: float, sign: bool = True) -> str:
    return "–" if not math.isfinite(x) else (f"{100 * x:+.2f}" if sign else f"{100 * x:.2f}")


def with_unit(text: str, unit: str) -> str:
    return text if text == "–" else f"{text} {unit}"


def p_text(p: float) -> str:
    if not math.isfinite(p):
        return "–"
    return f"{p:.1e}" if p < 0.001 else f"{p:.3f}"


def judge(c: Comparison, kind: str, p_holm: float, expected: float | None = None, margin: float | None = None,
          tost_holm: float = math.nan, unit: str = "pp") -> str:
    """The verdict of a "better" claim (Δ = A − B expected > 0) or a "similar" one (|Δ| < margin)."""
    n = min(c.n_a, c.n_b)
    if n < 2:
        return f"inconclusive: only {n} seed{'s' if n != 1 else ''} per side"
    if not c.testable:
        return f"inconclusive: no spread between the {n} seeds (identical results), so no test"
    low, high = c.interval()
    mdd80 = c.mdd80
    if kind == "similar":
        if margin is None:
            raise ValueError("an 'alike' claim needs a declared margin")
        if math.isfinite(tost_holm) and tost_holm < ALPHA:
            return f"equivalent within ±{pp(margin, False)} {unit} (TOST)"
        if low > margin or high < -margin:
            return f"opposite holds: they differ by more than ±{pp(margin, False)} {unit}"
        if c.p < ALPHA:
            return (f"inconclusive: they differ (p = {p_text(c.p)}), but the interval [{pp(low)}, {pp(high)}] "
                    f"{unit} reaches inside ±{pp(margin, False)} {unit}")
        why = (f"MDD80 {pp(mdd80, False)} {unit} > margin {pp(margin, False)} {unit}" if mdd80 > margin
               else f"TOST Holm p = {p_text(tost_holm)}")
        return f"inconclusive: {why}"
    if p_holm < ALPHA:
        return "reproduced" if c.mean_diff > 0 else "opposite holds"
    if expected is not None and high < expected:
        return f"paper-size effect ruled out (95 % interval below {pp(expected)} {unit})"
    if expected is None:
        return f"inconclusive: no expected effect declared; MDD80 {pp(mdd80, False)} {unit}"
    if mdd80 > expected:
        return f"inconclusive: MDD80 {pp(mdd80, False)} {unit} > expected {pp(expected, False)} {unit}"
    return (f"inconclusive: Holm p = {p_text(p_holm)}; the interval [{pp(low)}, {pp(high)}] still holds the "
            f"expected {pp(expected)} {unit}")


def interval_text(c: Comparison, unit: str = "pp") -> str:
    low, high = c.interval()
    return f"{pp(c.mean_diff)} [{pp(low)}, {pp(high)}] {unit}"


#: The claim table's columns after the claim (and its arms, which each report names its own way).
EVIDENCE_HEADER = ("A − B [95 % interval] | test | seeds | p | Holm p | MDD80 | expected at this scale (or margin) "
                   "| seeds for 80 % power | verdict")


@dataclass(frozen=True)
class Evidence:
    """One claim's test, its place in the report's Holm family, and what it is judged against."""

    c: Comparison
    kind: str = "better"  # or "similar"
    expected: float | None = None  # the effect the claim expects at this scale (accuracy fraction)
    margin: float | None = None  # the declared equivalence margin of a "similar" claim
    unit: str = "pp"
    trend_x: tuple[float, ...] = ()  # a trend's points (x values) and its residual SD: seeds per point
    trend_sd: float = math.nan

    @property
    def family_p(self) -> float:
        """The p that enters Holm's correction: TOST's for "similar" claims, else the t-test's."""
        return self.c.tost(self.margin) if self.kind == "similar" and self.margin is not None else self.c.p

    def seeds_for_power(self) -> str:
        from src.report.stats import seeds_needed, seeds_needed_equivalence, seeds_needed_trend

        if self.trend_x:
            n = seeds_needed_trend(self.expected if self.expected is not None else math.nan, self.trend_sd,
                                   self.trend_x)
        elif self.kind == "similar":
            n = seeds_needed_equivalence(self.margin or math.nan, self.c.sd, self.c.paired_design)
        else:
            n = seeds_needed(self.expected if self.expected is not None else math.nan, self.c.sd, self.c.paired_design)
        return str(n) if n else "–"

    def cells(self, p_holm: float) -> str:
        """The row's cells from "A − B" on, given this claim's Holm-adjusted family p."""
        c = self.c
        if self.kind == "similar":
            target = f"±{pp(self.margin, False)} {self.unit} (margin)"
            p_raw = f"{p_text(c.p)}; TOST {p_text(self.family_p)}"
            test = f"{c.test} + TOST"
        else:
            target = "not declared" if self.expected is None else f"{pp(self.expected)} {self.unit}"
            p_raw, test = p_text(c.p), c.test
        text = judge(c, self.kind, p_holm if self.kind != "similar" else math.nan, self.expected, self.margin,
                     p_holm if self.kind == "similar" else math.nan, self.unit)
        seeds = f"{c.n_a} runs" if self.trend_x else (f"{c.n_a}" if c.n_a == c.n_b else f"{c.n_a}/{c.n_b}")
        return (f"{interval_text(c, self.unit)} | {test} | {seeds} | {p_raw} | {p_text(p_holm)} | "
                f"{with_unit(pp(c.mdd80, False), self.unit)} | {target} | {self.seeds_for_power()} | {text}")


def holm_of(evidence: list[Evidence]) -> list[float]:
    from src.report.stats import holm

    return holm([e.family_p for e in evidence])
