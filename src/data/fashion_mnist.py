"""Fashion-MNIST (Xiao et al., arXiv:1708.07747) from Debian's `dataset-fashion-mnist`, no download.

Reads the four IDX files from the configured path (``data.path``) when one is given (a folder that lacks
them is an error, not a reason to read another copy), else from the first of ``$FASHION_MNIST_DIR``,
``/usr/share/datasets/fashion-mnist`` (Debian) and the Keras cache that holds them. The validation split is carved
from the training set with a fixed seed; the test set is only used for final metrics.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from src.data.idx import read_idx
from src.data.splits import DataSplits, fingerprint, split_train_val
from src.errors import DataError

CLASS_NAMES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
INSTALL_HINT = "apt-get install -y dataset-fashion-mnist"


def candidate_dirs(path: str | Path | None = None) -> list[Path]:
    """The folders searched, in order."""
    dirs: list[Path] = []
    if path:
        dirs.append(Path(path).expanduser())
    if os.environ.get("FASHION_MNIST_DIR"):
        dirs.append(Path(os.environ["FASHION_MNIST_DIR"]).expanduser())
    dirs.append(DEBIAN_DIR)
    dirs.append(Path(os.environ.get("KERAS_HOME", "~/.keras")).expanduser() / "datasets" / "fashion-mnist")
    return dirs


def _file_in(folder: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem):
        if (folder / name).is_file():
            return folder / name
    return None


def locate(path: str | Path | None = None) -> dict[str, Path]:
    """Paths of the four IDX files: from ``path`` when given, else from the first searched folder holding
    all of them."""
    if path:
        folder = Path(path).expanduser()
        found = {key: _file_in(folder, stem) for key, stem in FILES.items()}
        missing = [FILES[key] for key, file in found.items() if file is None]
        if missing:
            where = "does not exist" if not folder.exists() else f"lacks {', '.join(missing)} (.gz or plain)"
            raise DataError(
                f"data.path={path} {where}; point data.path at the folder holding Fashion-MNIST's four IDX files, "
                f"or set data.path=null to search $FASHION_MNIST_DIR, {DEBIAN_DIR} and the Keras cache."
            )
        return found  # type: ignore[return-value]
    searched = candidate_dirs(path)
    for folder in searched:
        found = {key: _file_in(folder, stem) for key, stem in FILES.items()}
        if all(found.values()):
            return found  # type: ignore[return-value]
    listing = "\n".join(f"  - {d}" for d in searched)
    raise DataError(
        "Fashion-MNIST not found. Looked for the four IDX files "
        f"({', '.join(s + '.gz' for s in FILES.values())}) in:\n{listing}\n"
        f"Install them with `{INSTALL_HINT}`, or set data.path / $FASHION_MNIST_DIR to a folder holding them."
    )


def load_fashion_mnist(
    path: str | Path | None = None,
    val_fraction: float = 5000 / 60000,
    seed: int = 0,
) -> DataSplits:
    """Load Fashion-MNIST as uint8 (N, 28, 28, 1) arrays with a seeded train/val split."""
    files = locate(path)
    arrays = {key: read_idx(p) for key, p in files.items()}
    for part, n in (("train", 60000), ("test", 10000)):
        x, y = arrays[f"x_{part}"], arrays[f"y_{part}"]
        if x.shape != (n, 28, 28) or y.shape != (n,):
            raise DataError(
                f"Fashion-MNIST {part} files hold images {x.shape} and labels {y.shape}, "
                f"expected ({n}, 28, 28) and ({n},); the files at {files[f'x_{part}'].parent} "
                f"are not Fashion-MNIST or are damaged; reinstall with `{INSTALL_HINT}`."
            )
        if y.max() >= len(CLASS_NAMES):
            raise DataError(f"Fashion-MNIST {part} labels contain {int(y.max())}, expected 0..9; corrupt file.")
    train_idx, val_idx = split_train_val(60000, val_fraction, seed)
    x, y = arrays["x_train"][..., None], arrays["y_train"].astype(np.int64)
    return DataSplits(
        x_train=x[train_idx],
        y_train=y[train_idx],
        x_val=x[val_idx],
        y_val=y[val_idx],
        x_test=arrays["x_test"][..., None],
        y_test=arrays["y_test"].astype(np.int64),
        class_names=CLASS_NAMES,
        fingerprint=fingerprint(*(arrays[k] for k in FILES), train_idx, val_idx),
        source=str(files["x_train"].parent),
    )
