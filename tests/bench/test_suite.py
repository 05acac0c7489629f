"""The benchmark suite (src/bench/suite.py) on tiny settings: every measurement is taken and written."""

from __future__ import annotations

import csv

import pytest
from omegaconf import OmegaConf

from src.bench.suite import run_suite
from src.errors import ConfigError
from tests.conftest import ROOT


def bench_config(tmp_path, **overrides):
    cfg = OmegaConf.load(ROOT / "conf" / "bench.yaml")
    cfg.pop("hydra")
    tiny = {"batch": 4, "steps": 1, "warmup": 1, "matmul_n": 128, "pipeline_batches": 2, "torch": False,
            "litert_threads": [1], "out_dir": str(tmp_path / "bench")}
    return OmegaConf.merge(cfg, tiny, overrides)


def test_suite_measures_ours_beside_keras_applications_and_writes_csv_and_summary(tmp_path):
    rows = run_suite(bench_config(tmp_path, models=["mobilenet_v2"]))
    row = rows[0]
    assert row["params"] == row["keras_params"] == 2_236_682  # the same network, 10 classes
    assert row["train_ours_img_s"] > 0 and row["train_keras_img_s"] > 0
    assert row["ratio_vs_keras"] == pytest.approx(row["train_ours_img_s"] / row["train_keras_img_s"])
    assert row["fused_bn_speedup"] == pytest.approx(row["train_ours_img_s"] / row["train_ours_unfused_bn_img_s"])
    assert 0 < row["fraction_of_matmul"] and row["train_macs_per_s"] == pytest.approx(3 * row["macs"] * row["train_ours_img_s"])
    assert row["infer_b1_ms"] > 0 and row["litert_1t_ms"] > 0 and row["pipeline_img_s"] > 0
    assert row["peak_rss_mib"] >= row["rss_after_imports_mib"] > 100
    with open(tmp_path / "bench" / "results.csv") as fh:
        written = list(csv.DictReader(fh))
    assert written[0]["model"] == "mobilenet_v2" and written[0]["tensorflow"] and written[0]["git_commit"] is not None
    summary = (tmp_path / "bench" / "summary.md").read_text()
    assert "| mobilenet_v2 | 32 | 2,236,682 |" in summary and "G multiply-adds/s" in summary


def test_unknown_model_and_missing_torch_are_config_errors(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="not registered"):
        run_suite(bench_config(tmp_path, models=["resnet51"]))
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    with pytest.raises(ConfigError, match="pip install torch"):
        run_suite(bench_config(tmp_path, models=["resnet50"], torch=True))
