"""Class-folder images (the `keras.utils.image_dataset_from_directory` convention), loaded in memory.

Layouts: ``root/train/<class>/*`` + ``root/test/<class>/*`` (validation carved from train), or a
flat ``root/<class>/*`` from which validation and test (each ``val_fraction``) are carved with a
seeded split. Fine for small and medium folders; an ImageNet-size folder needs a streaming
pipeline, which this loader is not.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np

from src.data.splits import DataSplits, fingerprint, split_train_val
from src.errors import ConfigError, DataError

log = logging.getLogger(__name__)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
BAD_FILE_POLICIES = ("skip", "error")


def _class_dirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _read_folder(folder: Path, classes: list[str], image_size: int, channels: int, on_bad_file: str):
    from PIL import Image, UnidentifiedImageError

    images, labels, digests, bad = [], [], [], []
    for label, cls in enumerate(classes):
        files = sorted(p for p in (folder / cls).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        for path in files:
            data = path.read_bytes()
            try:
                with Image.open(path) as im:
                    im = im.convert("L" if channels == 1 else "RGB").resize((image_size, image_size), Image.BILINEAR)
                    array = np.asarray(im, dtype=np.uint8)
            except (UnidentifiedImageError, OSError, ValueError) as exc:
                if on_bad_file == "error":
                    raise DataError(f"unreadable image {path} ({exc}); remove it or set data.on_bad_file=skip.") from exc
                bad.append(path)
                continue
            images.append(array.reshape(image_size, image_size, channels))
            labels.append(label)
            digests.append(f"{path.relative_to(folder)}:{hashlib.sha256(data).hexdigest()}")
    if bad:
        log.warning("skipped %d unreadable image(s) under %s (first: %s)", len(bad), folder, bad[0])
    if not images:
        raise DataError(f"no readable images ({', '.join(IMAGE_SUFFIXES)}) under {folder}; put images in its class folders.")
    return np.stack(images), np.asarray(labels, dtype=np.int64), digests


def load_image_folder(
    root: str | Path,
    image_size: int,
    channels: int,
    val_fraction: float,
    seed: int = 0,
    test_dir: str | None = "test",
    train_dir: str | None = "train",
    on_bad_file: str = "skip",
) -> DataSplits:
    """Load a class-folder data set as uint8 (N, S, S, C) arrays."""
    if on_bad_file not in BAD_FILE_POLICIES:
        raise ConfigError(f"data.on_bad_file={on_bad_file!r} is unknown; choose one of {list(BAD_FILE_POLICIES)}.")
    if channels not in (1, 3):
        raise ConfigError(f"data.channels must be 1 or 3 for image folders, got {channels}.")
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(f"image folder {root} does not exist; set data.root to a folder of class sub-folders.")
    split_layout = bool(train_dir) and (root / train_dir).is_dir()
    train_root = root / train_dir if split_layout else root
    classes = [p.name for p in _class_dirs(train_root)]
    if not classes:
        raise DataError(f"no class folders under {train_root}; expected {train_root}/<class>/<image files>.")
    if len(classes) < 2:
        raise DataError(f"only one class folder ({classes[0]!r}) under {train_root}; need at least 2 classes.")
    x, y, digests = _read_folder(train_root, classes, image_size, channels, on_bad_file)
    if split_layout and test_dir and (root / test_dir).is_dir():
        test_classes = [p.name for p in _class_dirs(root / test_dir)]
        if test_classes != classes:
            raise DataError(
                f"class folders differ between {train_root} {classes} and {root / test_dir} {test_classes}; "
                "train and test need the same classes."
            )
        x_test, y_test, test_digests = _read_folder(root / test_dir, classes, image_size, channels, on_bad_file)
        train_idx, val_idx = split_train_val(len(x), val_fraction, seed)
        test_idx = np.arange(0)
    else:
        test_digests = []
        rest_idx, test_idx = split_train_val(len(x), val_fraction, seed)
        inner_train, inner_val = split_train_val(len(rest_idx), val_fraction / max(1 - val_fraction, 1e-9), seed + 1)
        train_idx, val_idx = rest_idx[inner_train], rest_idx[inner_val]
        x_test, y_test = x[test_idx], y[test_idx]
    return DataSplits(
        x_train=x[train_idx], y_train=y[train_idx],
        x_val=x[val_idx], y_val=y[val_idx],
        x_test=x_test, y_test=y_test,
        class_names=tuple(classes),
        fingerprint=fingerprint("\n".join(digests + test_digests), train_idx, val_idx, test_idx,
                                f"{image_size},{channels}"),
        source=str(root),
    )
