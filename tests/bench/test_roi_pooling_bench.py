"""The RoI pooling benchmark, through its CLI in smoke size: every operator timed, forward and backward."""

import csv
import subprocess
import sys

import keras


def test_cli_times_every_operator_forward_and_backward(tmp_path):
    out = tmp_path / "roi.csv"
    done = subprocess.run([sys.executable, "-m", "src.bench.roi_pooling", "--repeats", "1", "--jit", "off", "--shapes",
                           "small", "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = list(csv.DictReader(out.open()))
    expected = {"roi_pool", "deformable_roi_pool", "ps_roi_pool", "deformable_ps_roi_pool"}
    if keras.backend.backend() == "tensorflow":
        expected.add("crop_and_resize (baseline)")
    assert {r["operator"] for r in rows} == expected
    assert all(float(r["forward_ms_median"]) > 0 and float(r["forward_backward_ms_median"]) > 0 for r in rows)
    assert "deformable_ps_roi_pool" in done.stdout
