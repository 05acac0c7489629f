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


def test_merge_adds_the_new_networks_rows_and_keeps_the_others_through_the_cli(tmp_path):
    import subprocess
    import sys

    from tests.conftest import ROOT

    kept = {"name": "alexnet", "family": "alexnet", "input": "227×227×3", "params": "60965224", "macs": "724406816",
            "paper_params": "", "paper_macs": "", "params_ratio": "", "macs_ratio": "", "tflite_bytes": "243835236",
            "latency_ms": "14.9", "source": "kept"}
    with open(tmp_path / "zoo.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=zoo_table.COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerow(kept)
    (tmp_path / "README.md").write_text("# title\n\nmeasured on a quiet machine.\n")
    proc = subprocess.run(
        [sys.executable, "-m", "src.report.zoo_table", "--merge", "--pattern", "lenet_300_100", "--out", str(tmp_path),
         "--repeats", "1", "--note", "LeNet row added later."],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    with open(tmp_path / "zoo.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["name"] for r in rows] == ["alexnet", "lenet_300_100"]
    assert rows[0] == kept  # untouched
    assert int(rows[1]["params"]) == 266_610 and int(rows[1]["tflite_bytes"]) > 4 * 266_610
    readme = (tmp_path / "README.md").read_text()
    assert "measured on a quiet machine. LeNet row added later." in readme
    assert "| alexnet | 227×227×3 | 60.97 M |" in readme and "| lenet_300_100 | 28×28×1 | 266.6 K |" in readme
