"""The geometric transforms of multi-transform inference (Data Distillation §3.1: several scales and a
horizontal flip of each unlabelled image, predictions ensembled); shifts added here, since a teacher
trained with crop augmentation has seen shifts but not rescaling.

For classification the label does not move with the image, so predictions need no inverse mapping (a
detector's boxes would); what must hold is that each transform keeps the image size and maps content
as its name says, which the tests check (a flip is its own inverse, a rescale moves a point at distance
d from the centre to s·d). A rescale is one affine zoom about the centre at the input size; what comes
from outside the source is zero (Fashion-MNIST's background)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from src.errors import ConfigError

_SCALE = re.compile(r"^scale:(\d+(?:\.\d+)?)$")
_SHIFT = re.compile(r"^shift:(-?\d+):(-?\d+)$")


@dataclass(frozen=True)
class Transform:
    """Rescale by ``scale`` about the image centre (same size), shift by ``shift`` = (rows, columns) pixels
    (zero fill), then flip left-right if ``flip``."""

    scale: float = 1.0
    flip: bool = False
    shift: tuple[int, int] = (0, 0)

    @property
    def name(self) -> str:
        parts = (["hflip"] if self.flip else []) + ([f"scale:{self.scale:g}"] if self.scale != 1.0 else [])
        parts += [f"shift:{self.shift[0]}:{self.shift[1]}"] if self.shift != (0, 0) else []
        return "+".join(parts) or "identity"

    def apply(self, images: np.ndarray) -> np.ndarray:
        """uint8 (N, H, W, C) -> uint8 (N, H, W, C)."""
        out = images
        if self.scale != 1.0:
            out = rescale_about_centre(out, self.scale)
        if self.shift != (0, 0):
            out = shift_with_zeros(out, *self.shift)
        if self.flip:
            out = out[:, :, ::-1, :]
        return np.ascontiguousarray(out)


def shift_with_zeros(images: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Content moves down by ``rows`` and right by ``cols`` pixels; vacated pixels are zero."""
    _, h, w, _ = images.shape
    out = np.zeros_like(images)
    out[:, max(rows, 0):h + min(rows, 0), max(cols, 0):w + min(cols, 0)] = \
        images[:, max(-rows, 0):h + min(-rows, 0), max(-cols, 0):w + min(-cols, 0)]
    return out


def rescale_about_centre(images: np.ndarray, scale: float) -> np.ndarray:
    """Zoom by ``scale`` about the image centre, bilinear, same size, zero outside the source (an exact
    affine map: a pixel at offset d from the centre lands at offset scale·d)."""
    import tensorflow as tf

    _, h, w, _ = images.shape
    inv = 1.0 / scale
    cy, cx = (h - 1) / 2, (w - 1) / 2  # output pixel (y, x) samples input ((y - cy)/s + cy, (x - cx)/s + cx)
    transform = tf.constant([[inv, 0.0, cx * (1 - inv), 0.0, inv, cy * (1 - inv), 0.0, 0.0]], tf.float32)
    out = tf.raw_ops.ImageProjectiveTransformV3(
        images=tf.cast(images, tf.float32), transforms=transform, output_shape=tf.constant([h, w]),
        fill_value=tf.constant(0.0), interpolation="BILINEAR", fill_mode="CONSTANT",
    )
    return np.clip(np.round(out.numpy()), 0, 255).astype(images.dtype)


def parse_transform(spec: str) -> Transform:
    """``identity``, ``hflip``, ``scale:S`` or a ``+``-joined combination such as ``hflip+scale:1.2``."""
    scale, flip, shift = 1.0, False, (0, 0)
    for part in str(spec).split("+"):
        part = part.strip()
        scaled, shifted = _SCALE.match(part), _SHIFT.match(part)
        if part == "identity":
            continue
        if part == "hflip":
            flip = True
        elif scaled and 0.25 <= float(scaled.group(1)) <= 4.0:
            scale = float(scaled.group(1))
        elif shifted:
            shift = (int(shifted.group(1)), int(shifted.group(2)))
        else:
            raise ConfigError(f"unknown transform {part!r} in {spec!r}; use identity, hflip, scale:S (0.25 ≤ S ≤ 4), "
                              "shift:ROWS:COLS or a combination joined by '+', e.g. hflip+scale:1.2.")
    return Transform(scale, flip, shift)


def parse_transforms(specs: Sequence[str]) -> list[Transform]:
    """The transform set of a config list; duplicates and an empty list are errors."""
    transforms = [parse_transform(s) for s in specs]
    names = [t.name for t in transforms]
    if not transforms or len(set(names)) != len(names):
        raise ConfigError(f"a transform set needs at least one transform and no repeats, got {list(specs)}.")
    return transforms
