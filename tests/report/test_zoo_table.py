"""The zoo table's reference refresh: published figures re-read, measurements kept."""

import csv

from src.models.reference_figures import reference_for
from src.report import zoo_table


def test_refresh_references_rewrites_figures_and_keeps_measurements(tmp_path):
    measured = {"name": "inception_v2", "family": "inception", "input": "224×224×3", "params": "11285224",
                "macs": "2032600064", "paper_params": "", "paper_macs": "", "params_ratio": "", "macs_ratio": "",
                "tflite_bytes": "45095360", "latency_ms": "20.2", "source": "old source"}
    with open(tmp_path / "zoo.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=zoo_table.COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerow(measured)
    (tmp_path / "README.md").write_text("# title\n\nmeasured on a quiet machine\n")
    zoo_table.main(["--refresh-references", "--out", str(tmp_path)])
    with open(tmp_path / "zoo.csv", newline="") as f:
        (row,) = csv.DictReader(f)
    ref = reference_for("inception_v2")
    assert float(row["paper_params"]) == ref.params and float(row["params_ratio"]) == 1.0
    assert row["latency_ms"] == "20.2" and row["tflite_bytes"] == "45095360"  # measurements untouched
    assert row["source"].startswith(ref.source)
    readme = (tmp_path / "README.md").read_text()
    assert "measured on a quiet machine" in readme
    assert ("| inception_v2 | 224×224×3 | 11.29 M | 2.033 G | 11.29 M | 2.030 G | 1.000 | 1.001 | 43.0 MiB | 20.2 |"
            in readme)
    assert b"\r" not in (tmp_path / "zoo.csv").read_bytes()
