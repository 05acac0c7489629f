"""`python -m src.report.power`: the seeds each ablation claim needs, from the committed runs."""

from __future__ import annotations

import csv
import json
import statistics
import subprocess
import sys

from src.report.stats import seeds_needed
from tests.helpers.config import ROOT


def _power(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "src.report.power", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def test_power_of_an_ablation_from_its_committed_runs(tmp_path):
    proc = _power("se_placement", "--out", str(tmp_path / "plan"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    # SE-POST vs standard: paired (same initial weights), SD of the differences 0.20 pp, expected
    # 2.2 % of post's 11.4 % error = 0.25 pp: d ≈ 1.25, so 8 pairs (a paired design's power table)
    row = "| SE after the addition (post) trains worse than standard (22.78 vs 22.28 % error) | paired t-test | 3 | 0.20 pp | 0.64 pp | +0.25 pp | 8 |"
    assert row in proc.stdout and row in (tmp_path / "plan" / "README.md").read_text()
    rows = {r["point"]: json.loads(r["accuracies"]) for r in csv.DictReader((ROOT / "experiments/se_placement/results.csv").open())}
    standard, post = rows["se_position=standard"], rows["se_position=post"]
    sd = statistics.stdev([a - b for a, b in zip(standard, post)])
    expected = (22.78 - 22.28) / 22.78 * (1 - statistics.fmean(post))
    assert seeds_needed(expected, sd, paired_design=True) == 8
    assert "SE-PRE performs like standard (22.23 vs 22.28 % error) | pooled t-test (10 df) + TOST |" in proc.stdout
    assert "Seeds per point for every sized claim: **8** (now 3)" in proc.stdout


def test_unknown_target_is_refused():
    proc = _power("nope")
    assert proc.returncode == 1 and "neither an ablation" in proc.stderr


def test_a_design_beyond_the_cpu_share_names_the_paper_setting():
    proc = _power("igc_partitions")
    assert proc.returncode == 0, proc.stderr[-2000:]
    # L8M5 vs L1M15: residual SD 1.86 pp, expected 0.95 pp (d ≈ 0.51): 61 seeds per arm, as Cohen's d = 0.5 row (64)
    assert "Seeds per point for every sized claim: **61** (now 3)" in proc.stdout
    assert "scale=full data.root=/path/to/cifar-folders" in proc.stdout


def test_planning_a_design_scales_the_expected_effect_to_the_planned_accuracy():
    proc = _power("mobilenet_alpha_rho", "--accuracy", "0.9", "--sd", "0.5", "--minutes", "10")
    assert proc.returncode == 0, proc.stderr[-2000:]
    # α=1 vs α=0.5: MobileNet Table 6's relative error reduction (36.3 − 29.4) / 36.3 of α=0.5's 10 % error
    expected = (36.3 - 29.4) / 36.3 * 0.10
    n = seeds_needed(expected, 0.005, paired_design=False)
    assert f"| accuracy drops with α: α=1 beats α=0.5 (70.6 vs 63.7 %) | two arms | +{100 * expected:.2f} pp | {n} |" in proc.stdout
    # ρ: paired, planned with √2·SD for the differences
    rho = (35.6 - 29.4) / 35.6 * 0.10
    assert f"| paired | +{100 * rho:.2f} pp | {seeds_needed(rho, 0.005 * 2 ** 0.5, paired_design=True)} |" in proc.stdout
    assert "CPU-hours at 10 min per job" in proc.stdout


def test_planning_needs_accuracy_and_sd_together():
    proc = _power("se_placement", "--accuracy", "0.9")
    assert proc.returncode != 0 and "--accuracy and --sd together" in proc.stderr
