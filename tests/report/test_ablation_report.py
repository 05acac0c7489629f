"""The ablation report from sweep folders: grouping by point, paper-setting counts, claim verdicts,
unfinished points listed."""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys

import pytest

from src.report.ablation import claims_section, group_points, judge, main, read_points
from src.report.ablation_specs import SPECS, Claim
from src.report.verdict import Expectation
from tests.helpers.config import ROOT


def test_report_tables_claims_and_unfinished_points(sweep, tmp_path):
    out = tmp_path / "report"
    main([str(sweep), "--out", str(out)])
    text = (out / "README.md").read_text()
    assert "| g3 | 3 | 0.8540 ± 0.0020 | 0.060 M | 2.50 M | 0.306 M | 13.3 M |" in text
    assert "| g8 | 0 | – | – | – |" in text
    # paper-setting counts: ShuffleNet 0.25x g=3 at 224 (13 MFLOPs row of Table 2)
    assert "| 13 | 55.0 |" in text
    assert ("| group convolution helps at equal complexity: g=3 beats g=1 (0.5×: 43.2 vs 45.1 % error) | g3 | g1 | "
            "+5.00 [+4.60, +5.40] pp | pooled t-test (6 df) | 3 |") in text
    # shuffle on − off = 1 pp on every seed (same weights and data): zero spread, so no test, not a certain "yes"
    assert ("| g3 | g3_noshuffle | +1.00 [–, –] pp | paired t-test | 3 | – | – | – | +0.85 pp | – | "
            "inconclusive: no spread between the 3 seeds (identical results), so no test |") in text
    assert "not judged: no single finished point matches {'ablation_point': 'g8'}" in text
    assert "## Unfinished points" in text and "(killed)" in text
    assert "0123456789" in text
    for png in ("accuracy_vs_macs.png", "accuracy_vs_params.png", "training_curves.png"):
        assert f"]({png})" in text and (out / png).stat().st_size > 1000
    assert len((out / "results.csv").read_text().splitlines()) == 1 + 4
    assert '"[1, 2, 3]"' in (out / "results.csv").read_text()  # seed_list: the seeds, for pairing on re-render


def test_curves_average_the_seeds_of_each_point(sweep):
    groups = group_points(SPECS["shufflenet_groups"], read_points([sweep]))
    assert [h["val_accuracy"] for h in groups["g3"]["histories"]] == [[0.5, 0.852], [0.5, 0.854], [0.5, 0.856]]
    assert groups["g8"]["histories"] == []  # killed: no curve


def _noisy(sweep, shift):
    """Seed noise on g3 (shared by g3_noshuffle, which is g3 − 1 pp − a small paired wobble)."""
    for index, noise in zip(range(3, 9), [0.004, -0.003, 0.001, 0.004, -0.003, 0.001]):
        results = sweep / str(index) / "results.json"
        data = json.loads(results.read_text())
        data["test_accuracy"] += noise + (shift * (index - 6) if index >= 6 else 0)
        results.write_text(json.dumps(data))


def test_claims_are_paired_where_arms_share_weights_and_judged_against_the_expected_effect(sweep):
    _noisy(sweep, 0.0005)
    groups = group_points(SPECS["shufflenet_groups"], read_points([sweep]))
    shuffle = SPECS["shufflenet_groups"].claims[2]
    a, b, e, _ = judge(shuffle, groups)
    assert (a, b) == ("g3", "g3_noshuffle") and e.c.test == "paired t-test" and e.c.mean_diff == pytest.approx(0.0095)
    # expected: (45.7 − 43.2) / 45.7 of g3_noshuffle's error (≈ 15.6 %)
    assert e.expected == pytest.approx((45.7 - 43.2) / 45.7 * (1 - statistics.fmean(groups["g3_noshuffle"]["acc"].values())))
    alike = Claim("alike", {"ablation_point": "g3"}, {"ablation_point": "g3_noshuffle"}, "similar",
                  margin=Expectation(0.0, 1.0, "a test margin of the whole error"))
    _, _, e, _ = judge(alike, groups)
    assert e.family_p == pytest.approx(e.c.tost(e.margin)) and e.family_p < 0.05
    assert "equivalent within" in e.cells(e.family_p)
    reversed_claim = Claim("better", {"ablation_point": "g3_noshuffle"}, {"ablation_point": "g3"})
    _, _, e, _ = judge(reversed_claim, groups)
    assert e.c.mean_diff < 0 and e.cells(e.c.p).endswith("| opposite holds")


def test_claims_section_corrects_claims_and_trends_together(sweep):
    _noisy(sweep, 0.0005)
    lines = claims_section(SPECS["shufflenet_groups"], group_points(SPECS["shufflenet_groups"], read_points([sweep])))
    text = "\n".join(lines)
    assert "Holm-corrected over the 2 tests" in text  # g1-g3 and shuffle at g=3; nothing for g8 or the trend
    assert text.count("not judged") == 2 and "missing points" in text
    assert "ShuffleNet Table 3, 0.5× g=3: 45.7 → 43.2 % error" in text


def test_rerender_from_a_committed_results_csv_through_the_cli(tmp_path):
    """`python -m src.report.ablation --from-results`: the SE-vs-none claim of both SE reports is one result."""
    out = {}
    for experiment in ("se_placement", "se_reduction"):
        folder = tmp_path / experiment
        shutil.copytree(ROOT / "experiments" / experiment, folder)
        proc = subprocess.run([sys.executable, "-m", "src.report.ablation", "--from-results", str(folder / "results.csv")],
                              cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr[-2000:]
        out[experiment] = (folder / "README.md").read_text()
        assert out[experiment].count("## The paper's claims at this scale") == 1
        assert "One result, two reports." in out[experiment] and "Holm p" in out[experiment]
    # the same Welch result in both reports: −0.36 pp, [−1.16, +0.44] (the audit's interval), p = 0.202
    row = "-0.36 [-1.16, +0.44] pp | Welch's t-test | 3 | 0.202 |"
    assert row in out["se_placement"] and row in out["se_reduction"]
    assert "paper-size effect ruled out" in out["se_reduction"]


def test_unknown_experiment_is_refused(tmp_path, sweep):
    with pytest.raises(SystemExit, match="no ablation spec"):
        main([str(sweep), "--out", str(tmp_path / "o"), "--experiment", "nope"])


def test_a_rerun_sweep_that_skipped_or_resumed_points_counts_each_job_once(sweep, tmp_path):
    rerun = sweep.parent / "t1"
    for index in range(10):
        (rerun / str(index)).mkdir(parents=True)
        (rerun / str(index) / "resumed_in.txt").write_text(f"{sweep / str(index)}\n")
    assert len(read_points([sweep, rerun])) == 10


def test_a_quick_variants_sweep_is_judged_by_its_ablations_claims_and_labelled_as_a_quick_look(sweep, tmp_path):
    quick = tmp_path / "multirun" / "shufflenet_groups_quick" / "t0"
    shutil.copytree(sweep, quick)
    main([str(quick), "--out", str(tmp_path / "quick")])
    text = (tmp_path / "quick" / "README.md").read_text()
    assert "(experiment shufflenet_groups_quick)" in text and "**Quick look**" in text and "cannot decide them" in text
    assert "| group convolution helps at equal complexity: g=3 beats g=1" in text  # the ablation's own claims
    main([str(sweep), "--out", str(tmp_path / "full")])
    assert "Quick look" not in (tmp_path / "full" / "README.md").read_text()
