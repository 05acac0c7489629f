"""Re-encoding an image file as RGB JPEG (Pillow), for the TFRecord converter and the manifest's conversions."""

from __future__ import annotations

import io
from pathlib import Path


def as_rgb_jpeg(path: str | Path, quality: int = 95) -> bytes:
    """The image at ``path`` (PNG, GIF, BMP, WebP, CMYK JPEG, ...) as RGB JPEG bytes."""
    from PIL import Image

    with Image.open(path) as image:
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, format="JPEG", quality=quality)
        return buffer.getvalue()
