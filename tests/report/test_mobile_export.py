"""The mobile-export table from a trained job folder: every format exported, verified and timed."""

from __future__ import annotations

import pytest

from src.report.mobile_export import main
from tests.conftest import TINY_JOB, compose_config


def test_table_for_a_tiny_trained_job(tmp_path):
    from src.train import train

    train(compose_config(TINY_JOB, tmp_path / "job"))
    out = tmp_path / "report"
    main([str(tmp_path / "job"), "--out", str(out), "--formats", "float32", "int8"])
    text = (out / "README.md").read_text()
    assert "| resnet20 | float32 |" in text and "| resnet20 | int8 |" in text
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
