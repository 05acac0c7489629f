"""Reader for the IDX format of (Fashion-)MNIST (LeCun et al.), gzip-compressed or raw.

Written by hand because it is 40 lines and the alternative (keras.datasets) downloads.
Every header field is checked, so a truncated or corrupt file fails loudly instead of
yielding a silently wrong array.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from src.errors import DataError

_UBYTE = 0x08
_MAGIC_RANK = {0x00000801: 1, 0x00000803: 3}  # labels (N,), images (N, H, W)


def read_idx(path: str | Path) -> np.ndarray:
    """Return the uint8 array stored in an IDX file (``.gz`` or uncompressed)."""
    path = Path(path)
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                raw = fh.read()
        else:
            raw = path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(
            f"{path} is not a readable IDX file ({type(exc).__name__}: {exc}); "
            "the file is truncated or corrupt: reinstall the data "
            "(apt-get install --reinstall dataset-fashion-mnist)."
        ) from exc
    return parse_idx(raw, str(path))


def parse_idx(raw: bytes, name: str = "<bytes>") -> np.ndarray:
    """Parse IDX bytes: 4-byte magic (0x00 0x00 dtype rank), rank big-endian uint32 dims, data."""
    fix = "reinstall the data (apt-get install --reinstall dataset-fashion-mnist)"
    if len(raw) < 8:
        raise DataError(f"{name}: only {len(raw)} bytes, too short for an IDX header; {fix}.")
    magic = int.from_bytes(raw[:4], "big")
    if magic not in _MAGIC_RANK or raw[2] != _UBYTE:
        raise DataError(f"{name}: bad IDX magic number 0x{magic:08x}; not an unsigned-byte IDX file; {fix}.")
    rank = _MAGIC_RANK[magic]
    header = 4 + 4 * rank
    if len(raw) < header:
        raise DataError(f"{name}: truncated IDX header; {fix}.")
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(rank))
    expected = header + int(np.prod(dims))
    if len(raw) != expected:
        raise DataError(
            f"{name}: header promises {dims} = {expected - header} bytes of data, "
            f"file holds {len(raw) - header}; the file is truncated or corrupt; {fix}."
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)
