"""The sweep report reads each point's job folder, keeps unfinished points and compares with the public table."""

from __future__ import annotations

import csv
import json

import pytest
import yaml

from src.report import sweep_table


def _point(root, num: int, model: str, results: dict | None, speeds=(100.0, 200.0, 300.0)) -> None:
    job = root / str(num)
    job.mkdir(parents=True)
    (job / "config.yaml").write_text(yaml.safe_dump({"seed": 42, "model": {"name": model}}))
    with (job / "history.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["epoch", "images_per_s"])
        writer.writeheader()
        writer.writerows({"epoch": i, "images_per_s": s} for i, s in enumerate(speeds))
    if results is not None:
        (job / "results.json").write_text(json.dumps(results))


def test_finished_and_unfinished_points_with_public_rows(tmp_path):
    sweep = tmp_path / "multirun" / "zoo" / "2026-01-01_00-00-00"
    _point(sweep, 0, "mobilenet_v2", {"test_accuracy": 0.93, "params_trainable": 2_236_682, "macs": 72_900_000,
                                      "tflite_top1_agreement": 1.0, "wall_seconds": 900.0})
    _point(sweep, 1, "igc", None, speeds=(50.0,))
    _point(sweep, 10, "squeezenet1_1", {"test_accuracy": 0.91})  # numeric order, not text order
    out = tmp_path / "report"
    (out).mkdir()
    (out / "NOTES.md").write_text("## What we learnt\nhand-written text")
    rows = sweep_table.main([str(sweep), "--out", str(out)])
    assert [r["point"] for r in rows] == ["0", "1", "10"]
    first, second, third = rows
    assert first["status"] == "finished" and first["public_accuracy"] == 0.950
    assert first["delta_vs_public"] == pytest.approx(0.93 - 0.950)
    assert first["images_per_s_median"] == 250.0  # epoch 1 (tracing) left out
    assert second["status"] == "unfinished" and second["epochs"] == 1 and second["public_row"] == "MobileNet"
    assert third["delta_vs_public"] == pytest.approx(0.91 - 0.900)
    text = (out / "README.md").read_text()
    assert "| 1 | igc |" in text and "unfinished" in text and "+0.010" in text and "hand-written text" in text
    assert "![test accuracy against multiply-adds](accuracy_vs_macs.png)" in text
    assert (out / "accuracy_vs_macs.png").stat().st_size > 1000
    with (out / "results.csv").open() as fh:
        assert [r["model"] for r in csv.DictReader(fh)] == ["mobilenet_v2", "igc", "squeezenet1_1"]


def test_a_folder_without_points_is_refused_clearly(tmp_path):
    with pytest.raises(SystemExit, match="holds no point folders"):
        sweep_table.main([str(tmp_path), "--out", str(tmp_path / "r")])


def test_several_sweeps_make_one_table(tmp_path):
    first, second = tmp_path / "multirun" / "zoo" / "t1", tmp_path / "multirun" / "zoo" / "t2"
    _point(first, 0, "mobilenet_v3_small", {"test_accuracy": 0.93})
    _point(second, 0, "shufflenet_v2", {"test_accuracy": 0.92})
    rows = sweep_table.main([str(first), str(second), "--out", str(tmp_path / "report")])
    assert [(r["point"], r["model"]) for r in rows] == [("0/0", "mobilenet_v3_small"), ("1/0", "shufflenet_v2")]
    assert f"{first} {second}" in (tmp_path / "report" / "README.md").read_text()


def test_a_model_or_recipe_knob_set_on_the_command_line_names_the_row(tmp_path):
    sweep = tmp_path / "sweep"
    _point(sweep, 0, "resnet20", {"test_accuracy": 0.93})
    (sweep / "0" / ".hydra").mkdir()
    (sweep / "0" / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(
        ["model=resnet20", "model.se_position=standard", "seed=1", "experiment=zoo_classic_fashion_mnist",
         "train.learning_rate=0.0625", "train.progress_every_s=10"]))  # how it reports: not in the label
    _point(sweep, 1, "resnet20", {"test_accuracy": 0.92})  # no overrides file: the name alone
    rows = sweep_table.main([str(sweep), "--out", str(tmp_path / "out")])
    assert [r["model"] for r in rows] == ["resnet20 (se_position=standard, train.learning_rate=0.0625)", "resnet20"]
    assert rows[0]["public_accuracy"] == 0.949  # still held against the network's public row


def test_a_point_that_resumed_an_earlier_job_is_read_from_that_job_once(tmp_path):
    first, rerun = tmp_path / "sweep1", tmp_path / "sweep2"
    _point(first, 0, "shufflenet_v1", {"test_accuracy": 0.89})  # finished in its first folder after a resume
    (rerun / "0").mkdir(parents=True)
    (rerun / "0" / "resumed_in.txt").write_text(f"{first / '0'}\n")  # the re-run's point continued it there
    _point(rerun, 1, "mobilenet_v2", {"test_accuracy": 0.93})
    rows = sweep_table.main([str(first), str(rerun), "--out", str(tmp_path / "out")])
    assert [(r["point"], r["model"], r["status"]) for r in rows] == [
        ("0/0", "shufflenet_v1", "finished"), ("1/1", "mobilenet_v2", "finished")]


def test_an_unfinished_attempt_of_a_config_that_finished_later_is_left_out_and_named(tmp_path):
    first, rerun = tmp_path / "sweep1", tmp_path / "sweep2"
    _point(first, 0, "mobilenet_v1", None)  # killed before its first saved epoch ...
    _point(first, 1, "igc", None)  # ... and a config that never finished: it stays, as unfinished
    _point(rerun, 0, "mobilenet_v1", {"test_accuracy": 0.94})  # ... so the same config trained afresh here
    for job, fingerprint in ((first / "0", "aaa"), (first / "1", "bbb"), (rerun / "0", "aaa")):
        (job / "job.json").write_text(json.dumps({"fingerprint": fingerprint}))
    rows = sweep_table.main([str(first), str(rerun), "--out", str(tmp_path / "out")])
    assert [(r["point"], r["model"], r["status"]) for r in rows] == [
        ("0/1", "igc", "unfinished"), ("1/0", "mobilenet_v1", "finished")]
    assert "Left out: 0/0, unfinished attempt(s)" in (tmp_path / "out" / "README.md").read_text()


def test_earlier_rows_from_a_committed_csv_come_first_and_new_sweeps_are_numbered_after_them(tmp_path):
    old = tmp_path / "old_sweep"
    _point(old, 0, "mobilenet_v3_small", {"test_accuracy": 0.93, "params_trainable": 1_527_818, "macs": 14_701_896})
    _point(old, 1, "igc", None)  # stopped; its folder will be gone in a new checkout
    _point(old, 2, "shufflenet_v2", None)  # stopped too, and not finished since: it stays
    report = tmp_path / "report"
    sweep_table.main([str(old), str(old), "--out", str(report)])  # two sweeps: points 0/i
    new = tmp_path / "new_sweep"
    _point(new, 0, "igc", {"test_accuracy": 0.92})
    earlier_csv = tmp_path / "committed.csv"
    earlier_csv.write_text((report / "results.csv").read_text())
    rows = sweep_table.main([str(new), "--out", str(report), "--earlier", str(earlier_csv)])
    assert [(r["point"], r["model"], r["status"]) for r in rows] == [
        ("0/0", "mobilenet_v3_small", "finished"), ("0/2", "shufflenet_v2", "unfinished"), ("1/0", "igc", "finished")]
    assert rows[0]["params"] == 1_527_818 and rows[0]["test_accuracy"] == 0.93 and rows[0]["seed"] == 42
    text = (report / "README.md").read_text()
    assert f"{new} --earlier {earlier_csv}" in text and "| 1.53 M | 14.7 M | 0.9300 |" in text
    assert "Left out from the earlier rows: 0/1, unfinished there" in text


def test_rerunning_the_recorded_command_on_its_own_output_does_not_repeat_rows(tmp_path):
    old, new, report = tmp_path / "old", tmp_path / "new", tmp_path / "report"
    _point(old, 0, "mobilenet_v3_small", {"test_accuracy": 0.93})
    sweep_table.main([str(old), "--out", str(report)])
    _point(new, 0, "igc", {"test_accuracy": 0.92})
    command = [str(new), "--out", str(report), "--earlier", str(report / "results.csv")]
    first = sweep_table.main(command)
    (new / "0" / "results.json").write_text(json.dumps({"test_accuracy": 0.925}))  # e.g. a re-evaluation
    again = sweep_table.main(command)
    assert [(r["point"], r["model"]) for r in first] == [("0", "mobilenet_v3_small"), ("1/0", "igc")]
    assert [(r["point"], r["model"]) for r in again] == [("0", "mobilenet_v3_small"), ("1/0", "igc")]
    assert again[1]["test_accuracy"] == 0.925
    with (report / "results.csv").open(newline="") as fh:
        assert [r["job"] for r in csv.DictReader(fh)] == [str(old / "0"), str(new / "0")]


def test_an_earlier_file_that_is_not_a_report_is_refused(tmp_path):
    _point(tmp_path / "sweep", 0, "igc", None)
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    with pytest.raises(SystemExit, match="lacks the column"):
        sweep_table.main([str(tmp_path / "sweep"), "--out", str(tmp_path / "r"), "--earlier", str(tmp_path / "other.csv")])
    with pytest.raises(SystemExit, match="no such file"):
        sweep_table.main([str(tmp_path / "sweep"), "--out", str(tmp_path / "r"), "--earlier", str(tmp_path / "x.csv")])


def test_point_label_keeps_short_labels_and_names_repeated_networks_by_point():
    from src.report.sweep_table import point_label

    rows = [{"model": "resnet20 (se_position=standard)", "point": "0/0"},
            {"model": "shufflenet_v1", "point": "1/0"},
            {"model": "shufflenet_v1 (train.learning_rate=0.0625, train.label_smoothing=0.1)", "point": "2/0"},
            {"model": "mobilenet_v2 (train.learning_rate=0.0625, train.label_smoothing=0.1)", "point": "3/0"}]
    assert [point_label(r, rows) for r in rows] == [
        "resnet20 (se_position=standard)", "shufflenet_v1 [1/0]", "shufflenet_v1 [2/0]", "mobilenet_v2 [3/0]"]


def test_training_seconds_add_up_every_invocation_of_a_resumed_job(tmp_path):
    """results.json's wall_seconds covers only the invocation that finished; history.csv has every epoch."""
    job = tmp_path / "multirun" / "zoo" / "t1" / "0"
    job.mkdir(parents=True)
    (job / "config.yaml").write_text(yaml.safe_dump({"seed": 42, "model": {"name": "alexnet"}}))
    with (job / "history.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["epoch", "images_per_s", "epoch_seconds"])
        writer.writeheader()
        writer.writerows({"epoch": i, "images_per_s": 100.0, "epoch_seconds": s} for i, s in enumerate((300, 310, 290)))
    (job / "results.json").write_text(json.dumps({"test_accuracy": 0.9, "wall_seconds": 350.0}))
    out = tmp_path / "report"
    (row,) = sweep_table.main([str(job.parent), "--out", str(out)])
    assert row["train_seconds"] == 900.0 and row["wall_seconds"] == 350.0
    assert "| 900 | 350 |" in (out / "README.md").read_text()
    (again,) = sweep_table.main([str(job.parent), "--out", str(out), "--earlier", str(out / "results.csv")])
    assert again["train_seconds"] == 900.0


def test_a_report_is_re_rendered_from_its_committed_csv_alone_after_its_notes_change(tmp_path):
    sweep, report = tmp_path / "sweep", tmp_path / "zoo_report"
    _point(sweep, 0, "mobilenet_v3_small", {"test_accuracy": 0.93, "params_trainable": 1_527_818, "macs": 14_701_896,
                                            "tflite_top1_agreement": 1.0, "wall_seconds": 900.0})
    _point(sweep, 1, "igc", None)
    report.mkdir()
    (report / "NOTES.md").write_text("## Notes\nfirst version")
    first = sweep_table.main([str(sweep), "--out", str(report)])
    assert f"`python -m src.report.sweep_table {sweep} --out {report}` from the sweep's job folders" in (
        report / "README.md").read_text()  # the header's command reruns as printed
    table = [line for line in (report / "README.md").read_text().splitlines() if line.startswith("| ")]
    (report / "NOTES.md").write_text("## Notes\nsecond version")
    csv_path = report / "results.csv"
    again = sweep_table.main(["--earlier", str(csv_path), "--out", str(report)])  # no sweep folder any more
    text = (report / "README.md").read_text()
    assert [line for line in text.splitlines() if line.startswith("| ")] == table  # same rows, same figures
    assert "second version" in text and "first version" not in text
    assert f"--earlier {csv_path} --out {report}` from the committed results.csv alone" in text
    assert text.startswith("# zoo_report\n") and "accuracy_vs_macs.png" in text
    assert [r["test_accuracy"] for r in again] == [r.get("test_accuracy") for r in first]


def test_neither_a_sweep_folder_nor_an_earlier_csv_is_refused_clearly(tmp_path, capsys):
    with pytest.raises(SystemExit):
        sweep_table.main(["--out", str(tmp_path / "r")])
    assert "give a sweep folder" in capsys.readouterr().err
