"""The BatchNormalization micro-benchmark on tiny settings: both paths timed, the layer's rule restored."""

from src.bench import batch_norm as bench
from src.layers import batch_norm


def test_times_both_paths_and_restores_the_channel_rule(tmp_path):
    rows = bench.main(["--batch", "2", "--size", "4", "--repeats", "1", "--warmup", "1", "--channels", "12,16",
                       "--out", str(tmp_path / "bn.csv")])
    assert [r["channels"] for r in rows] == [12, 16] and all(r["fused_ms"] > 0 and r["keras_ms"] > 0 for r in rows)
    assert [r["fused_by_rule"] for r in rows] == [False, True]
    assert batch_norm.FUSED_CHANNEL_MULTIPLE == {"float32": 8, "bfloat16": 16}
    assert (tmp_path / "bn.csv").read_text().startswith("precision,batch,size,channels")


def test_bfloat16_run_uses_the_bfloat16_rule():
    rows = bench.main(["--batch", "2", "--size", "4", "--repeats", "1", "--warmup", "1", "--channels", "8,16",
                       "--precision", "mixed_bfloat16"])
    assert [(r["precision"], r["fused_by_rule"]) for r in rows] == [("mixed_bfloat16", False), ("mixed_bfloat16", True)]
    assert batch_norm.FUSED_CHANNEL_MULTIPLE["bfloat16"] == 16
