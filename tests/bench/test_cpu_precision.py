"""The per-precision CPU benchmark on tiny settings: three variants timed, each built as it says."""

import keras

from src.bench import cpu_precision
from src.layers import BatchNormalization


def test_variants_are_built_with_their_policy_and_bn_path():
    for column, policy, fused in cpu_precision.VARIANTS:
        model = cpu_precision.build_variant("resnet20", (8, 8, 1), policy, fused)
        bns = [layer for layer in model.layers if isinstance(layer, BatchNormalization)]
        assert bns and {bn.fused for bn in bns} == {fused}, column
        assert {bn.dtype_policy.name for bn in bns} == {policy}, column
    assert keras.config.dtype_policy().name == "float32"  # the process-wide policy is restored


def test_times_every_variant_and_writes_the_summary(tmp_path):
    rows = cpu_precision.main(["--models", "resnet20", "--size", "8", "--batch", "2", "--steps", "1",
                               "--warmup", "1", "--out", str(tmp_path)])
    (row,) = rows
    for column, _, _ in cpu_precision.VARIANTS:
        assert row[f"{column}_img_s"] > 0
    assert row["bf16_fused_bn_over_float32"] == row["bf16_fused_bn_img_s"] / row["float32_img_s"]
    assert row["input"] == "8x8x1" and row["params"] > 0 and row["macs"] > 0
    summary = (tmp_path / "summary.md").read_text()
    assert "| resnet20 |" in summary and "flags:" in summary
    assert (tmp_path / "results.csv").read_text().startswith("model,input,batch")


def test_cpu_description_names_the_flags_it_looks_for():
    env = cpu_precision.cpu_description()
    assert set(env) == {"cpu", "cpu_flags"} and env["cpu_flags"]
