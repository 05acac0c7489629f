"""Training-curve plot from a CSVLogger history."""

from __future__ import annotations

import pytest

from src.report import plot_history


def test_plot_history_writes_a_png(tmp_path):
    csv = tmp_path / "history.csv"
    csv.write_text("epoch,accuracy,images_per_s,loss,val_accuracy,val_loss\n0,0.5,100,1.2,0.6,1.0\n1,0.7,110,0.8,0.72,0.7\n")
    out = plot_history(csv, tmp_path / "curves.png", title="t")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 5000


def test_empty_history_is_refused(tmp_path):
    (tmp_path / "h.csv").write_text("epoch,loss\n")
    with pytest.raises(ValueError, match="no epochs"):
        plot_history(tmp_path / "h.csv", tmp_path / "c.png")


def test_histories_written_with_0_based_epochs_read_as_1_based(tmp_path):
    from src.job_folder import read_history_csv

    (tmp_path / "old.csv").write_text("epoch,loss\n0,2.0\n1,1.5\n")
    (tmp_path / "new.csv").write_text("epoch,loss\n1,2.0\n2,1.5\n")
    assert read_history_csv(tmp_path / "old.csv")["epoch"] == read_history_csv(tmp_path / "new.csv")["epoch"] == [1.0, 2.0]
