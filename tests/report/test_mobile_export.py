"""The mobile-export table from a trained job folder: every format exported, verified and timed."""

from __future__ import annotations

import pytest

from src.report.mobile_export import main
from tests.helpers.config import TINY_JOB, compose_config


def test_table_for_a_tiny_trained_job(tmp_path):
    from src.train import train

    train(compose_config(TINY_JOB, tmp_path / "job"))
    out = tmp_path / "report"
    main([str(tmp_path / "job"), "--out", str(out), "--formats", "float32", "int8"])
    text = (out / "README.md").read_text()
    assert "| resnet20 | float32 |" in text and "| resnet20 | int8 |" in text
    assert "--formats float32 int8`" in text  # the command line as given, to rerun it
    rows = (out / "results.csv").read_text().splitlines()
    assert len(rows) == 3 and (tmp_path / "job" / "mobile_export" / "resnet20.int8.tflite").exists()


def test_a_folder_without_a_trained_model_is_refused(tmp_path):
    with pytest.raises(SystemExit, match="not a finished training job"):
        main([str(tmp_path), "--out", str(tmp_path / "o")])


@pytest.mark.slow
def test_qat_rows_sit_beside_post_training_int8(tmp_path):
    from src.train import train

    train(compose_config(TINY_JOB, tmp_path / "job"))
    out = tmp_path / "report"
    main([str(tmp_path / "job"), "--out", str(out), "--formats", "int8", "--qat",
          "--qat-args", "--train-subset 64 --batch-size 32"])
    text = (out / "README.md").read_text()
    assert "| resnet20 | int8 |" in text and "| resnet20 | qat_int8 |" in text
    assert (tmp_path / "job" / "mobile_export" / "resnet20.qat_int8.tflite").exists()


def test_a_failed_qat_gets_a_row_with_its_reason_and_the_table_is_still_written(tmp_path):
    from src.train import train

    train(compose_config(TINY_JOB, tmp_path / "job"))
    out = tmp_path / "report"
    main([str(tmp_path / "job"), "--out", str(out), "--formats", "float32", "--qat", "--qat-args=--no-such-flag"])
    text = (out / "README.md").read_text()
    assert "| resnet20 | float32 |" in text and "| resnet20 | qat_int8 | not built (1) |" in text
    assert "(1) resnet20 qat_int8:" in text and "unrecognized arguments: --no-such-flag" in text
    header, float_row, qat_row = (out / "results.csv").read_text().splitlines()
    assert header.endswith(",error") and qat_row.endswith("unrecognized arguments: --no-such-flag")


def test_a_disagreeing_int8_row_carries_the_logit_hint(tmp_path):
    from src.report.mobile_export import write_report

    base = {"model": "net", "job": "j", "size_kb": 10.0, "keras_accuracy": 0.9, "max_abs_logit_diff": 1.0,
            "latency_ms_1_thread": 0.1, "latency_ms_2_threads": 0.1, "median_max_abs_logit": 15.0}
    rows = [
        {**base, "format": "int8", "tflite_accuracy": 0.35, "top1_agreement": 0.36, "logit_outlier_share": 0.07,
         "hint": "top-1 agreement 0.3600: 7.0 % of the inputs ..."},
        {**base, "format": "float32", "tflite_accuracy": 0.9, "top1_agreement": 1.0, "logit_outlier_share": 0.07,
         "hint": ""},
    ]
    text = write_report(rows, tmp_path, "cmd")
    assert "Why a quantised format disagrees" in text
    assert "- net int8: top-1 agreement 0.3600: 7.0 % of the inputs" in text and "- net float32" not in text
