"""The input-pipeline A/B (`python -m src.bench.input_variants`) through its CLI, in smoke size."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT


def test_input_variants_measure_every_named_variant_through_the_cli(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "src.bench.input_variants", "--files", "10", "--scale", "0.1",
                           "--rounds", "1", "--variants", "raw,train,train_copy,epoch_flips", "--out", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads((tmp_path / "variants.json").read_text())
    assert set(summary["median"]) == {"raw", "train", "train_copy", "epoch_flips"}
    assert all(rate > 0 for rate in summary["median"].values())
    assert "| epoch_flips |" in proc.stdout


def test_an_unknown_variant_is_refused_with_the_choices(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "src.bench.input_variants", "--variants", "raw,fast"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0 and "unknown variant(s) ['fast']" in proc.stderr and "integer_fast" in proc.stderr
