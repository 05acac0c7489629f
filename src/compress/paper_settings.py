"""Deep Compression's published per-layer settings and figures at ImageNet scale, as data.

Han, Mao & Dally, "Deep Compression", ICLR 2016 (arXiv:1510.00149v5): Table 4 (AlexNet) and Table 5
(VGG-16) print per layer the kept fraction after pruning, the weight and index bits and the P+Q
compress rate (stored bits over the dense 32-bit layer); Tables 1 and 7 give the totals (AlexNet
240 MB → 8.9 MB, 27×; VGG-16 552 MB → 11.3 MB at 49× after Huffman, 31× P+Q). The kept fractions and
totals are the paper's Tables 1, 4 and 5; the per-layer rates are Table 4/5's as printed.

The authors' released compressed AlexNet (github.com/songhan/Deep-Compression-AlexNet,
``AlexNet_compressed.net``, decoded by its ``decode.py``) is the one compressed network whose storage
can be counted entry by entry: 8-bit conv / 4-bit FC weight indices (Table 6's "8 bits / 4 bits" row),
4-bit relative indices, and per layer a 32-bit codebook, the float biases and ``nz_num`` stored entries
(kept weights plus filler zeros). Its header's ``nz_num`` is printed in "Deep compression case study"
(net-titech.github.io, 2017-05-05); the file itself is not reachable from here. Those entry counts
reproduce Table 4's conv2–conv5 rates to the printed digit, which cross-checks them.
"""

from __future__ import annotations

from dataclasses import dataclass

PAPER = "Han et al., ICLR 2016, arXiv:1510.00149v5"


@dataclass(frozen=True)
class LayerSetting:
    """One row of Table 4/5: a layer's dense weight count, kept fraction, bits and printed P+Q rate."""

    name: str
    weights: int
    kept_fraction: float
    weight_bits: int
    index_bits: int
    printed_rate: float  # Table 4/5 "Compress rate (P+Q)": stored bits / (32 × weights)


def _rows(rows, index_bits: int) -> tuple[LayerSetting, ...]:
    return tuple(LayerSetting(name, weights, kept, bits, index_bits, rate) for name, weights, kept, bits, rate in rows)


#: Table 4 (AlexNet): 8-bit conv, 5-bit FC weights, 4-bit indices.
ALEXNET = _rows([
    ("conv1", 34_848, .84, 8, .326), ("conv2", 307_200, .38, 8, .145), ("conv3", 884_736, .35, 8, .131),
    ("conv4", 663_552, .37, 8, .141), ("conv5", 442_368, .37, 8, .140), ("fc6", 37_748_736, .09, 5, .030),
    ("fc7", 16_777_216, .09, 5, .030), ("fc8", 4_096_000, .25, 5, .073),
], index_bits=4)
#: Table 5 (VGG-16): 8-bit conv, 5-bit FC weights, 5-bit indices.
VGG16 = _rows([
    ("conv1_1", 1_728, .58, 8, .400), ("conv1_2", 36_864, .22, 8, .098), ("conv2_1", 73_728, .34, 8, .143),
    ("conv2_2", 147_456, .36, 8, .147), ("conv3_1", 294_912, .53, 8, .217), ("conv3_2", 589_824, .24, 8, .097),
    ("conv3_3", 589_824, .42, 8, .170), ("conv4_1", 1_179_648, .32, 8, .131), ("conv4_2", 2_359_296, .27, 8, .109),
    ("conv4_3", 2_359_296, .34, 8, .140), ("conv5_1", 2_359_296, .35, 8, .143), ("conv5_2", 2_359_296, .29, 8, .117),
    ("conv5_3", 2_359_296, .36, 8, .148), ("fc6", 102_760_448, .04, 5, .016), ("fc7", 16_777_216, .04, 5, .015),
    ("fc8", 4_096_000, .23, 5, .071),
], index_bits=5)
#: The papers' P+Q totals (Table 4/5 total rows; Table 7: 240 MB → 8.9 MB for AlexNet).
TOTAL_RATIO = {"alexnet": 27.0, "vgg16": 31.0}


@dataclass(frozen=True)
class ReleasedLayer:
    """One layer of the released compressed AlexNet: its stored entries and their bits."""

    name: str
    weights: int
    biases: int  # stored as 32-bit floats
    entries: int  # nz_num: kept weights + filler zeros
    weight_bits: int
    index_bits: int

    def file_bytes(self) -> int:
        """This layer's bytes in the file as decode.py reads them: the codebook (2**weight_bits float32),
        the biases (float32), the weight indices and the 4-bit gaps, each packed into whole bytes."""
        per_byte = 8 // self.weight_bits
        return (4 * 2**self.weight_bits + 4 * self.biases + -(-self.entries // per_byte)
                + -(-self.entries * self.index_bits // 8))


_ALEXNET_BIASES = (96, 256, 384, 384, 256, 4096, 4096, 1000)
_RELEASED_ENTRIES = (29_388, 118_492, 309_138, 247_913, 163_904, 4_665_474, 1_959_380, 1_061_645)
#: songhan/Deep-Compression-AlexNet's AlexNet_compressed.net: nz_num per layer (header), 8/4-bit weights, 4-bit gaps.
RELEASED_ALEXNET = tuple(
    ReleasedLayer(row.name, row.weights, biases, entries, 8 if row.name.startswith("conv") else 4, 4)
    for row, biases, entries in zip(ALEXNET, _ALEXNET_BIASES, _RELEASED_ENTRIES)
)
#: The file's header: one uint32 nz_num per layer.
RELEASED_HEADER_BYTES = 4 * len(RELEASED_ALEXNET)
