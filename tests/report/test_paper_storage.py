"""The ImageNet-scale storage report (src/report/paper_storage.py): the released AlexNet's real entry
counts and the papers' per-layer settings, counted with src/compress/storage.py."""

import pytest

from src.compress import paper_settings as paper
from src.report import paper_storage


def test_released_alexnet_reproduces_the_papers_total():
    """The authors' released compressed AlexNet (its header's entry counts, 8-bit conv / 4-bit FC weight
    indices, 4-bit gaps) counted with our accounting: 27.1× on the kernels, and its whole file as
    decode.py reads it (header, codebooks, float32 biases, packed codes and gaps) 9,037,369 bytes, 26.98×
    the float32 weights and biases: the paper's 27× (240 MB → 8.9 MB). Its conv layers reproduce Table 4's
    printed conv2–conv5 rates to the digit; at Table 4's 5-bit FC label the same entries give 24.5×."""
    released = paper_storage.released_rows()
    assert paper_storage.ratio(released) == pytest.approx(27, rel=0.01)
    assert paper_storage.released_file_bytes() == 9_037_369
    dense = 4 * sum(layer.weights + layer.biases for layer in paper.RELEASED_ALEXNET)
    assert dense / paper_storage.released_file_bytes() == pytest.approx(27, rel=0.01)
    for row in released[1:5]:  # conv2..conv5: printed to 0.1 pp
        assert row["bits"] / (32 * row["weights"]) == pytest.approx(row["printed_rate"], abs=0.0006), row["name"]
    assert paper_storage.ratio(paper_storage.released_rows(fc_weight_bits=5)) < 0.95 * 27
    assert paper_storage.printed_rows_ratio(paper.ALEXNET) == pytest.approx(27, rel=0.005)  # Table 4 adds up
    assert paper_storage.printed_rows_ratio(paper.VGG16) > 1.05 * 31  # Table 5's rows do not add up to its 31×


def test_paper_storage_report_is_written(tmp_path):
    out = paper_storage.main(["--out", str(tmp_path / "storage.md")])
    text = out.read_text()
    for total in ("**27.1×** (+0.4% vs 27×)", "**25.5×** (-5.5% vs 27×)", "**32.2×** (+3.8% vs 31×)"):
        assert total in text
    assert "9,037,369 bytes" in text
