"""Streaming sources on generated ImageNet-format trees with ImageNet's kinds of bad file planted:
the manifest, the papers' crops, the (seed, epoch) contract, sharding, TFRecords, and the CLI."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
import tensorflow as tf

from src.data.fake_tree import BAD_KINDS, make_tree
from src.data.image_header import sniff
from src.data.manifest import index_tree
from src.errors import DataError


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return make_tree(tmp_path_factory.mktemp("imagenet"), classes=3, train_per_class=8, val_per_class=2,
                     bad=BAD_KINDS, scale=0.12)


def _cfg(tree_root, cache, **extra):
    cfg = {"name": "imagenet_folder", "root": str(tree_root), "image_size": 32, "channels": 3, "recipe": "inception",
           "crop_pct": 0.875, "val_fraction": 0.2, "split_seed": 0, "manifest_cache": str(cache),
           "augment": {"horizontal_flip": True}}
    cfg.update(extra)
    return cfg


def test_sniff_names_every_planted_kind(tree):
    expected = {"png_as_jpeg": "other_image", "cmyk": "jpeg_cmyk", "greyscale": "jpeg", "truncated": "truncated",
                "not_an_image": "not_an_image"}
    assert {kind: sniff(path) for kind, path in tree.planted.items()} == expected
    good = next(p for p in (tree.root / "train" / tree.classes[1]).iterdir())
    assert sniff(good) == "jpeg"


def test_manifest_skips_exactly_the_unreadable_files_and_counts_them(tree, tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        m = index_tree(tree.root, cache_dir=tmp_path)
    assert sorted(k for _, k in m.skipped) == ["not_an_image", "truncated"]
    assert "skipped 2 unreadable file(s)" in caplog.text
    assert len(m.train) == tree.train_files - 2 and len(m.test) == tree.val_files  # val/ is the test split
    assert m.classes == tree.classes and set(m.train.labels.tolist()) == {0, 1, 2}


def test_error_policy_names_the_file_before_training(tree):
    with pytest.raises(DataError, match="unreadable file.*bad_"):
        index_tree(tree.root, on_bad_file="error")


def test_manifest_is_cached_and_refreshed_when_the_tree_changes(tmp_path):
    t = make_tree(tmp_path / "t", classes=2, train_per_class=3, val_per_class=1, scale=0.05)
    first = index_tree(t.root, cache_dir=tmp_path / "cache")
    assert len(list((tmp_path / "cache").glob("*.json"))) == 1
    assert index_tree(t.root, cache_dir=tmp_path / "cache").digest == first.digest
    victim = next((t.root / "train" / t.classes[0]).iterdir())
    victim.unlink()  # the class folder's mtime changes: a new index
    again = index_tree(t.root, cache_dir=tmp_path / "cache")
    assert len(again.train) == len(first.train) - 1 and again.digest != first.digest


def test_an_empty_class_folder_is_refused_by_name(tmp_path):
    t = make_tree(tmp_path / "t", classes=3, train_per_class=2, val_per_class=0, scale=0.05)
    for f in (t.root / "train" / t.classes[2]).iterdir():
        f.unlink()
    with pytest.raises(DataError, match=f"hold no image files.*{t.classes[2]}"):
        index_tree(t.root, test_dir=None)


def test_train_stream_is_a_pure_function_of_seed_and_epoch(tree, tmp_path):
    from src.data.folder_source import FolderSource

    source = FolderSource(_cfg(tree.root, tmp_path))
    full = [(x.numpy(), y.numpy()) for x, y in source.train_uint8(seed=3, epochs=2, batch_size=5)]
    again = [(x.numpy(), y.numpy()) for x, y in source.train_uint8(seed=3, epochs=2, batch_size=5)]
    resumed = [(x.numpy(), y.numpy()) for x, y in source.train_uint8(seed=3, epochs=2, start_epoch=1, batch_size=5)]
    per_epoch = -(-source.num_examples("train") // 5)
    assert len(full) == 2 * per_epoch
    assert all(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) for a, b in zip(full, again))
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(full[per_epoch:], resumed))
    assert not np.array_equal(full[0][0], full[per_epoch][0])  # a new order and new crops each epoch
    assert full[0][0].dtype == np.uint8 and full[0][0].shape[1:] == (32, 32, 3)


def test_train_shards_are_disjoint_balanced_and_cover_every_example(tree, tmp_path):
    from src.data.folder_source import FolderSource

    source = FolderSource(_cfg(tree.root, tmp_path, recipe="center", augment={"horizontal_flip": False}))
    n = source.num_examples("train")
    whole = sorted(bytes(x.numpy()) for x, _ in source.train_uint8(seed=1, epochs=1))
    shards = []
    for k in range(3):
        ctx = tf.distribute.InputContext(num_input_pipelines=3, input_pipeline_id=k)
        shards.append([bytes(x.numpy()) for x, _ in source.train_uint8(seed=1, epochs=1, input_context=ctx)])
    assert sorted(b for s in shards for b in s) == whole and len(whole) == n
    assert max(map(len, shards)) - min(map(len, shards)) <= 1
    evals = [[int(y) for _, y in source.eval_uint8("test", tf.distribute.InputContext(2, k, 1))] for k in range(2)]
    assert sum(map(len, evals)) == source.num_examples("test")  # every example evaluated exactly once


def test_inception_crop_windows_follow_the_recipe():
    from src.data.recipes import RECIPES, _random_window

    shape = tf.constant([375, 500, 3], tf.int32)
    areas, aspects = [], []
    for s in range(200):
        y, x, h, w = _random_window(shape, tf.constant([s, 7], tf.int64), RECIPES["inception"], 0.875).numpy()
        assert 0 <= y and 0 <= x and y + h <= 375 and x + w <= 500
        areas.append(h * w / (375 * 500))
        aspects.append(w / h)
    assert 0.07 <= min(areas) and max(areas) <= 1.0 and np.median(areas) < 0.6  # not the whole image
    assert min(aspects) >= 0.74 and max(aspects) <= 1.35
    again = _random_window(shape, tf.constant([5, 7], tf.int64), RECIPES["inception"], 0.875).numpy()
    assert np.array_equal(again, _random_window(shape, tf.constant([5, 7], tf.int64), RECIPES["inception"], 0.875).numpy())


def test_eval_crop_is_the_centre_crop_pct_of_the_short_side():
    from src.data.recipes import _center_window

    assert _center_window(tf.constant([375, 500, 3]), 0.875).numpy().tolist() == [24, 86, 328, 328]


@pytest.mark.parametrize("kind", ["png_as_jpeg", "cmyk", "greyscale"])
def test_readable_odd_files_decode_through_both_crops(tree, kind):
    from src.data.recipes import RECIPES, eval_image, train_image

    encoded = tf.constant(tree.planted[kind].read_bytes())
    train = train_image(encoded, tf.constant([1, 2], tf.int64), 24, 3, RECIPES["inception"], 0.875, True)
    assert train.shape == (24, 24, 3) and train.dtype == tf.uint8
    assert eval_image(encoded, 24, 3, 0.875).shape == (24, 24, 3)


def test_tfrecord_converter_mixes_classes_repairs_drops_and_hashes(tree, tmp_path):
    from src.data.tfrecord import TFRecordSource, convert

    summary = convert(tree.root, tmp_path / "shards", train_shards=3, eval_shards=2, seed=0)
    assert sorted(d["kind"] for d in summary["dropped"]) == ["not_an_image", "truncated"]
    assert sorted(r["kind"] for r in summary["repaired"]) == ["jpeg_cmyk", "other_image"]
    meta = json.loads((tmp_path / "shards" / "manifest.json").read_text())
    assert meta["classes"] == list(tree.classes) and meta["splits"]["train"]["examples"] == tree.train_files - 2
    import hashlib

    for shard in meta["splits"]["train"]["shards"]:
        data = (tmp_path / "shards" / shard["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == shard["sha256"]
        labels = [int(tf.train.Example.FromString(r.numpy()).features.feature["image/class/label"].int64_list.value[0])
                  for r in tf.data.TFRecordDataset(str(tmp_path / "shards" / shard["file"]))]
        assert len(set(labels)) >= 2, "a shard holds one class: the global shuffle is missing"
    cfg = {"root": str(tmp_path / "shards"), "image_size": 24, "channels": 3, "recipe": "inception", "crop_pct": 0.875,
           "val_shards": 1, "shuffle_buffer": 8, "augment": {"horizontal_flip": True}}
    source = TFRecordSource(cfg)
    epoch = lambda s, start=0: [y.numpy().tolist() for _, y in source.train_uint8(seed=s, epochs=2, start_epoch=start, batch_size=4)]  # noqa: E731
    assert epoch(1) == epoch(1) and epoch(1) != epoch(2)
    n = source.num_examples("train")
    assert sum(len(b) for b in epoch(1)) == 2 * n and epoch(1, start=1) == epoch(1)[-len(epoch(1, start=1)):]
    assert source.num_examples("test") == tree.val_files and source.class_names == tree.classes


def _prepare_tfds(tree, data_dir) -> str:
    """A tiny tensorflow-datasets data set of the tree's JPEGs, prepared offline; its version folder."""
    tfds = pytest.importorskip("tensorflow_datasets")
    from src.data.manifest import index_tree

    m = index_tree(tree.root)

    class TinyImagenet(tfds.core.GeneratorBasedBuilder):
        VERSION = tfds.core.Version("1.0.0")

        def _info(self):
            return self.dataset_info_from_configs(features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(encoding_format="jpeg"),
                "label": tfds.features.ClassLabel(names=list(m.classes))}))

        def _split_generators(self, dl_manager):
            return {"train": self._generate_examples(m.train), "validation": self._generate_examples(m.test)}

        def _generate_examples(self, files):
            for p, label in zip(files.paths, files.labels.tolist()):
                yield p, {"image": str(m.root / p), "label": label}

    builder = TinyImagenet(data_dir=str(data_dir))
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(try_download_gcs=False))
    return str(data_dir / "tiny_imagenet" / "1.0.0")


