"""Fashion-MNIST loader: real files, search order, and damaged files."""

from __future__ import annotations

import gzip
import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest

from src.data import fashion_mnist as fm
from src.data.idx import parse_idx, read_idx
from src.errors import DataError

# SHA-256 of the .gz files as Debian ships them (package dataset-fashion-mnist).
DEBIAN_SHA256 = {
    "train-images-idx3-ubyte.gz": "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
    "train-labels-idx1-ubyte.gz": "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
    "t10k-images-idx3-ubyte.gz": "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
    "t10k-labels-idx1-ubyte.gz": "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
}


def idx_bytes(array: np.ndarray) -> bytes:
    magic = bytes([0, 0, 0x08, array.ndim])
    dims = b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return magic + dims + array.astype(np.uint8).tobytes()


def write_fake_dataset(folder: Path, n_train: int = 60000, n_test: int = 10000) -> None:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        "x_train": rng.integers(0, 256, (n_train, 28, 28)),
        "y_train": rng.integers(0, 10, n_train),
        "x_test": rng.integers(0, 256, (n_test, 28, 28)),
        "y_test": rng.integers(0, 10, n_test),
    }
    for key, stem in fm.FILES.items():
        (folder / f"{stem}.gz").write_bytes(gzip.compress(idx_bytes(arrays[key]), compresslevel=1))


@pytest.fixture
def no_system_data(monkeypatch, tmp_path):
    """Hide the Debian folder, $FASHION_MNIST_DIR and the Keras cache."""
    monkeypatch.delenv("FASHION_MNIST_DIR", raising=False)
    monkeypatch.setattr(fm, "DEBIAN_DIR", tmp_path / "no-debian")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "no-keras"))


def test_parse_idx_round_trip():
    a = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    np.testing.assert_array_equal(parse_idx(idx_bytes(a)), a)
    labels = np.array([3, 1, 4], dtype=np.uint8)
    np.testing.assert_array_equal(parse_idx(idx_bytes(labels)), labels)


@pytest.mark.parametrize(
    "mangle, message",
    [
        (lambda b: b[:-5], "truncated or corrupt"),
        (lambda b: b + b"\0", "truncated or corrupt"),
        (lambda b: b"\x01\x02" + b[2:], "bad IDX magic"),
        (lambda b: b[:10], "truncated IDX header"),
        (lambda b: b[:3], "too short"),
    ],
)
def test_damaged_idx_bytes_are_refused(mangle, message):
    good = idx_bytes(np.zeros((4, 5, 5), dtype=np.uint8))
    with pytest.raises(DataError, match=message):
        parse_idx(mangle(good))


def test_truncated_gzip_file_is_refused(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.random.default_rng(0).integers(0, 256, (50, 28, 28))))[:2000])
    with pytest.raises(DataError, match="truncated or corrupt"):
        read_idx(path)


def test_missing_data_names_every_place_and_the_install_command(no_system_data, tmp_path):
    with pytest.raises(DataError) as info:
        fm.load_fashion_mnist(path=None)
    text = str(info.value)
    assert str(tmp_path / "no-debian") in text
    assert "apt-get install -y dataset-fashion-mnist" in text


def test_a_configured_path_without_the_files_is_an_error_not_a_fallback(no_system_data, tmp_path, monkeypatch):
    write_fake_dataset(tmp_path / "env", n_train=60000, n_test=10000)
    monkeypatch.setenv("FASHION_MNIST_DIR", str(tmp_path / "env"))
    assert fm.locate(None)["x_train"].parent == tmp_path / "env"
    with pytest.raises(DataError, match=f"data.path={tmp_path / 'missing'} does not exist.*data.path=null"):
        fm.locate(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="lacks train-images-idx3-ubyte"):
        fm.locate(tmp_path / "empty")


def test_search_order_configured_then_env(no_system_data, tmp_path, monkeypatch):
    write_fake_dataset(tmp_path / "env", n_train=60000, n_test=10000)
    monkeypatch.setenv("FASHION_MNIST_DIR", str(tmp_path / "env"))
    write_fake_dataset(tmp_path / "configured")
    assert fm.locate(tmp_path / "configured")["x_train"].parent == tmp_path / "configured"


def test_wrong_shapes_are_refused(no_system_data, tmp_path):
    write_fake_dataset(tmp_path / "small", n_train=100, n_test=10)
    with pytest.raises(DataError, match="expected \\(60000, 28, 28\\)"):
        fm.load_fashion_mnist(path=tmp_path / "small")


def test_corrupt_file_in_the_searched_folder_is_refused(no_system_data, tmp_path):
    write_fake_dataset(tmp_path / "d")
    target = tmp_path / "d" / "t10k-labels-idx1-ubyte.gz"
    target.write_bytes(target.read_bytes()[:30])
    with pytest.raises(DataError, match="t10k-labels"):
        fm.load_fashion_mnist(path=tmp_path / "d")


@pytest.mark.skipif(not fm.DEBIAN_DIR.is_dir(), reason="needs Debian's dataset-fashion-mnist (scripts/install.sh installs it)")
def test_real_files_checksums_split_and_fingerprint():
    for name, digest in DEBIAN_SHA256.items():
        assert hashlib.sha256((fm.DEBIAN_DIR / name).read_bytes()).hexdigest() == digest
    a = fm.load_fashion_mnist(val_fraction=5000 / 60000, seed=0)
    assert a.x_train.shape == (55000, 28, 28, 1) and a.x_val.shape == (5000, 28, 28, 1)
    assert a.x_test.shape == (10000, 28, 28, 1) and a.x_train.dtype == np.uint8
    assert np.bincount(a.y_test).tolist() == [1000] * 10
    assert abs(a.x_train.mean() / 255 - 0.2860) < 2e-3  # the normalisation in conf/data/fashion_mnist.yaml
    b = fm.load_fashion_mnist(val_fraction=5000 / 60000, seed=1)
    assert a.fingerprint != b.fingerprint  # the split indices are part of the fingerprint
    assert a.fingerprint == fm.load_fashion_mnist(val_fraction=5000 / 60000, seed=0).fingerprint
    from src.data import load_splits

    cfg = {"name": "fashion_mnist", "val_fraction": 5000 / 60000, "split_seed": 0, "train_subset": 1000}
    sub = load_splits(cfg)
    assert sub.x_train.shape[0] == 1000 and sub.x_val.shape[0] == 5000 and sub.fingerprint != a.fingerprint
    assert np.isin(sub.y_train, a.y_train).all() and sub.fingerprint == load_splits(cfg).fingerprint
    # data.subset_seed redraws the subset (null: the split seed's); validation stays the split seed's
    other = load_splits({**cfg, "subset_seed": 7})
    assert other.fingerprint != sub.fingerprint and np.array_equal(other.x_val, sub.x_val)
    assert load_splits({**cfg, "subset_seed": None}).fingerprint == sub.fingerprint
    assert load_splits({**cfg, "subset_seed": 0}).fingerprint == sub.fingerprint


def test_uncompressed_files_are_read(no_system_data, tmp_path):
    write_fake_dataset(tmp_path / "gz")
    for gz in (tmp_path / "gz").iterdir():
        with gzip.open(gz) as src, open(tmp_path / "gz" / gz.stem, "wb") as dst:
            shutil.copyfileobj(src, dst)
        gz.unlink()
    splits = fm.load_fashion_mnist(path=tmp_path / "gz")
    assert splits.x_test.shape == (10000, 28, 28, 1)
