"""Class-folder loader on tiny folders of generated PNGs."""

from __future__ import annotations

import io
import logging

import numpy as np
import pytest
from PIL import Image

from src.data.image_folder import load_image_folder, stratified_split
from src.errors import ConfigError, DataError
from tests.helpers.data import make_folder


def total(s) -> int:
    return len(s.x_train) + len(s.x_val) + len(s.x_test)


def test_train_test_layout(tmp_path):
    make_folder(tmp_path)
    make_folder(tmp_path, per_class=2, sub="test")
    s = load_image_folder(tmp_path, image_size=8, channels=3, val_fraction=0.25, seed=0)
    assert s.class_names == ("cat", "dog", "eel") and s.source == str(tmp_path)
    assert s.x_train.shape == (14, 8, 8, 3) and s.x_val.shape == (4, 8, 8, 3) and s.x_test.shape == (6, 8, 8, 3)
    assert s.x_train.dtype == np.uint8 and s.y_train.dtype == np.int64 and s.y_test.tolist() == [0, 0, 1, 1, 2, 2]
    for x, y in ((s.x_train, s.y_train), (s.x_val, s.y_val), (s.x_test, s.y_test)):
        for k in range(3):  # folder k was drawn around 40 + 80k: labels follow folders
            assert abs(x[y == k].mean() - (40 + 80 * k)) < 15


def test_flat_layout_is_split_per_class(tmp_path):
    make_folder(tmp_path, per_class=10, sub=None)
    s = load_image_folder(tmp_path, image_size=5, channels=1, val_fraction=0.2, seed=1)
    assert s.class_names == ("cat", "dog", "eel") and s.x_train.shape[1:] == (5, 5, 1)
    assert (len(s.x_train), len(s.x_val), len(s.x_test)) == (18, 6, 6)
    assert np.bincount(s.y_val).tolist() == [2, 2, 2] and np.bincount(s.y_test).tolist() == [2, 2, 2]
    other = load_image_folder(tmp_path, image_size=5, channels=1, val_fraction=0.2, seed=2)
    assert not np.array_equal(s.x_val, other.x_val) and s.fingerprint != other.fingerprint


def test_stratified_split_keeps_one_training_image_per_class():
    labels = np.array([0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2])
    train, val, test = stratified_split(labels, 0.3, seed=0)
    assert sorted(np.concatenate([train, val, test]).tolist()) == list(range(len(labels)))
    assert set(labels[train].tolist()) == {0, 1, 2}
    assert np.bincount(labels[val], minlength=3)[1] == 3 and np.bincount(labels[test], minlength=3)[1] == 3


def test_train_folder_without_test_folder_carves_test(tmp_path):
    make_folder(tmp_path, per_class=4)
    s = load_image_folder(tmp_path, 8, 3, val_fraction=0.25)
    assert (len(s.x_train), len(s.x_val), len(s.x_test)) == (6, 3, 3)
    assert np.bincount(s.y_test).tolist() == [1, 1, 1]


def test_resize_and_channel_conversion(tmp_path):
    for cls in ("grey", "red"):
        (tmp_path / cls).mkdir()
    Image.new("L", (20, 10), 100).save(tmp_path / "grey" / "a.png")
    Image.new("L", (10, 20), 100).save(tmp_path / "grey" / "b.bmp")
    Image.new("RGB", (16, 16), (255, 0, 0)).save(tmp_path / "red" / "a.jpg", quality=100)
    Image.new("RGB", (16, 16), (255, 0, 0)).convert("P").save(tmp_path / "red" / "b.gif")
    (tmp_path / "red" / "notes.txt").write_text("not an image")
    rgb = load_image_folder(tmp_path, image_size=6, channels=3, val_fraction=0.0)
    assert total(rgb) == 4 and rgb.x_train.shape == (4, 6, 6, 3)
    grey_rgb, red_rgb = rgb.x_train[rgb.y_train == 0], rgb.x_train[rgb.y_train == 1]
    assert (grey_rgb == 100).all()  # L -> RGB copies the grey level into all three channels
    assert (np.abs(red_rgb.astype(int) - [255, 0, 0]) <= 3).all()
    grey = load_image_folder(tmp_path, image_size=6, channels=1, val_fraction=0.0)
    assert grey.x_train.shape == (4, 6, 6, 1)
    assert (grey.x_train[grey.y_train == 0] == 100).all()
    assert (np.abs(grey.x_train[grey.y_train == 1].astype(int) - 76) <= 2).all()  # ITU-R 601 luma of red


