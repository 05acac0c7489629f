"""The DSD report from job folders: table per phase, paired claim, plot and CSV."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from src.report.dsd import main
from tests.helpers.config import ROOT

STAGES = ("dense", "sparse", "redense", "continued", "continued_low")


def _job(folder, seed: int, dsd: float, baseline: float) -> None:
    folder.mkdir(parents=True)
    accuracy = {"dense": 0.85, "sparse": 0.84, "redense": dsd, "continued": 0.86, "continued_low": baseline}
    stages = {s: {"test_accuracy": accuracy[s], "kernel_sparsity": 0.5 if s == "sparse" else 0.0} for s in STAGES}
    (folder / "results.json").write_text(json.dumps({
        "seed": seed, "model": "lenet5", "sparsity": 0.5, "epochs": {"dense": 10, "sparse": 5, "redense": 5},
        "stages": stages, "dsd_test_accuracy": dsd, "baseline_test_accuracy": baseline, "dsd_gain": dsd - baseline,
        "wall_seconds": 60.0, "git_commit": "abc123"}))


def test_report_states_the_gain_and_its_test(tmp_path):
    for seed, (dsd, baseline) in enumerate([(0.880, 0.870), (0.884, 0.872), (0.879, 0.869)], start=1):
        _job(tmp_path / "sweep" / str(seed - 1), seed, dsd, baseline)
    out = tmp_path / "report"
    proc = subprocess.run([sys.executable, "-m", "src.report.dsd", str(tmp_path / "sweep"), "--out", str(out)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)  # through the CLI, as docs/compression.md shows it
    assert proc.returncode == 0, proc.stderr[-2000:]
    text = (out / "README.md").read_text()
    assert "| sparse | 0.8400 ± 0.0000 | 50.0% |" in text
    # paired differences 1.0, 1.2, 1.0 pp: mean 1.067, SD 0.115, t = 16 on 2 df, p = 0.0039
    assert "| DSD (dense → sparse → re-dense) beats equally long dense training | +1.07 [+0.78, +1.35] pp | paired t-test | 3 | 0.004 | 0.004 |" in text
    assert "| reproduced |" in text
    assert (out / "phases.png").stat().st_size > 0
    assert len((out / "results.csv").read_text().splitlines()) == 4


def test_no_finished_job_is_a_clear_error(tmp_path):
    with pytest.raises(SystemExit, match="no finished DSD job"):
        main([str(tmp_path), "--out", str(tmp_path / "o")])


def test_rerender_of_the_committed_report_through_the_cli(tmp_path):
    """`python -m src.report.dsd --from-results`: the committed runs' interval excludes the smallest paper gain."""
    shutil.copytree(ROOT / "experiments" / "dsd", tmp_path / "dsd")
    proc = subprocess.run([sys.executable, "-m", "src.report.dsd", "--from-results", str(tmp_path / "dsd" / "results.csv")],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    text = (tmp_path / "dsd" / "README.md").read_text()
    assert "+0.10 [-0.07, +0.28] pp | paired t-test | 6 |" in text
    assert "paper-size effect ruled out (95 % interval below +0.31 pp)" in text
    assert text.count("## The claim") == 1 and "![every seed through the phases](phases.png)" in text
