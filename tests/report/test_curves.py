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
