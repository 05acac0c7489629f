"""Smoke test of the whole-model throughput benchmark: tiny settings, the CSV it writes is complete."""

from __future__ import annotations

import csv

import pytest

from src.bench import model_throughput


@pytest.mark.slow
def test_model_throughput_writes_csv(tmp_path):
    out = tmp_path / "model_throughput.csv"
    returned = model_throughput.main(["--size", "32", "--batch", "4", "--steps", "1", "--warmup", "1", "--out", str(out)])
    with out.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["comparison"] for r in rows] == [r["comparison"] for r in returned]
    assert [r["comparison"] for r in rows] == ["mobilenet_v2 ours/keras", "shufflenet_v1 g=3 split/native"]
    assert [(r["candidate"], r["baseline"]) for r in rows] == [("ours", "keras.applications"), ("split", "native")]
    for r in rows:
        assert int(r["candidate_params"]) == int(r["baseline_params"]) > 0, r["comparison"]
        for key in ("candidate_ms_median", "baseline_ms_median", "candidate_img_s", "baseline_img_s", "throughput_ratio"):
            assert float(r[key]) > 0, (r["comparison"], key)
        assert (int(r["size"]), int(r["batch"]), int(r["steps"]), int(r["warmup"])) == (32, 4, 1, 1)
    # mobilenet_v2 at 32 px keeps the ImageNet stem (it must match keras.applications); ShuffleNet takes
    # the registry's small-input variant.
    assert "stem=small" in rows[1]["note"]