def test_tfds_prepared_on_disk_is_read_offline_with_seeded_epochs(tree, tmp_path):
    from src.data.tfds_source import TFDSSource

    root = _prepare_tfds(tree, tmp_path / "tfds")
    cfg = {"root": root, "image_size": 24, "channels": 3, "recipe": "inception", "crop_pct": 0.875,
           "shuffle_buffer": 8, "augment": {"horizontal_flip": True}}
    source = TFDSSource(cfg)
    assert source.class_names == tree.classes and source.num_examples("test") == tree.val_files
    labels = lambda s, start=0: [y.numpy().tolist() for _, y in source.train_uint8(s, 2, start, batch_size=4)]  # noqa: E731
    assert labels(1) == labels(1) and labels(1) != labels(2)
    assert labels(1, start=1) == labels(1)[-len(labels(1, start=1)):]  # a resumed epoch reads what it would have
    shards = [[int(y) for _, y in source.eval_uint8("test", tf.distribute.InputContext(2, k, 1))] for k in range(2)]
    assert sum(map(len, shards)) == tree.val_files


def test_non_jpeg_images_are_reencoded_in_the_cache_not_in_the_tree(tree, tmp_path):
    png = tree.planted["png_as_jpeg"]
    before = png.read_bytes()
    m = index_tree(tree.root, cache_dir=tmp_path / "cache")
    assert m.all_jpeg and len(m.converted) == 1 and m.converted[0].startswith(str((tmp_path / "cache").resolve()))
    assert png.read_bytes() == before and sniff(m.converted[0]) == "jpeg"
    cached = index_tree(tree.root, cache_dir=tmp_path / "cache")  # from the cache: the same redirect
    assert cached.converted == m.converted and cached.all_jpeg
    assert not index_tree(tree.root).all_jpeg  # without a cache folder: routed per image instead


