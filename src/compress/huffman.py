"""Huffman coding of integer symbols (Deep Compression stage 3; Han et al., ICLR 2016, §4).

Written by hand: no well-kept Python library encodes numpy symbol streams to a bit string and back with
canonical codes. Canonical codes are fully described by the code length of each symbol, so the table
costs (symbol, length) pairs.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable

import numpy as np


def code_lengths(counts: dict[int, int]) -> dict[int, int]:
    """Huffman code length per symbol (a single symbol gets length 1)."""
    symbols = [s for s, c in counts.items() if c > 0]
    if not symbols:
        return {}
    if len(symbols) == 1:
        return {symbols[0]: 1}
    # (weight, tie-breaker, symbols in the subtree)
    heap = [(counts[s], i, [s]) for i, s in enumerate(sorted(symbols))]
    heapq.heapify(heap)
    lengths = dict.fromkeys(symbols, 0)
    tie = len(heap)
    while len(heap) > 1:
        w1, _, s1 = heapq.heappop(heap)
        w2, _, s2 = heapq.heappop(heap)
        for s in s1 + s2:
            lengths[s] += 1
        heapq.heappush(heap, (w1 + w2, tie, s1 + s2))
        tie += 1
    return lengths


def canonical_codes(lengths: dict[int, int]) -> dict[int, str]:
    """Canonical Huffman codes (as '0'/'1' strings) from code lengths."""
    codes: dict[int, str] = {}
    code, previous = 0, 0
    for symbol, length in sorted(lengths.items(), key=lambda item: (item[1], item[0])):
        code <<= length - previous
        codes[symbol] = format(code, f"0{length}b")
        code += 1
        previous = length
    return codes


def coded_bits(symbols: Iterable[int], symbol_bits: int) -> int:
    """Bits of the Huffman-coded stream plus its code table (`table_bits`)."""
    counts = Counter(int(s) for s in symbols)
    lengths = code_lengths(counts)
    return sum(counts[s] * lengths[s] for s in counts) + table_bits(lengths, symbol_bits)


def encode(symbols: np.ndarray) -> tuple[bytes, dict[int, int], int]:
    """(packed bit stream, code lengths, number of bits) of ``symbols``."""
    symbols = np.asarray(symbols).ravel()
    lengths = code_lengths(Counter(int(s) for s in symbols))
    codes = canonical_codes(lengths)
    bits = "".join(codes[int(s)] for s in symbols)
    packed = np.packbits(np.frombuffer(bits.encode(), dtype=np.uint8) - ord("0")).tobytes() if bits else b""
    return packed, lengths, len(bits)


def decode(packed: bytes, lengths: dict[int, int], n_bits: int) -> np.ndarray:
    """The symbols that `encode` turned into ``packed``."""
    by_code = {code: symbol for symbol, code in canonical_codes(lengths).items()}
    bits = np.unpackbits(np.frombuffer(packed, dtype=np.uint8))[:n_bits]
    out, current = [], ""
    for bit in bits:
        current += "1" if bit else "0"
        if current in by_code:
            out.append(by_code[current])
            current = ""
    if current:
        raise ValueError("the bit stream ends inside a code word: it is truncated or not from this table")
    return np.asarray(out, dtype=np.int64)


def table_bits(lengths: dict[int, int], symbol_bits: int, length_bits: int = 5) -> int:
    """Storage of a canonical code table: one (symbol, code length) pair per used symbol."""
    return len(lengths) * (symbol_bits + length_bits)
