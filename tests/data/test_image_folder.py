"""Class-folder loader on tiny folders of generated PNGs."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from src.data.image_folder import load_image_folder
from src.errors import ConfigError, DataError


def make_folder(root: Path, classes=("cat", "dog", "eel"), per_class=6, size=12, sub: str | None = "train") -> Path:
    rng = np.random.default_rng(len(str(root)))
    base = root / sub if sub else root
    for k, cls in enumerate(classes):
        (base / cls).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixels = np.clip(rng.normal(40 + 80 * k, 10, (size, size, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(base / cls / f"{i}.png")
    return root


def test_train_test_layout(tmp_path):
    make_folder(tmp_path)
    make_folder(tmp_path, per_class=2, sub="test")
    s = load_image_folder(tmp_path, image_size=8, channels=3, val_fraction=0.25, seed=0)
    assert s.class_names == ("cat", "dog", "eel")
    assert s.x_train.shape == (14, 8, 8, 3) and s.x_val.shape == (4, 8, 8, 3) and s.x_test.shape == (6, 8, 8, 3)
    assert s.x_train.dtype == np.uint8 and sorted(set(s.y_test.tolist())) == [0, 1, 2]
    # folder k was drawn with mean 40 + 80k: labels follow folders
    for k in range(3):
        assert abs(s.x_test[s.y_test == k].mean() - (40 + 80 * k)) < 15


def test_flat_layout_grey_and_split_sizes(tmp_path):
    make_folder(tmp_path, per_class=10, sub=None)
    s = load_image_folder(tmp_path, image_size=5, channels=1, val_fraction=0.2, seed=1)
    assert s.x_train.shape[1:] == (5, 5, 1)
    assert (len(s.x_train), len(s.x_val), len(s.x_test)) == (18, 6, 6)


def test_fingerprint_is_stable_and_tracks_file_content(tmp_path):
    make_folder(tmp_path)
    a = load_image_folder(tmp_path, 8, 3, 0.25)
    assert a.fingerprint == load_image_folder(tmp_path, 8, 3, 0.25).fingerprint
    Image.fromarray(np.zeros((12, 12, 3), np.uint8)).save(tmp_path / "train" / "cat" / "0.png")
    assert load_image_folder(tmp_path, 8, 3, 0.25).fingerprint != a.fingerprint


def test_corrupt_file_skipped_with_count_or_refused(tmp_path, caplog):
    make_folder(tmp_path)
    (tmp_path / "train" / "dog" / "broken.png").write_bytes(b"\x89PNG not really")
    with caplog.at_level(logging.WARNING):
        s = load_image_folder(tmp_path, 8, 3, 0.25, on_bad_file="skip")
    assert len(s.x_train) + len(s.x_val) + len(s.x_test) == 18 and "skipped 1 unreadable image" in caplog.text
    with pytest.raises(DataError, match="broken.png"):
        load_image_folder(tmp_path, 8, 3, 0.25, on_bad_file="error")
    with pytest.raises(ConfigError, match="on_bad_file"):
        load_image_folder(tmp_path, 8, 3, 0.25, on_bad_file="ignore")


@pytest.mark.parametrize(
    "prepare, message",
    [
        (lambda root: None, "does not exist"),
        (lambda root: root.mkdir(), "no class folders"),
        (lambda root: make_folder(root, classes=("only",)), "need at least 2 classes"),
        (lambda root: [(root / "train" / c).mkdir(parents=True) for c in ("a", "b")], "no readable images"),
        (lambda root: (make_folder(root), make_folder(root, classes=("cat", "dog"), sub="test")), "class folders differ"),
    ],
    ids=["missing", "no-classes", "single-class", "empty", "mismatched-test"],
)
def test_bad_folders_give_clear_errors(tmp_path, prepare, message):
    root = tmp_path / "data"
    prepare(root)
    with pytest.raises(DataError, match=message):
        load_image_folder(root, 8, 3, 0.25)