@pytest.mark.jax
def test_on_device_normalisation_equals_the_host_normalisation():
    import keras

    from src.data.pipeline import Normalization
    from src.train.input_normalization import with_input_normalization

    norm = Normalization.create([0.485, 0.456, 0.406], [0.229, 0.224, 0.225], 3)
    inner = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3), keras.layers.GlobalAveragePooling2D()])
    pixels = np.random.default_rng(0).integers(0, 256, (5, 8, 8, 3), dtype=np.uint8)
    wrapped = with_input_normalization(inner, norm)
    assert wrapped.inputs[0].dtype == "uint8" and wrapped.get_weights()[0] is not None
    np.testing.assert_allclose(wrapped.predict(pixels, verbose=0), inner.predict(norm.apply_numpy(pixels), verbose=0),
                               rtol=1e-5, atol=1e-5)
    assert {id(v) for v in inner.weights} <= {id(v) for v in wrapped.weights}  # one set of variables


def test_batches_never_straddle_two_epochs_and_keep_the_stream_order():
    from src.data.sources import batch_within_epochs

    stream = tf.data.Dataset.range(14).map(lambda k: (k, -k))  # two epochs of 7
    batches = [(a.numpy().tolist(), b.numpy().tolist()) for a, b in batch_within_epochs(stream, 7, 3)]
    assert [a for a, _ in batches] == [[0, 1, 2], [3, 4, 5], [6], [7, 8, 9], [10, 11, 12], [13]]
    assert all(b == [-x for x in a] for a, b in batches)
    assert [len(x) for x in batch_within_epochs(tf.data.Dataset.range(12), 6, 3)] == [3, 3, 3, 3]
