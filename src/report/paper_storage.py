"""Deep Compression's storage at ImageNet scale, counted without training, beside the paper's figures:

    python -m src.report.paper_storage [--out experiments/deep_compression/imagenet_storage.md]

Three counts with `src.compress.storage`'s accounting (per stored entry a weight index and a relative
index, per layer a 32-bit codebook; kernels only, against their dense float32 bits):
AlexNet and VGG-16 from the paper's per-layer kept fractions and bits with kept weights at random
positions (the filler zeros a gap of more than 2**index_bits needs are then geometric), and the
authors' released compressed AlexNet from its real per-layer entry counts (src/compress/paper_settings.py).
Each layer's rate sits beside the one Tables 4–5 print; each total beside the paper's P+Q ratio.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from src.compress import paper_settings as paper
from src.compress.storage import FLOAT_BITS, expected_layer_storage, quantised_bits

DEFAULT_OUT = Path("experiments/deep_compression/imagenet_storage.md")


def random_mask_rows(settings: Sequence[paper.LayerSetting]) -> list[dict]:
    """Per layer: the paper's settings, expected fillers and stored bits with randomly placed kept weights."""
    rows = []
    for s in settings:
        layer = expected_layer_storage(s.name, s.weights, s.kept_fraction, s.weight_bits, s.index_bits)
        rows.append({"name": s.name, "weights": s.weights, "kept": layer.kept, "fillers": layer.fillers,
                     "entries": layer.kept + layer.fillers, "weight_bits": s.weight_bits, "index_bits": s.index_bits,
                     "bits": layer.quantised_bits, "printed_rate": s.printed_rate})
    return rows


def released_rows(fc_weight_bits: int | None = None) -> list[dict]:
    """Per layer of the released AlexNet: its stored entries at its own bits, or with FC weights at
    ``fc_weight_bits`` (Table 4 labels them 5-bit; the file stores 4)."""
    rows = []
    for layer, setting in zip(paper.RELEASED_ALEXNET, paper.ALEXNET):
        bits = layer.weight_bits if fc_weight_bits is None or layer.name.startswith("conv") else fc_weight_bits
        rows.append({"name": layer.name, "weights": layer.weights, "entries": layer.entries, "weight_bits": bits,
                     "index_bits": layer.index_bits, "bits": quantised_bits(layer.entries, bits, layer.index_bits),
                     "printed_rate": setting.printed_rate})
    return rows


def ratio(rows: Sequence[dict]) -> float:
    """Dense float32 kernel bits over stored bits, over all layers."""
    return sum(r["weights"] for r in rows) * FLOAT_BITS / sum(r["bits"] for r in rows)


def printed_rows_ratio(settings: Sequence[paper.LayerSetting]) -> float:
    """The total ratio that a table's own per-layer rates add up to."""
    return sum(s.weights for s in settings) / sum(s.weights * s.printed_rate for s in settings)


def released_file_bytes() -> int:
    return paper.RELEASED_HEADER_BYTES + sum(layer.file_bytes() for layer in paper.RELEASED_ALEXNET)


def _rate(row: dict) -> str:
    return f"{row['bits'] / (FLOAT_BITS * row['weights']):.1%}"


def _share(row: dict) -> str:
    return f"{row['entries'] / row['weights']:.1%}"


def _table(rows: Sequence[dict], paper_total: float, with_fillers: bool) -> list[str]:
    head = "| layer | weights | kept | fillers per kept | " if with_fillers else "| layer | weights | "
    lines = [head + "stored entries / weights | bits (weight + index) | P+Q KB | rate (ours) | rate (paper) |",
             "|" + "---|" * (9 if with_fillers else 7)]
    for r in rows:
        cells = [r["name"], f"{r['weights']:,}"]
        if with_fillers:
            cells += [f"{r['kept'] / r['weights']:.0%}", f"{r['fillers'] / max(r['kept'], 1):.3f}"]
        cells += [f"{r['entries'] / r['weights']:.2%}", f"{r['weight_bits']} + {r['index_bits']}",
                  f"{r['bits'] / 8 / 1024:,.1f}", f"{r['bits'] / (FLOAT_BITS * r['weights']):.2%}",
                  f"{r['printed_rate']:.1%}"]
        lines.append("| " + " | ".join(cells) + " |")
    total = ratio(rows)
    lines.append(f"| total | {sum(r['weights'] for r in rows):,} | " + ("| | " if with_fillers else "")
                 + f"{sum(r['entries'] for r in rows) / sum(r['weights'] for r in rows):.2%} | | "
                 f"{sum(r['bits'] for r in rows) / 8 / 1024:,.1f} | **{total:.1f}×** "
                 f"({total / paper_total - 1:+.1%} vs {paper_total:.0f}×) "
                 f"| {1 / paper_total:.1%} ({paper_total:.0f}×) |")
    return lines