def test_fingerprint_is_stable_and_tracks_file_content(tmp_path):
    make_folder(tmp_path)
    a = load_image_folder(tmp_path, 8, 3, 0.25)
    assert a.fingerprint == load_image_folder(tmp_path, 8, 3, 0.25).fingerprint
    Image.fromarray(np.zeros((12, 12, 3), np.uint8)).save(tmp_path / "train" / "cat" / "0.png")
    assert load_image_folder(tmp_path, 8, 3, 0.25).fingerprint != a.fingerprint


def test_corrupt_files_skipped_with_count_or_refused(tmp_path, caplog):
    make_folder(tmp_path)
    (tmp_path / "train" / "dog" / "broken.png").write_bytes(b"\x89PNG not really")
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (12, 12, 3), np.uint8)).save(buffer, format="PNG")
    (tmp_path / "train" / "eel" / "truncated.png").write_bytes(buffer.getvalue()[:200])  # valid header, cut pixels
    with caplog.at_level(logging.WARNING, logger="src.data.image_folder"):
        s = load_image_folder(tmp_path, 8, 3, 0.25, on_bad_file="skip")
    assert total(s) == 18 and "skipped 2 unreadable image(s)" in caplog.text
    with pytest.raises(DataError, match=r"unreadable image .*broken\.png.*data\.on_bad_file=skip"):
        load_image_folder(tmp_path, 8, 3, 0.25, on_bad_file="error")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"on_bad_file": "ignore"}, "data.on_bad_file='ignore' is unknown"),
        ({"channels": 4}, "data.channels must be 1"),
        ({"image_size": 0}, "data.image_size must be a positive integer"),
        ({"val_fraction": 1.0}, r"data.val_fraction must be in \[0, 1\)"),
        ({"val_fraction": 0.5}, "must be < 0.5 here"),  # flat: val + test would take everything
    ],
)
def test_bad_settings_are_config_errors(tmp_path, kwargs, message):
    make_folder(tmp_path, sub=None)
    with pytest.raises(ConfigError, match=message):
        load_image_folder(tmp_path, **{"image_size": 8, "channels": 3, "val_fraction": 0.25, **kwargs})


@pytest.mark.parametrize(
    "prepare, message",
    [
        (lambda root: None, "does not exist; set data.root"),
        (lambda root: root.mkdir(), "no class folders under"),
        (lambda root: make_folder(root, classes=("only",)), "need at least 2 classes"),
        (lambda root: [(root / "train" / c).mkdir(parents=True) for c in ("a", "b")], "no readable images"),
        (lambda root: (make_folder(root, per_class=0), (root / "train" / "cat" / "x.txt").write_text("")),
         "no readable images"),
        (lambda root: (make_folder(root), make_folder(root, classes=("cat", "dog"), sub="test")),
         "class folders differ"),
        (lambda root: make_folder(root, sub="test"), "exists but .*train does not"),
    ],
    ids=["missing", "no-classes", "single-class", "empty", "no-image-files", "mismatched-test", "test-only"],
)
def test_bad_folders_give_clear_errors(tmp_path, prepare, message):
    root = tmp_path / "data"
    prepare(root)
    with pytest.raises(DataError, match=message):
        load_image_folder(root, 8, 3, val_fraction=0.25)


def test_validation_that_leaves_no_training_images_is_refused(tmp_path):
    make_folder(tmp_path, classes=("a", "b"), per_class=1)
    make_folder(tmp_path, classes=("a", "b"), per_class=1, sub="test")
    with pytest.raises(DataError, match="no training images left .*lower data.val_fraction"):
        load_image_folder(tmp_path, 8, 3, val_fraction=0.9)


def test_an_empty_class_folder_is_refused_by_name(tmp_path):
    make_folder(tmp_path)
    (tmp_path / "train" / "fox").mkdir()
    with pytest.raises(DataError, match=r"1 class folder\(s\) hold no readable image.*train/fox"):
        load_image_folder(tmp_path, image_size=8, channels=3, val_fraction=0.25, seed=0, test_dir=None)
