"""src.bench.onednn: a network trained with TensorFlow's oneDNN on and off, in two workers, same rounds."""

from __future__ import annotations

import csv

import pytest

from src.bench import onednn


def test_both_settings_are_measured_in_workers_that_ran_them(tmp_path):
    rows = onednn.main(["--models", "lenet5", "--batch", "8", "--steps", "2", "--warmup", "1",
                        "--out", str(tmp_path)])
    (row,) = rows
    assert row["model"] == "lenet5" and row["channels"] == 1 and row["params"] > 0 and row["macs"] > 0
    assert row["onednn_on_img_s"] > 0 and row["onednn_off_img_s"] > 0  # each worker checked its own setting
    assert row["on_over_off"] == pytest.approx(row["onednn_on_img_s"] / row["onednn_off_img_s"])
    with open(tmp_path / "results.csv") as fh:
        assert next(csv.DictReader(fh))["model"] == "lenet5"
    assert "| lenet5 |" in (tmp_path / "summary.md").read_text()


def test_an_unknown_model_is_refused_with_the_hint(capsys):
    with pytest.raises(SystemExit):
        onednn.main(["--models", "resnet51"])
    assert "unknown models ['resnet51']" in capsys.readouterr().err