def report() -> str:
    alex_random, vgg_random = random_mask_rows(paper.ALEXNET), random_mask_rows(paper.VGG16)
    released, released_5bit = released_rows(), released_rows(fc_weight_bits=5)
    alex_total, vgg_total = paper.TOTAL_RATIO["alexnet"], paper.TOTAL_RATIO["vgg16"]
    file_bytes = released_file_bytes()
    fc, fc5, rnd = ({r["name"]: r for r in rows} for rows in (released, released_5bit, alex_random))
    dense_with_biases = 4 * sum(layer.weights + layer.biases for layer in paper.RELEASED_ALEXNET)
    lines = [
        "# Deep Compression's storage at ImageNet scale (no training)",
        "",
        "Generated by `python -m src.report.paper_storage` (src/report/paper_storage.py; data in",
        "src/compress/paper_settings.py). Accounting of src/compress/storage.py: per stored entry (a kept",
        "weight or a filler zero) a weight index and a relative index, per layer a 2^bits codebook of 32-bit",
        f"floats; against the dense float32 kernels. Paper: {paper.PAPER}, Tables 4–5 (rates as printed).",
        "",
        "## AlexNet, the authors' released compressed model (real entry counts)",
        "",
        "songhan/Deep-Compression-AlexNet's `AlexNet_compressed.net`: the entries per layer from its header,",
        "stored as its `decode.py` reads them (8-bit conv / 4-bit FC weight indices, Table 6's \"8 / 4 bits\"",
        "row, and 4-bit relative indices).",
        "",
        *_table(released, alex_total, with_fillers=False),
        "",
        f"- The whole file, header and float32 biases included, as decode.py reads it: {file_bytes:,} bytes",
        f"  ({file_bytes / 1e6:.2f} MB), {dense_with_biases / file_bytes:.2f}× smaller than AlexNet's float32 weights",
        f"  and biases ({dense_with_biases / 1e6:.1f} MB). The paper: 240 MB → 8.9 MB, 27× (Tables 1, 7).",
        f"- The same entries with 5-bit FC weights, as Table 4 labels them: **{ratio(released_5bit):.1f}×**"
        f" ({ratio(released_5bit) / alex_total - 1:+.1%}). Table 4's fc6/fc7 rates "
        f"({fc['fc6']['printed_rate']:.1%}, {fc['fc7']['printed_rate']:.1%}) are below what the released entries",
        f"  take at 5 bits ({_rate(fc5['fc6'])}, {_rate(fc5['fc7'])}); at the file's 4 bits they take "
        f"{_rate(fc['fc6'])} and {_rate(fc['fc7'])}. Its fc8 rate",
        f"  ({fc['fc8']['printed_rate']:.1%}) is the released fc8 at 5 bits ({_rate(fc5['fc8'])}; 4 bits: "
        f"{_rate(fc['fc8'])}): the table mixes the two widths.",
        f"- Table 4's own per-layer rates add up to {printed_rows_ratio(paper.ALEXNET):.1f}×.",
        "",
        "## AlexNet from Table 4's settings, kept weights at random positions",
        "",
        *_table(alex_random, alex_total, with_fillers=True),
        "",
        "- Without masks only the filler count is unknown. Random positions need "
        f"{rnd['fc6']['fillers'] / rnd['fc6']['kept']:.2f} fillers per kept weight in fc6/fc7, i.e.",
        f"  {_share(rnd['fc6'])} of the weights stored; the released model stores {_share(fc['fc6'])} (fc6) and "
        f"{_share(fc['fc7'])} (fc7),",
        "  so its masks are not spread more evenly than random ones (its header does not say how many of",
        "  its entries are fillers, nor whether it keeps exactly Table 4's "
        f"{rnd['fc6']['kept'] / rnd['fc6']['weights']:.0%}).",
        "",
        "## VGG-16 from Table 5's settings, kept weights at random positions",
        "",
        *_table(vgg_random, vgg_total, with_fillers=True),
        "",
        f"- Table 5's own per-layer rates add up to {printed_rows_ratio(paper.VGG16):.1f}×, not the "
        f"{vgg_total:.0f}× of its total row.",
        "",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report())
    print(f"wrote {args.out}")
    return args.out


if __name__ == "__main__":
    main()
