"""`python -m src.report.calibrate`: a claim's two arms at two budgets, and whether the sign holds
(judged from sweep folders here; nothing trains)."""

from __future__ import annotations

import subprocess
import sys

from tests.helpers.config import ROOT
from tests.helpers.reports import write_point


def _calibrate(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "src.report.calibrate", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def _sweep(folder, shuffle_gain: float):
    """g3 and g3_noshuffle, 3 seeds; shuffle on − off = shuffle_gain ± seed noise."""
    for k, (seed, noise) in enumerate([(1, 0.004), (2, -0.003), (3, 0.001)]):
        write_point(folder, k, "g3", 3, True, seed, 0.80 + noise + shuffle_gain)
        write_point(folder, 3 + k, "g3_noshuffle", 3, False, seed, 0.80 + noise + 0.002 * k)
    return folder


def test_the_sign_holds_or_flips_between_budgets(tmp_path):
    short, long, flipped = (_sweep(tmp_path / name / "t", gain) for name, gain in
                            (("short", 0.02), ("long", 0.03), ("flipped", -0.02)))
    proc = _calibrate("shufflenet_groups", "--claim", "3", "--judge", str(short), str(long))
    assert proc.returncode == 0, proc.stderr[-2000:]
    # paired differences 2.0, 1.8, 1.6 pp at the short budget: mean 1.80, SD 0.2, t(2) = 15.6
    assert "| g3 | g3_noshuffle | 0.8207 / 0.8027 | +1.80 [+1.30, +2.30] pp | paired t-test | 3 | 0.004 |" in proc.stdout
    assert "**The sign holds** at both budgets, and both intervals exclude 0 on the same side." in proc.stdout
    proc = _calibrate("shufflenet_groups", "--claim", "3", "--judge", str(short), str(flipped))
    assert "**The sign flips between the budgets**" in proc.stdout


def test_dry_run_prints_one_sweep_per_budget_of_the_claims_two_arms():
    proc = _calibrate("se_placement", "--claim", "2", "--budget", "train.epochs=6", "--budget", "train.epochs=12",
                      "--dry-run")
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    assert lines == [f"python -m src.run experiment=se_placement model.se_position=standard,post seed=1,2,3 "
                     f"train.epochs={e} hydra.sweep.dir=multirun/calibrate/se_placement/claim2/budget{i}"
                     for i, e in ((1, 6), (2, 12))]
    assert _calibrate("se_placement", "--claim", "9", "--dry-run").returncode == 2
