"""What an image file is, from its first and last bytes: decided before training, not mid-epoch.

ImageNet's training set holds one PNG and 22 CMYK JPEGs named ``.JPEG``, and downloaded trees often
hold truncated or non-image files. The fused JPEG crop (`tf.io.decode_and_crop_jpeg`) fails on a PNG,
and a truncated JPEG fails only for crop windows that reach its missing rows, so an unchecked stream
crashes at random. A header check costs two small reads per file; hand-written because no library
reads a JPEG's component count without decoding (PIL's ``Image.open`` parses the whole header chain,
≈10× slower per file).
"""

from __future__ import annotations

from pathlib import Path

#: Kinds a file can be. ``jpeg``: the fused crop path; ``jpeg_cmyk``: four components, which some
#: readers cannot convert (TensorFlow 2.21 can; the TFRecord converter re-encodes it as RGB);
#: ``other_image``: PNG/GIF/BMP/WebP, decoded by `tf.io.decode_image`; ``truncated``: a JPEG without its
#: end-of-image marker; ``not_an_image``: none of these signatures.
KINDS = ("jpeg", "jpeg_cmyk", "other_image", "truncated", "not_an_image")
READABLE = ("jpeg", "jpeg_cmyk", "other_image")
_SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"BM")
_TAIL = 2048  # the end-of-image marker must lie in the last 2 KB (trailing padding after it is common)
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg_components(handle, size: int) -> int | None:
    """The component count of the first start-of-frame segment, walking the marker chain by lengths."""
    offset = 2
    while offset + 4 <= size:
        handle.seek(offset)
        head = handle.read(4)
        if len(head) < 4 or head[0] != 0xFF:
            return None
        marker = head[1]
        if marker == 0xFF:  # fill byte
            offset += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # markers without a length
            offset += 2
            continue
        length = int.from_bytes(head[2:4], "big")
        if marker in _SOF:
            handle.seek(offset + 9)
            count = handle.read(1)
            return count[0] if count else None
        if marker == 0xDA:  # start of scan before any frame header: malformed
            return None
        offset += 2 + length
    return None


def sniff(path: str | Path) -> str:
    """The kind (`KINDS`) of the file at ``path``, from its signature, frame header and tail."""
    path = Path(path)
    size = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(12)
        if head[:3] == b"\xff\xd8\xff":
            handle.seek(max(0, size - _TAIL))
            if b"\xff\xd9" not in handle.read(_TAIL):
                return "truncated"
            components = _jpeg_components(handle, size)
            if components is None:
                return "truncated"
            return "jpeg_cmyk" if components == 4 else "jpeg"
        if any(head.startswith(sig) for sig in _SIGNATURES) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
            return "other_image"
    return "not_an_image"


def decodes(path: str | Path) -> bool:
    """Whether Pillow decodes every pixel of the file (the slow check, ``data.verify=decode``)."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.load()
        return True
    except Exception:  # noqa: BLE001 — any failure means "unreadable"; the caller names the file
        return False
