"""Class-folder images (the `keras.utils.image_dataset_from_directory` convention), loaded in memory.

Layouts, tried in this order:

* ``root/<train_dir>/<class>/*`` and ``root/<test_dir>/<class>/*``: test is the test folder,
  validation (``val_fraction`` of train) is carved from train with `split_train_val`.
* ``root/<train_dir>/<class>/*`` without a test folder (or ``test_dir=None``): validation and test
  are both carved from train, as in the flat layout.
* flat ``root/<class>/*`` (no train folder, or ``train_dir=None``): validation and test are carved
  per class (stratified), each ``val_fraction`` of the images of that class, rounded, with at least
  one image per class kept for training.

Class names are the sorted sub-folder names (hidden folders ignored); train and test must hold the
same classes. Files ending in .png/.jpg/.jpeg/.bmp/.gif are decoded with Pillow, converted to L
(channels=1) or RGB (channels=3) and resized bilinearly to image_size×image_size.

Everything is held in memory: fine for small and medium folders; an ImageNet-size folder needs a
streaming pipeline, which this loader is not.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np

from src.data.splits import DataSplits, fingerprint, split_train_val
from src.errors import ConfigError, DataError, did_you_mean

log = logging.getLogger(__name__)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
BAD_FILE_POLICIES = ("skip", "error")


def _class_dirs(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _image_files(folder: Path) -> list[Path]:
    return sorted(
        p for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES
    )


def _decode(path: Path, image_size: int, channels: int) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        im = im.convert("L" if channels == 1 else "RGB")
        im = im.resize((image_size, image_size), Image.Resampling.BILINEAR)
        return np.asarray(im, dtype=np.uint8).reshape(image_size, image_size, channels)


def _read_folder(
    root: Path, folder: Path, classes: list[str], image_size: int, channels: int, on_bad_file: str
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Images, labels and one ``relative/path:sha256`` line per image of ``folder/<class>/*``."""
    from PIL import Image, UnidentifiedImageError

    bad_errors = (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError)
    images, labels, digests, bad = [], [], [], []
    for label, cls in enumerate(classes):
        for path in _image_files(folder / cls):
            data = path.read_bytes()
            try:
                array = _decode(path, image_size, channels)
            except bad_errors as exc:
                if on_bad_file == "error":
                    raise DataError(
                        f"unreadable image {path} ({type(exc).__name__}: {exc}); "
                        "remove or replace it, or set data.on_bad_file=skip."
                    ) from exc
                bad.append(path)
                continue
            images.append(array)
            labels.append(label)
            digests.append(f"{path.relative_to(root).as_posix()}:{hashlib.sha256(data).hexdigest()}")
    if bad:
        log.warning("skipped %d unreadable image(s) under %s (first: %s)", len(bad), folder, bad[0])
    empty = [cls for label, cls in enumerate(classes) if label not in set(labels)]
    if empty and images:  # a class without images would be an output the network never trains
        raise DataError(
            f"{len(empty)} class folder(s) hold no readable image ({', '.join(IMAGE_SUFFIXES)}): "
            f"{', '.join(str(folder / c) for c in empty[:5])}; add images or remove the folder(s)."
        )
    if not images:
        raise DataError(
            f"no readable images ({', '.join(IMAGE_SUFFIXES)}) in the class folders of {folder}; "
            f"put image files in {folder}/<class>/."
        )
    return np.stack(images), np.asarray(labels, dtype=np.int64), digests


