"""src.bench.accelerator: ours vs torchvision per precision, each measurement in a fresh process."""

from __future__ import annotations

import argparse
import csv

import pytest

from src.bench import accelerator
from src.bench.peers import build_ours
from src.profiling import count_params


def _args(**kw) -> argparse.Namespace:
    base = dict(size=32, batch=4, steps=2, warmup=0, jit=0, torch_device="cpu", no_torch=False, budget_s=60,
                torch_compile=False, matmul_n=0)
    return argparse.Namespace(**{**base, **kw})


def _fake_worker(ours_params: int, torch_params: int, compile_fails: bool = False):
    def run(module: str, *args, timeout: float = 0) -> dict:
        if module == "src.bench.keras_train":
            return {"seconds": [0.5, 0.5], "params": ours_params, "macs": 1000, "backend": "jax", "device": "gpu",
                    "keras": "3", "matmul_precision": "None"}
        compiled = bool(args[-1]) if len(args) == 8 else False
        if compiled and compile_fails:
            raise RuntimeError("python -m src.bench.torch_train ... failed (exit 1): \nInductor error")
        return {"seconds": [0.25 if compiled else 1.0] * 2, "params": torch_params, "device": "gpu", "torch": "2",
                "tf32": "x", "first_step_s": 30.0 if compiled else 0.1}
    return run


def test_ratio_is_ours_over_torch(monkeypatch):
    monkeypatch.setattr(accelerator, "torch_installed", lambda: True)
    monkeypatch.setattr(accelerator, "json_of_module", _fake_worker(10, 10))
    row = accelerator.measure("resnet50", "float32", _args())
    assert row["ours_img_s"] == pytest.approx(8.0) and row["torch_img_s"] == pytest.approx(4.0)
    assert row["ratio_vs_torch"] == pytest.approx(2.0)
    assert "torch_compiled_img_s" not in row and "fraction_of_matmul" not in row
    assert row["ours_train_macs_per_s"] == pytest.approx(3 * 1000 * 8.0)


def test_compiled_torch_and_the_matmul_fraction(monkeypatch):
    monkeypatch.setattr(accelerator, "torch_installed", lambda: True)
    monkeypatch.setattr(accelerator, "json_of_module", _fake_worker(10, 10))
    row = accelerator.measure("resnet50", "float32", _args(torch_compile=True), matmul_macs_per_s=48000.0)
    assert row["torch_compiled_img_s"] == pytest.approx(16.0) and row["ratio_vs_torch_compiled"] == pytest.approx(0.5)
    assert row["torch_compiled_first_step_s"] == 30.0
    assert row["fraction_of_matmul"] == pytest.approx(0.5)  # 3 × 1000 MACs × 8 img/s of 48,000
    table = accelerator.summary_markdown([row], _args(torch_compile=True))
    assert "| 16 (16–16) | 0.50 |" in table and "| 50% |" in table


def test_a_compiler_failure_keeps_the_eager_figures(monkeypatch):
    monkeypatch.setattr(accelerator, "torch_installed", lambda: True)
    monkeypatch.setattr(accelerator, "json_of_module", _fake_worker(10, 10, compile_fails=True))
    row = accelerator.measure("resnet50", "float32", _args(torch_compile=True))
    assert row["ratio_vs_torch"] == pytest.approx(2.0) and row["torch_compiled_error"] == "Inductor error"
    assert "| failed | n/a |" in accelerator.summary_markdown([row], _args(torch_compile=True))


def test_an_unknown_precision_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit):
        accelerator.main(["--precisions", "float32,fp8", "--out", str(tmp_path)])
    assert "--precisions fp8: use float32, mixed_bfloat16, mixed_float16" in capsys.readouterr().err


def test_a_different_network_is_refused(monkeypatch):
    monkeypatch.setattr(accelerator, "torch_installed", lambda: True)
    monkeypatch.setattr(accelerator, "json_of_module", _fake_worker(10, 11))
    with pytest.raises(AssertionError, match="not the same network"):
        accelerator.measure("resnet50", "float32", _args())


def test_tiny_run_writes_one_row_per_precision(tmp_path):
    rows = accelerator.main(["--models", "squeezenet1_1", "--precisions", "float32,mixed_bfloat16", "--size", "32",
                             "--batch", "2", "--steps", "1", "--warmup", "0", "--jit", "0", "--no-torch",
                             "--matmul-n", "64", "--out", str(tmp_path)])
    written = list(csv.DictReader((tmp_path / "results.csv").open()))
    assert [r["precision"] for r in written] == ["float32", "mixed_bfloat16"] == [r["precision"] for r in rows]
    params = count_params(build_ours("squeezenet1_1", 32)).trainable
    assert all(int(r["ours_params"]) == params and float(r["ours_img_s"]) > 0 for r in written)
    assert all(0 < float(r["fraction_of_matmul"]) for r in written)  # a 64² matmul is a low ceiling: no upper bound
    assert "| squeezenet1_1 | mixed_bfloat16 |" in (tmp_path / "summary.md").read_text()
