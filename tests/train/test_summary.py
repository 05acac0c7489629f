"""The end-of-job summary: the verdict against the target, the TFLite figures, where things are."""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

from src.train.summary import job_summary, target_lines, tflite_lines


def test_target_passes_at_or_above_the_minimum_and_fails_below_or_when_unmeasured():
    assert target_lines({"test_accuracy": 0.93}, {"test_accuracy": 0.93})[0].endswith("PASS")
    assert target_lines({"test_accuracy": 0.9299}, {"test_accuracy": 0.93})[0].endswith("FAIL")
    assert target_lines({}, {"tflite_top1_agreement": 0.99})[0].endswith("FAIL")
    assert "no target set" in target_lines({"test_accuracy": 0.5}, {})[0]


def test_tflite_lines_name_each_exported_format_with_agreement_logit_gap_and_size():
    results = {"tflite_top1_agreement": 1.0, "tflite_max_abs_logit_diff": 1.3e-5, "tflite_size_bytes": 2**20,
               "tflite_num_examples": 10000, "tflite_int8_top1_agreement": 0.98, "tflite_int8_size_bytes": 2**18,
               "tflite_int8_max_abs_logit_diff": 0.4, "tflite_int8_num_examples": 10000}
    lines = tflite_lines(results, ["float32", "int8", "float16"])  # float16 not in results: no line
    assert len(lines) == 2
    assert lines[0].startswith("TFLite float32: top-1 agreement 1.0000") and "1.3e-05" in lines[0] and "1.00 MiB" in lines[0]
    assert lines[1].startswith("TFLite int8: top-1 agreement 0.9800") and "0.25 MiB" in lines[1]


def test_summary_without_mlflow_names_the_folder_and_the_rerun_command(tmp_path: Path):
    cfg = OmegaConf.create({"model": {"name": "resnet20"}, "data": {"name": "synthetic"}, "seed": 3,
                            "experiment_name": "e", "target": {"test_accuracy": 0.1}, "export": {"enabled": False}})
    text = job_summary(cfg, {"test_accuracy": 0.5}, tmp_path)
    assert "resnet20 on synthetic, seed 3" in text and "PASS" in text
    assert f"job folder: {tmp_path}" in text and f"--rerun {tmp_path}" in text and "MLflow" not in text


def test_sweep_table_has_a_row_per_point_with_its_own_overrides_and_follows_a_resumed_point(tmp_path: Path):
    import json

    from src.tracking.sweep_summary import sweep_table

    sweep = tmp_path / "sweep"
    for num, (seed, status) in enumerate([(1, "finished"), (2, "failed"), (3, "finished")]):
        point = sweep / str(num)
        (point / ".hydra").mkdir(parents=True)
        (point / ".hydra" / "overrides.yaml").write_text(f"- model=resnet20\n- seed={seed}\n")
        (point / "job.json").write_text(json.dumps({"status": status}))
        if status == "finished" and num == 0:
            (point / "results.json").write_text(json.dumps({"test_accuracy": 0.91, "tflite_top1_agreement": 1.0}))
    elsewhere = tmp_path / "earlier"  # point 2 resumed an earlier job there
    elsewhere.mkdir()
    (elsewhere / "job.json").write_text(json.dumps({"status": "finished"}))
    (elsewhere / "results.json").write_text(json.dumps({"test_accuracy": 0.5}))
    (sweep / "2" / "resumed_in.txt").write_text(str(elsewhere))
    (sweep / "report").mkdir()
    rows = sweep_table(sweep).splitlines()
    assert rows[1].split() == ["0", "finished", "0.9100", "1.0000", "seed=1"]
    assert rows[2].split() == ["1", "failed", "-", "-", "seed=2"]
    assert rows[3].split() == ["2", "finished", "0.5000", "-", "seed=3"]
    assert rows[4] == f"report: {sweep / 'report'}"


def test_a_debug_runs_summary_says_its_verdict_is_no_result(tmp_path: Path):
    cfg = OmegaConf.create({"model": {"name": "resnet20"}, "data": {"name": "fashion_mnist"}, "seed": 42,
                            "experiment_name": "e", "target": {"test_accuracy": 0.93}, "export": {"enabled": False}})
    assert "no result" in job_summary(cfg, {"test_accuracy": 0.1}, tmp_path, debug="smoke")
    assert "no result" not in job_summary(cfg, {"test_accuracy": 0.1}, tmp_path)