def stratified_split(
    labels: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seeded per-class split into sorted (train_idx, val_idx, test_idx): val and test each take
    ``round(fraction * n_class)`` images of every class, shrunk so each class keeps one for training."""
    rng = np.random.default_rng(seed)
    train, val, test = [], [], []
    for k in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == k))
        n_val = n_test = int(round(len(idx) * fraction))
        while n_val + n_test >= len(idx) and n_val + n_test > 0:
            if n_test >= n_val:
                n_test -= 1
            else:
                n_val -= 1
        test.append(idx[:n_test])
        val.append(idx[n_test : n_test + n_val])
        train.append(idx[n_test + n_val :])
    return tuple(np.sort(np.concatenate(parts)).astype(np.int64) for parts in (train, val, test))  # type: ignore[return-value]


def _check_settings(image_size: int, channels: int, val_fraction: float, on_bad_file: str) -> None:
    if on_bad_file not in BAD_FILE_POLICIES:
        raise ConfigError(
            f"data.on_bad_file={on_bad_file!r} is unknown; choose one of {list(BAD_FILE_POLICIES)}."
            f"{did_you_mean(str(on_bad_file), BAD_FILE_POLICIES)}"
        )
    if channels not in (1, 3) or isinstance(channels, bool):
        raise ConfigError(f"data.channels must be 1 (grey) or 3 (RGB) for image folders, got {channels!r}.")
    if isinstance(image_size, bool) or not isinstance(image_size, (int, np.integer)) or image_size < 1:
        raise ConfigError(f"data.image_size must be a positive integer, got {image_size!r}.")
    if not isinstance(val_fraction, (int, float)) or not 0.0 <= val_fraction < 1.0:
        raise ConfigError(f"data.val_fraction must be in [0, 1), got {val_fraction!r}.")


def _training_root(root: Path, train_dir: str | None, test_dir: str | None) -> tuple[Path, bool, bool, list[str]]:
    """The folder of training class folders, whether the tree has train/ and test/ folders, and its classes;
    a layout the loader cannot read raises `DataError` saying how to fix it."""
    if not root.is_dir():
        raise DataError(f"image folder {root} does not exist; set data.root to a folder of class sub-folders.")
    split_layout = bool(train_dir) and (root / str(train_dir)).is_dir()
    has_test = bool(test_dir) and (root / str(test_dir)).is_dir()
    if not split_layout and has_test:
        raise DataError(
            f"{root / str(test_dir)} exists but {root / str(train_dir or 'train')} does not; put the training "
            f"images in {root / str(train_dir or 'train')}/<class>/, or set data.test_dir=null to read "
            f"{root}/<class>/ as one flat folder."
        )
    train_root = root / str(train_dir) if split_layout else root
    classes = _class_dirs(train_root)
    if not classes:
        raise DataError(f"no class folders under {train_root}; expected {train_root}/<class>/<image files>.")
    if len(classes) < 2:
        raise DataError(
            f"only one class folder ({classes[0]!r}) under {train_root}; need at least 2 classes, "
            f"one sub-folder per class."
        )
    return train_root, split_layout, has_test, classes


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
    """Load a class-folder data set as uint8 (N, S, S, C) arrays (layouts: see the module docstring).

    ``on_bad_file``: ``"skip"`` drops unreadable images with one warning giving the count,
    ``"error"`` raises `DataError` naming the first one.
    """
    _check_settings(image_size, channels, val_fraction, on_bad_file)
    root = Path(root).expanduser()
    train_root, split_layout, has_test, classes = _training_root(root, train_dir, test_dir)
    x, y, digests = _read_folder(root, train_root, classes, image_size, channels, on_bad_file)
    if has_test:
        test_root = root / str(test_dir)
        test_classes = _class_dirs(test_root)
        if test_classes != classes:
            raise DataError(
                f"class folders differ between {train_root} {classes} and {test_root} {test_classes}; "
                "train and test need the same class sub-folders."
            )
        x_test, y_test, test_digests = _read_folder(root, test_root, classes, image_size, channels, on_bad_file)
        train_idx, val_idx = split_train_val(len(x), val_fraction, seed)
        test_idx = np.arange(0, dtype=np.int64)
    else:
        if val_fraction >= 0.5:
            raise ConfigError(
                f"data.val_fraction={val_fraction} carves validation and test ({val_fraction} each) from "
                f"{train_root}; it must be < 0.5 here, or add a {root}/test/<class>/ folder."
            )
        if split_layout:
            log.info("no test folder under %s: carving validation and test from %s", root, train_root)
        train_idx, val_idx, test_idx = stratified_split(y, val_fraction, seed)
        x_test, y_test, test_digests = x[test_idx], y[test_idx], []
    if len(train_idx) == 0:
        raise DataError(
            f"no training images left in {train_root} after carving validation ({val_fraction}); "
            "add images or lower data.val_fraction."
        )
    return DataSplits(
        x_train=x[train_idx], y_train=y[train_idx],
        x_val=x[val_idx], y_val=y[val_idx],
        x_test=x_test, y_test=y_test,
        class_names=tuple(classes),
        fingerprint=fingerprint(
            "\n".join(digests + test_digests), train_idx, val_idx, test_idx, f"{image_size},{channels}"
        ),
        source=str(root),
    )
