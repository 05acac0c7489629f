"""The data-distillation report: paired statistics, verdicts, tables and plots from job folders."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from src.report.distillation import main
from src.report.job_results import read_jobs
from tests.helpers.config import ROOT


def _job(folder, fraction, seed, baseline, students):
    folder.mkdir(parents=True)
    result = {"labelled_fraction": fraction, "seed": seed, "baseline": {"test_accuracy": baseline},
              "git_commit": "abc1234567890", "wall_seconds": 60.0, "students": {
                  name: {"test_accuracy": acc, "pseudo_count": 1000, "pseudo_coverage": 0.5,
                         "pseudo_precision": 0.95, "transforms": "multi", "threshold": "heuristic",
                         "gain_vs_baseline": None if acc is None else acc - baseline}
                  for name, acc in students.items()}}
    (folder / "results.json").write_text(json.dumps(result))
    (folder / "threshold_curve.csv").write_text(
        "transforms,threshold,coverage,precision\nmulti,0.5,0.9,0.9\nmulti,0.9,0.5,0.98\nsingle,0.9,0.6,nan\n")


def test_report_from_job_folders(tmp_path):
    sweep = tmp_path / "sweep"
    for k, seed in enumerate((1, 2, 3)):
        _job(sweep / str(k), 0.1, seed, 0.80 + 0.01 * k,
             {"multi_heuristic": 0.83 + 0.01 * k + 0.001 * seed, "single_heuristic": 0.81 + 0.01 * k,
              "multi_fixed": None})
    _job(sweep / "3", 0.05, 1, 0.75, {"multi_heuristic": 0.76})
    (sweep / "4").mkdir()  # an unfinished job: no results.json
    out = tmp_path / "report"
    proc = subprocess.run([sys.executable, "-m", "src.report.distillation", str(sweep), "--out", str(out)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)  # through the CLI, as docs/compression.md shows it
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert len(read_jobs([sweep], "students")) == 4
    text = (out / "README.md").read_text()
    assert "| 10 % | baseline | 0.8100 ± 0.0100 |" in text
    assert "multi-transform inference beats single-transform inference (students, heuristic threshold) | 10 % | +2.20 [" in text
    assert "| reproduced |" in text and "inconclusive: only 1 seed per side" in text
    assert "Holm-corrected over the 4 tests" in text  # the 5 % claims (one seed) have no p and are not counted
    assert "multi_fixed" not in text.split("## The claims")[0]  # never trained: no accuracy row
    assert (out / "accuracy_vs_labelled_fraction.png").stat().st_size > 10_000
    assert (out / "precision_vs_threshold.png").stat().st_size > 10_000
    rows = (out / "results.csv").read_text().splitlines()
    assert len(rows) == 1 + 3 * 4 + 2


def test_report_without_finished_jobs_says_so(tmp_path):
    with pytest.raises(SystemExit, match="no finished distillation job"):
        main([str(tmp_path), "--out", str(tmp_path / "out")])


def test_rerender_of_the_committed_report_through_the_cli(tmp_path):
    """`python -m src.report.distillation --from-results`: 10 paired claims, Holm over all of them."""
    shutil.copytree(ROOT / "experiments" / "data_distillation", tmp_path / "dd")
    proc = subprocess.run([sys.executable, "-m", "src.report.distillation", "--from-results",
                           str(tmp_path / "dd" / "results.csv")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    text = (tmp_path / "dd" / "README.md").read_text()
    assert "Holm-corrected over the 10 tests" in text and text.count("## The claims, per labelled fraction") == 1
    # fixed threshold beats the heuristic at 5 %: raw p = 0.026, but not after Holm over the report
    assert "| 5 % | -0.31 [-0.52, -0.09] pp | paired t-test | 3 | 0.026 | 0.260 |" in text
