"""Deep Compression's storage format and accounting (Han et al., ICLR 2016, §2–§4, Tables 1–5).

A pruned and quantised layer is stored as: a codebook of shared weights (32-bit floats, entry 0 is
0.0, as with sparsity-preserving weight clustering), one weight index (``weight_bits``) per stored
entry, and the relative position of each stored entry (the gap to the previous one, ``index_bits``).
A gap larger than 2**index_bits is bridged by filler zeros (§2, Fig. 2). Stage 3 Huffman-codes the
weight indices and the gaps. `layer_storage` counts the bits of each stage in the layout of the
paper's Table 4 (dense fp32 → pruned → pruned + quantised → + Huffman); `encode_layer` /
`decode_layer` do the real encoding, so a round trip checks that the accounting describes a
representation that decodes to exactly the quantised weights.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from src.compress import huffman

FLOAT_BITS = 32


def relative_positions(mask: np.ndarray, index_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """(gaps, is_filler) of the stored entries of a flattened ``mask``: each gap in 1..2**index_bits is
    the distance to the previous stored entry (the first from position -1); a filler zero is inserted
    wherever the next non-zero is farther than 2**index_bits."""
    span = 2**index_bits
    positions = np.flatnonzero(np.asarray(mask).ravel())
    gaps, fillers = [], []
    previous = -1
    for position in positions:
        distance = int(position) - previous
        while distance > span:
            gaps.append(span)
            fillers.append(True)
            distance -= span
        gaps.append(distance)
        fillers.append(False)
        previous = int(position)
    return np.asarray(gaps, dtype=np.int64), np.asarray(fillers, dtype=bool)


def codebook_of(weights: np.ndarray, weight_bits: int) -> np.ndarray:
    """[0.0, the distinct non-zero values of ``weights``...]; at most 2**weight_bits entries."""
    values = np.unique(np.asarray(weights, dtype=np.float32)[np.asarray(weights) != 0])
    if len(values) + 1 > 2**weight_bits:
        raise ValueError(
            f"{len(values)} distinct non-zero weights (plus the zero entry) do not fit a {weight_bits}-bit "
            f"codebook of {2**weight_bits}; quantise to at most {2**weight_bits - 1} shared non-zero values first."
        )
    return np.concatenate([[0.0], values]).astype(np.float32)


def sparse_entries(weights: np.ndarray, weight_bits: int, index_bits: int):
    """(codebook, gaps, is_filler, codebook index) of every stored entry of a pruned, quantised array."""
    flat = np.asarray(weights, dtype=np.float32).ravel()
    codebook = codebook_of(flat, weight_bits)
    gaps, fillers = relative_positions(flat != 0, index_bits)
    indices = np.zeros(len(gaps), dtype=np.int64)  # fillers point at the codebook's zero
    indices[~fillers] = np.searchsorted(codebook[1:], flat[flat != 0]) + 1
    return codebook, gaps, fillers, indices


@dataclass(frozen=True)
class CompressedLayer:
    shape: tuple[int, ...]
    codebook: np.ndarray
    index_bits: int
    weight_bits: int
    weight_stream: bytes
    weight_code_lengths: dict[int, int]
    weight_stream_bits: int
    gap_stream: bytes
    gap_code_lengths: dict[int, int]
    gap_stream_bits: int


def encode_layer(weights: np.ndarray, weight_bits: int, index_bits: int) -> CompressedLayer:
    """The Huffman-coded sparse representation of a pruned, quantised weight array."""
    weights = np.asarray(weights, dtype=np.float32)
    codebook, gaps, fillers, indices = sparse_entries(weights, weight_bits, index_bits)
    w_stream, w_lengths, w_bits = huffman.encode(indices)
    g_stream, g_lengths, g_bits = huffman.encode(gaps)
    return CompressedLayer(weights.shape, codebook, index_bits, weight_bits, w_stream, w_lengths, w_bits,
                           g_stream, g_lengths, g_bits)


def decode_layer(layer: CompressedLayer) -> np.ndarray:
    """The dense weight array a `CompressedLayer` stores."""
    indices = huffman.decode(layer.weight_stream, layer.weight_code_lengths, layer.weight_stream_bits)
    gaps = huffman.decode(layer.gap_stream, layer.gap_code_lengths, layer.gap_stream_bits)
    if len(indices) != len(gaps):
        raise ValueError("weight-index and gap streams differ in length: the representation is corrupt")
    flat = np.zeros(int(np.prod(layer.shape)), dtype=np.float32)
    positions = np.cumsum(gaps) - 1
    flat[positions] = layer.codebook[indices]
    return flat.reshape(layer.shape)


@dataclass(frozen=True)
class LayerStorage:
    """Bits of one layer at each stage (Table 4's columns)."""

    name: str
    weights: int
    kept: int  # non-zero weights after pruning
    fillers: int
    dense_bits: int  # fp32
    pruned_bits: int  # fp32 values + relative indices
    quantised_bits: int  # weight indices + relative indices + codebook
    huffman_bits: int | None  # Huffman-coded indices and gaps + code tables + codebook (needs the weights)

    @property
    def kept_fraction(self) -> float:
        return self.kept / self.weights if self.weights else 0.0


def layer_storage(name: str, weights: np.ndarray, weight_bits: int, index_bits: int) -> LayerStorage:
    """The storage of a pruned, quantised layer at every stage, counted from its actual weights."""
    weights = np.asarray(weights)
    codebook, gaps, fillers, indices = sparse_entries(weights, weight_bits, index_bits)
    entries = len(gaps)
    codebook_bits = len(codebook) * FLOAT_BITS
    huff = (huffman.coded_bits(indices, weight_bits) + huffman.coded_bits(gaps, index_bits) + codebook_bits)
    return LayerStorage(
        name=name, weights=weights.size, kept=int(np.count_nonzero(weights)), fillers=int(fillers.sum()),
        dense_bits=weights.size * FLOAT_BITS,
        pruned_bits=entries * (FLOAT_BITS + index_bits),
        quantised_bits=entries * (weight_bits + index_bits) + codebook_bits,
        huffman_bits=huff,
    )


def quantised_bits(entries: int, weight_bits: int, index_bits: int) -> int:
    """Bits of a pruned + quantised layer of ``entries`` stored entries (kept weights plus filler zeros):
    a weight index and a relative index per entry, and a full 2**weight_bits codebook of 32-bit floats."""
    return entries * (weight_bits + index_bits) + 2**weight_bits * FLOAT_BITS


def expected_layer_storage(name: str, weights: int, kept_fraction: float, weight_bits: int,
                           index_bits: int) -> LayerStorage:
    """The storage of a layer from its published settings alone (no weights): ``kept_fraction`` of
    ``weights`` kept at random positions, so gaps are geometric and the expected number of filler
    zeros per kept weight is q / (1 - q) with q = (1 - kept_fraction) ** 2**index_bits. Huffman needs
    the weights' statistics, so it is left out (None)."""
    kept = round(weights * kept_fraction)
    q = (1.0 - kept_fraction) ** (2**index_bits)
    fillers = round(kept * q / (1.0 - q)) if q < 1 else 0
    entries = kept + fillers
    return LayerStorage(
        name=name, weights=weights, kept=kept, fillers=fillers, dense_bits=weights * FLOAT_BITS,
        pruned_bits=entries * (FLOAT_BITS + index_bits),
        quantised_bits=quantised_bits(entries, weight_bits, index_bits), huffman_bits=None,
    )


def layer_fields(layer: LayerStorage) -> dict:
    """A layer's storage as JSON fields (everything but its name); ``LayerStorage(name=..., **fields)``
    rebuilds it."""
    fields = asdict(layer)
    fields.pop("name")
    return fields


def table(layers: list[LayerStorage]) -> str:
    """Per-layer and total storage as Markdown, in the layout of Deep Compression's Table 4."""

    def kb(bits: int | None) -> str:
        return "–" if bits is None else f"{bits / 8 / 1024:,.1f} KB"

    lines = [
        "| layer | weights | kept | dense fp32 | pruned | pruned + quantised | + Huffman | ratio (P+Q) | ratio (P+Q+H) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    total = {"weights": 0, "kept": 0, "dense": 0, "pruned": 0, "quantised": 0, "huffman": 0}
    has_huffman = all(layer.huffman_bits is not None for layer in layers)
    for layer in layers:
        ratio_h = f"{layer.dense_bits / layer.huffman_bits:.1f}×" if layer.huffman_bits else "–"
        lines.append(
            f"| {layer.name} | {layer.weights:,} | {layer.kept_fraction:.1%} | {kb(layer.dense_bits)} | "
            f"{kb(layer.pruned_bits)} | {kb(layer.quantised_bits)} | {kb(layer.huffman_bits)} | "
            f"{layer.dense_bits / layer.quantised_bits:.1f}× | {ratio_h} |"
        )
        total["weights"] += layer.weights
        total["kept"] += layer.kept
        total["dense"] += layer.dense_bits
        total["pruned"] += layer.pruned_bits
        total["quantised"] += layer.quantised_bits
        total["huffman"] += layer.huffman_bits or 0
    huff_total = total["huffman"] if has_huffman else None
    ratio_h = f"{total['dense'] / huff_total:.1f}×" if huff_total else "–"
    lines.append(
        f"| total | {total['weights']:,} | {total['kept'] / max(total['weights'], 1):.1%} | {kb(total['dense'])} | "
        f"{kb(total['pruned'])} | {kb(total['quantised'])} | {kb(huff_total)} | "
        f"{total['dense'] / total['quantised']:.1f}× | {ratio_h} |"
    )
    return "\n".join(lines)

