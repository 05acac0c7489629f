"""The Deep Compression report from job folders: per-network table beside the paper, per-seed rows, plot."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from src.compress.storage import layer_fields, layer_storage, table
from src.report.deep_compression import main
from tests.helpers.config import ROOT


def _pruned_kernel(size: int, kept: float) -> np.ndarray:
    rng = np.random.default_rng(0)
    shared = np.linspace(-1.0, 1.0, 32)  # 32 shared values: a quantised kernel
    return np.where(rng.random(size) < kept, rng.choice(shared, size=size), 0.0).astype(np.float32)


def _job(folder, model: str, seed: int, dense: float, compressed: float, pq: float, pqh: float,
         settings: str | None = None) -> None:
    folder.mkdir(parents=True)
    (folder / "results.json").write_text(json.dumps({
        "seed": seed, "model": model, "settings": settings or f"conf/compress/{model}.yaml", "base_test_accuracy": dense,
        "dense_accuracy": dense, "pruned_accuracy": compressed + 0.001, "quantised_accuracy": compressed,
        "accuracy_drop": dense - compressed, "ratio_pq": pq, "ratio_pqh": pqh, "dense_bytes": 1e6,
        "pruned_bytes": 1e5, "quantised_bytes": 1e6 / pq, "huffman_bytes": 1e6 / pqh, "kept_fraction": 0.082,
        "wall_seconds": 300.0, "git_commit": "abc"}))


def test_report_sets_each_network_beside_the_paper(tmp_path):
    for i, seed in enumerate((1, 2, 3)):
        _job(tmp_path / "sweep" / str(i), "lenet_300_100", seed, 0.894, 0.890 - 0.001 * i, 31.7, 42.0 + i)
    _job(tmp_path / "sweep" / "3", "lenet5", 1, 0.911, 0.905, 33.5, 48.0)
    ip1 = layer_storage("ip1", _pruned_kernel(235_200, 0.08), weight_bits=6, index_bits=5)
    (tmp_path / "sweep" / "0" / "compressed").mkdir()
    (tmp_path / "sweep" / "0" / "compressed" / "report.json").write_text(
        json.dumps({"storage": {"layers": {"ip1": layer_fields(ip1)}}}))
    out = tmp_path / "report"
    proc = subprocess.run([sys.executable, "-m", "src.report.deep_compression", str(tmp_path / "sweep"), "--out", str(out)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)  # through the CLI, as docs/compression.md shows it
    assert proc.returncode == 0, proc.stderr[-2000:]
    text = (out / "README.md").read_text()
    assert "| lenet_300_100 | 3 | 0.8940 ± 0.0000 |" in text and "| 32× / 40× |" in text
    assert "43.0 ± 1.0×" in text and "| lenet5 | 1 |" in text and "| 33× / 39× |" in text
    assert "| lenet_300_100 | 3 | 0.8940 | 0.8880 | -0.60 | 31.7× | 44.0× |" in text
    assert "### lenet_300_100, seed 1: storage per layer" in text
    assert table([ip1]).splitlines()[2] in text  # the job's row, rendered from its report.json
    assert "| ip1 | 235,200 | 8.0% | 918.8 KB |" in text
    assert "### lenet5" not in text  # its job has no compressed/report.json
    assert (out / "accuracy_vs_ratio.png").stat().st_size > 0


def test_other_settings_of_a_network_get_rows_of_their_own(tmp_path):
    _job(tmp_path / "sweep" / "0", "lenet_300_100", 1, 0.894, 0.888, 31.7, 42.0)
    _job(tmp_path / "sweep" / "1", "lenet_300_100", 1, 0.894, 0.892, 27.0, 36.0,
         settings="conf/compress/lenet_300_100_ip1_10pct.yaml")
    out = tmp_path / "report"
    main([str(tmp_path / "sweep"), "--out", str(out)])
    text = (out / "README.md").read_text()
    assert "| lenet_300_100 | 1 | 0.8940 | 0.8890 | 0.8880 | -0.60 | 8.2% | 31.7× | 42.0× | 32× / 40× |" in text
    assert "| lenet_300_100 (lenet_300_100_ip1_10pct) | 1 | 0.8940 | 0.8930 | 0.8920 | -0.20 |" in text
    assert text.count("| 32× / 40× |") == 2  # both beside the paper's LeNet-300-100
    assert "| lenet_300_100 (lenet_300_100_ip1_10pct) | 1 | 0.8940 | 0.8920 | -0.20 | 27.0× | 36.0× |" in text


def test_a_report_json_without_the_storage_fields_is_a_clear_error(tmp_path):
    _job(tmp_path / "sweep" / "0", "lenet5", 1, 0.911, 0.905, 33.5, 48.0)
    (tmp_path / "sweep" / "0" / "compressed").mkdir()
    (tmp_path / "sweep" / "0" / "compressed" / "report.json").write_text(
        json.dumps({"storage": {"layers": {"ip1": {"weights": 10, "kept": 1}}}}))
    with pytest.raises(ValueError, match="re-run the compression job"):
        main([str(tmp_path / "sweep"), "--out", str(tmp_path / "o")])


def test_a_folder_that_does_not_exist_is_a_clear_error(tmp_path):
    _job(tmp_path / "sweep" / "0", "lenet5", 1, 0.911, 0.905, 33.5, 48.0)
    with pytest.raises(SystemExit, match=r"no such sweep or job folder: .*elsewhere"):
        main([str(tmp_path / "sweep"), str(tmp_path / "elsewhere"), "--out", str(tmp_path / "o")])


def test_no_job_is_a_clear_error(tmp_path):
    with pytest.raises(SystemExit, match="no finished Deep Compression job"):
        main([str(tmp_path), "--out", str(tmp_path / "o")])


def test_rerender_of_the_committed_report_through_the_cli(tmp_path):
    """`python -m src.report.deep_compression --from-results`: the claim per network, paired, TOST, Holm."""
    shutil.copytree(ROOT / "experiments" / "deep_compression", tmp_path / "dc")
    proc = subprocess.run([sys.executable, "-m", "src.report.deep_compression", "--from-results",
                           str(tmp_path / "dc" / "results.csv")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    text = (tmp_path / "dc" / "README.md").read_text()
    # LeNet-300-100 loses 0.95, 0.67, 0.74 pp: mean 0.79, SD 0.147, t(2) = −9.3, p = 0.011
    assert "| lenet_300_100 | -0.79 [-1.15, -0.42] pp | paired t-test + TOST | 3 | 0.011; TOST 0.962 |" in text
    assert "inconclusive: they differ (p = 0.011), but the interval [-1.15, -0.42] pp reaches inside ±0.50 pp" in text
    assert text.count("## The claim") == 1 and text.index("## The claim") < text.index("![accuracy against")
