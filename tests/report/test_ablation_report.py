"""The ablation report from sweep folders: grouping by point, paper-setting counts, claim verdicts,
unfinished points listed."""

from __future__ import annotations

import json

import pytest
import yaml

from src.report.ablation import group_points, judge, main, read_points
from src.report.ablation_specs import SPECS, Claim


def _point(sweep, index, point, groups, shuffle, seed, accuracy):
    folder = sweep / str(index)
    folder.mkdir(parents=True)
    cfg = {"seed": seed, "ablation_point": point, "model": {"name": "shufflenet_v1", "groups": groups,
                                                           "width_multiplier": 0.25, "shuffle": shuffle}}
    (folder / "config.yaml").write_text(yaml.safe_dump(cfg))
    (folder / "job.json").write_text(json.dumps({"status": "finished" if accuracy else "killed",
                                                 "git_commit": "0123456789abcdef"}))
    if accuracy is not None:
        (folder / "results.json").write_text(json.dumps({"test_accuracy": accuracy, "params_trainable": 60000,
                                                         "macs": 2.5e6, "wall_seconds": 100.0}))
        (folder / "history.csv").write_text("epoch,loss,val_accuracy\n0,1.2,0.5\n1,0.8,%.3f\n" % accuracy)


@pytest.fixture
def sweep(tmp_path):
    sweep = tmp_path / "multirun" / "shufflenet_groups" / "t0"
    index = 0
    for point, groups, shuffle, base in [("g1", 1, True, 0.80), ("g3", 3, True, 0.85), ("g3_noshuffle", 3, False, 0.84)]:
        for seed in (1, 2, 3):
            _point(sweep, index, point, groups, shuffle, seed, base + 0.002 * seed)
            index += 1
    _point(sweep, index, "g8", 8, True, 1, None)  # killed
    return sweep


def test_report_tables_claims_and_unfinished_points(sweep, tmp_path):
    out = tmp_path / "report"
    main([str(sweep), "--out", str(out)])
    text = (out / "README.md").read_text()
    assert "| g3 | 3 | 0.8540 ± 0.0020 | 0.060 M | 2.50 M | 0.306 M | 13.3 M |" in text
    assert "| g8 | 0 | – | – | – |" in text
    # paper-setting counts: ShuffleNet 0.25x g=3 at 224 (13 MFLOPs row of Table 2)
    assert "| 13 | 55.0 |" in text
    assert "| group convolution helps at equal complexity: g=3 beats g=1 (0.5×: 43.2 vs 45.1 % error) | g3 | g1 | +5.00 pp | 3/3 |" in text
    assert "not judged: 0 finished points match {'ablation_point': 'g8'}" in text
    assert "## Unfinished points" in text and "(killed)" in text
    assert "0123456789" in text
    for png in ("accuracy_vs_macs.png", "accuracy_vs_params.png", "training_curves.png"):
        assert f"]({png})" in text and (out / png).stat().st_size > 1000
    assert len((out / "results.csv").read_text().splitlines()) == 1 + 4


def test_curves_average_the_seeds_of_each_point(sweep):
    groups = group_points(SPECS["shufflenet_groups"], read_points([sweep]))
    assert [h["val_accuracy"] for h in groups["g3"]["histories"]] == [[0.5, 0.852], [0.5, 0.854], [0.5, 0.856]]
    assert groups["g8"]["histories"] == []  # killed: no curve


def test_similar_claims_are_judged_as_consistent_or_not(sweep):
    groups = group_points(SPECS["shufflenet_groups"], read_points([sweep]))
    _, _, _, verdict = judge(Claim("alike", {"ablation_point": "g3"}, {"ablation_point": "g3_noshuffle"}, "similar"), groups)
    assert verdict == "no: they differ significantly"  # a constant 1 pp gap with no seed noise
    _, _, c, verdict = judge(Claim("better", {"ablation_point": "g3_noshuffle"}, {"ablation_point": "g3"}), groups)
    assert c.mean_diff < 0 and verdict == "no (the opposite holds)"


def test_unknown_experiment_is_refused(tmp_path, sweep):
    with pytest.raises(SystemExit, match="no ablation spec"):
        main([str(sweep), "--out", str(tmp_path / "o"), "--experiment", "nope"])


def test_a_rerun_sweep_that_skipped_or_resumed_points_counts_each_job_once(sweep, tmp_path):
    rerun = sweep.parent / "t1"
    for index in range(10):
        (rerun / str(index)).mkdir(parents=True)
        (rerun / str(index) / "resumed_in.txt").write_text(f"{sweep / str(index)}\n")
    assert len(read_points([sweep, rerun])) == 10
