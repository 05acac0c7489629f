"""src.bench.accelerator: ours vs torchvision per precision, each measurement in a fresh process."""

from __future__ import annotations

import argparse
import csv

import pytest

from src.bench import accelerator
from src.bench.peers import build_ours
from src.profiling import count_params


def _args(**kw) -> argparse.Namespace:
    base = dict(size=32, batch=4, steps=2, warmup=0, jit=0, torch_device="cpu", no_torch=False, budget_s=60)
    return argparse.Namespace(**{**base, **kw})


def _fake_worker(ours_params: int, torch_params: int):
    def run(module: str, *args, timeout: float = 0) -> dict:
        if module == "src.bench.keras_train":
            return {"seconds": [0.5, 0.5], "params": ours_params, "backend": "jax", "device": "gpu", "keras": "3",
                    "matmul_precision": "None"}
        return {"seconds": [1.0, 1.0], "params": torch_params, "device": "gpu", "torch": "2", "tf32": "x"}
    return run


def test_ratio_is_ours_over_torch(monkeypatch):
    monkeypatch.setattr(accelerator, "torch_installed", lambda: True)
    monkeypatch.setattr(accelerator, "json_of_module", _fake_worker(10, 10))
    row = accelerator.measure("resnet50", "float32", _args())
    assert row["ours_img_s"] == pytest.approx(8.0) and row["torch_img_s"] == pytest.approx(4.0)
    assert row["ratio_vs_torch"] == pytest.approx(2.0)


def test_a_different_network_is_refused(monkeypatch):
    monkeypatch.setattr(accelerator, "torch_installed", lambda: True)
    monkeypatch.setattr(accelerator, "json_of_module", _fake_worker(10, 11))
    with pytest.raises(AssertionError, match="not the same network"):
        accelerator.measure("resnet50", "float32", _args())


def test_tiny_run_writes_one_row_per_precision(tmp_path):
    rows = accelerator.main(["--models", "squeezenet1_1", "--precisions", "float32,mixed_bfloat16", "--size", "32",
                             "--batch", "2", "--steps", "1", "--warmup", "0", "--jit", "0", "--no-torch",
                             "--out", str(tmp_path)])
    written = list(csv.DictReader((tmp_path / "results.csv").open()))
    assert [r["precision"] for r in written] == ["float32", "mixed_bfloat16"] == [r["precision"] for r in rows]
    params = count_params(build_ours("squeezenet1_1", 32)).trainable
    assert all(int(r["ours_params"]) == params and float(r["ours_img_s"]) > 0 for r in written)
    assert "| squeezenet1_1 | mixed_bfloat16 |" in (tmp_path / "summary.md").read_text()
