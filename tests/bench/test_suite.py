"""The benchmark suite (src/bench/suite.py) on tiny settings: every measurement is taken and written."""

from __future__ import annotations

import csv

import pytest
from omegaconf import OmegaConf

from src.bench import suite
from src.bench.step_server import ProcessStepper
from src.bench.suite import run_suite
from src.errors import ConfigError
from tests.helpers.config import ROOT


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
    # the package turns oneDNN on (src/__init__.py); the variant trained in a worker process with it off
    assert row["tf_onednn"] == "on"
    assert row["onednn_speedup"] == pytest.approx(row["train_ours_img_s"] / row["train_ours_onednn_off_img_s"])
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


def _torch_redirected_to_a_fake(params: int):
    """ProcessStepper as the suite calls it, but torchvision's worker is tests/bench/fake_step_server.py
    (10 ms steps, ``params`` trainable parameters): the suite's torch wiring without PyTorch."""
    def stepper(module, *args, **kwargs):
        if module == "src.bench.torch_train":
            assert args[:2] == ("--serve", "squeezenet1_1")
            return ProcessStepper("tests.bench.fake_step_server", "ok", env={"FAKE_PARAMS": str(params)})
        return ProcessStepper(module, *args, **kwargs)
    return stepper


def test_torchvision_is_stepped_in_the_same_rounds_and_must_be_the_same_network(tmp_path, monkeypatch):
    monkeypatch.setattr(suite, "torch_available", lambda setting: True)
    tiny = dict(models=["squeezenet1_1"], steps=2, inference=False, litert=False, memory=False, pipeline=False,
                xla_variant=False, onednn_variant=False)
    monkeypatch.setattr(suite, "ProcessStepper", _torch_redirected_to_a_fake(727_626))
    row = run_suite(bench_config(tmp_path, **tiny))[0]
    assert row["torch_params"] == row["params"] == 727_626
    assert 4 / 0.5 < row["train_torch_img_s"] < 4 / 0.01  # 4 images per fake 10 ms step, plus a pipe round trip
    assert row["ratio_vs_torch"] == pytest.approx(row["train_ours_img_s"] / row["train_torch_img_s"])
    monkeypatch.setattr(suite, "ProcessStepper", _torch_redirected_to_a_fake(7))
    with pytest.raises(AssertionError, match="torchvision's squeezenet1_1 7: not the same network"):
        run_suite(bench_config(tmp_path, **tiny))
