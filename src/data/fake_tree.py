"""Generate ImageNet-format trees (``train/<wnid>/*.JPEG``, ``val/<wnid>/*.JPEG``) for tests and benchmarks.

The images have ImageNet's typical geometry (short side 300–480, aspect 4:3 or 3:4, about 110 KB at the
default size) and the kinds of bad file ImageNet is known to hold, planted on request: a PNG saved as
``.JPEG``, a CMYK JPEG, a greyscale JPEG, a truncated JPEG, and a file that is no image at all. Nothing
is downloaded; the content is seeded noise over smooth colour fields, so JPEG sizes are realistic.
"""

from __future__ import annotations

import argparse
import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: The bad files `make_tree` can plant, each under train/ of the first class(es).
BAD_KINDS = ("png_as_jpeg", "cmyk", "greyscale", "truncated", "not_an_image")
#: Of the planted kinds, those a pipeline can still read (after routing or conversion): the rest are unreadable.
READABLE_BAD_KINDS = ("png_as_jpeg", "cmyk", "greyscale")


@dataclass(frozen=True)
class Tree:
    root: Path
    classes: tuple[str, ...]
    train_files: int
    val_files: int
    planted: dict[str, Path]  # kind -> file


def _image(rng: np.random.Generator, width: int, height: int, level: int) -> np.ndarray:
    """Smooth colour field plus seeded noise: compresses like a photograph (≈110 KB at 500×375, q 90)."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    phase = rng.uniform(0, 6.28, 3)
    base = np.stack([level + 60 * np.sin(xx / (23 + 11 * c) + yy / (31 + 7 * c) + phase[c]) for c in range(3)], -1)
    noise = rng.normal(0, 18, (height, width, 3))
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def _jpeg_bytes(pixels: np.ndarray, quality: int = 90, mode: str = "RGB") -> bytes:
    from PIL import Image

    image = Image.fromarray(pixels)
    if mode != "RGB":
        image = image.convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def _size(rng: np.random.Generator, scale: float) -> tuple[int, int]:
    short = int(rng.integers(300, 481) * scale)
    long = int(short * 4 / 3)
    return (long, short) if rng.random() < 0.75 else (short, long)  # mostly landscape, as ImageNet


def make_tree(
    root: str | Path,
    classes: int = 4,
    train_per_class: int = 6,
    val_per_class: int = 2,
    bad: tuple[str, ...] = (),
    scale: float = 1.0,
    seed: int = 0,
    link_copies: int = 1,
) -> Tree:
    """Write a tree under ``root``. ``scale`` shrinks the images (tests use ≈0.1 for speed); ``bad``
    plants the named `BAD_KINDS` in ``train/<first class>``; ``link_copies`` > 1 repeats every good
    training file as hard links (a 10× tree without 10× the disk or the generation time)."""
    unknown = set(bad) - set(BAD_KINDS)
    if unknown:
        raise ValueError(f"unknown bad-file kinds {sorted(unknown)}; use any of {BAD_KINDS}")
    root = Path(root)
    rng = np.random.default_rng(seed)
    names = tuple(f"n{1440764 + 1000 * k:08d}" for k in range(classes))  # WordNet-id-like folder names
    counts = {"train": 0, "val": 0}
    for split, per_class in (("train", train_per_class), ("val", val_per_class)):
        for k, wnid in enumerate(names):
            folder = root / split / wnid
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                width, height = _size(rng, scale)
                data = _jpeg_bytes(_image(rng, width, height, 40 + (160 * k) // max(1, classes - 1)))
                first = folder / f"{wnid}_{i}.JPEG"
                first.write_bytes(data)
                counts[split] += 1
                for copy in range(1, link_copies if split == "train" else 1):
                    os.link(first, folder / f"{wnid}_{i}_copy{copy}.JPEG")
                    counts[split] += 1
    planted = {}
    target = root / "train" / names[0]
    for kind in bad:
        width, height = _size(rng, scale)
        pixels = _image(rng, width, height, 90)
        path = target / f"{names[0]}_bad_{kind}.JPEG"
        if kind == "png_as_jpeg":
            from PIL import Image

            buffer = io.BytesIO()
            Image.fromarray(pixels).save(buffer, format="PNG")
            path.write_bytes(buffer.getvalue())
        elif kind == "cmyk":
            path.write_bytes(_jpeg_bytes(pixels, mode="CMYK"))
        elif kind == "greyscale":
            path.write_bytes(_jpeg_bytes(pixels, mode="L"))
        elif kind == "truncated":
            data = _jpeg_bytes(pixels)
            path.write_bytes(data[: len(data) // 2])
        else:
            path.write_bytes(b"<html><body>404 Not Found</body></html>\n")
        planted[kind] = path
        counts["train"] += 1
    return Tree(root, names, counts["train"], counts["val"], planted)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", help="folder to create the tree in")
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--train-per-class", type=int, default=20)
    parser.add_argument("--val-per-class", type=int, default=5)
    parser.add_argument("--scale", type=float, default=1.0, help="image size factor (1: ImageNet-like ≈500×375)")
    parser.add_argument("--bad", default=",".join(BAD_KINDS), help=f"comma-separated kinds to plant: {BAD_KINDS}")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    tree = make_tree(args.root, args.classes, args.train_per_class, args.val_per_class,
                     tuple(k for k in args.bad.split(",") if k), args.scale, args.seed)
    print(f"{tree.root}: {tree.train_files} train / {tree.val_files} val files in {len(tree.classes)} classes; "
          f"planted: {', '.join(tree.planted) or 'none'}")


if __name__ == "__main__":
    main()
