"""Sharded TFRecords in the Model Garden / TFDS layout: a reader (``data=tfrecord``) and a converter.

Records are `tf.train.Example`s with ``image/encoded`` (JPEG bytes) and ``image/class/label`` (int64;
``data.label_offset=1`` for the Model Garden's 1-based labels). Files are ``train-*`` and
``validation-*`` (the Model Garden's names; ``val-*`` and ``test-*`` are accepted for evaluation).

Streaming order keeps the (seed, epoch) contract at epoch granularity: each epoch shuffles the shard
order statelessly by (seed, epoch), interleaves the shards deterministically and shuffles encoded
records in a buffer seeded by (seed, epoch) (``data.shuffle_buffer``), so a job resumed at epoch k
sees the batches an uninterrupted one would. Sharding across input pipelines is by file when there
are at least as many files as pipelines, else by record, before any record is decoded.

Converter: ``python -m src.data.tfrecord ROOT OUT`` indexes an ImageNet-format tree
(`src.data.manifest`), shuffles all examples with one seed (so every shard mixes classes), repairs
what can be repaired (PNG and CMYK files re-encoded as RGB JPEG), drops and lists what cannot, and
writes ``manifest.json`` with the counts, the class map and a sha256 per shard.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from src.data.sources import StreamingSource, shard_positions
from src.data.tfrecord_codec import as_rgb_jpeg
from src.errors import ConfigError, DataError

log = logging.getLogger(__name__)
TRAIN_PATTERN = "train-*"
EVAL_PATTERNS = ("validation-*", "val-*", "test-*")
FEATURES = {
    "image/encoded": tf.io.FixedLenFeature([], tf.string),
    "image/class/label": tf.io.FixedLenFeature([], tf.int64),
}


def _example(encoded: bytes, label: int, synset: str) -> bytes:
    feature = {
        "image/encoded": tf.train.Feature(bytes_list=tf.train.BytesList(value=[encoded])),
        "image/class/label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
        "image/class/synset": tf.train.Feature(bytes_list=tf.train.BytesList(value=[synset.encode()])),
        "image/format": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"JPEG"])),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def convert(root: str | Path, out: str | Path, train_shards: int = 16, eval_shards: int = 4, seed: int = 0,
            label_offset: int = 0, workers: int = 8) -> dict[str, Any]:
    """Write ``train-XXXXX-of-NNNNN`` and ``validation-...`` shards of the tree at ``root`` into ``out``."""
    from src.data.image_header import sniff
    from src.data.manifest import index_tree, parallel_map

    out = Path(out)
    manifest = index_tree(root, on_bad_file="skip", verify="header")
    dropped = [{"path": p, "kind": k} for p, k in manifest.skipped]
    out.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {"classes": list(manifest.classes), "label_offset": label_offset, "seed": seed,
                               "splits": {}, "dropped": dropped, "repaired": []}
    rng = np.random.default_rng(seed)
    for split, files, shards in (("train", manifest.train, train_shards), ("validation", manifest.test, eval_shards)):
        if files is None or len(files) == 0:
            continue
        order = rng.permutation(len(files))  # one global shuffle: every shard mixes classes
        shards = max(1, min(shards, len(files)))
        parts = np.array_split(order, shards)

        def write(k: int) -> dict[str, Any]:
            name = f"{split}-{k:05d}-of-{shards:05d}"
            repaired = []
            with tf.io.TFRecordWriter(str(out / name)) as writer:
                for i in parts[k]:
                    path = manifest.root / files.paths[i]
                    kind = sniff(path)
                    if kind == "jpeg":
                        data = path.read_bytes()
                    else:  # PNG, GIF, BMP, CMYK JPEG: re-encoded so every record takes the fused JPEG path
                        data = as_rgb_jpeg(path)
                        repaired.append({"path": files.paths[i], "kind": kind})
                    label = int(files.labels[i])
                    writer.write(_example(data, label + label_offset, manifest.classes[label]))
            digest = hashlib.sha256((out / name).read_bytes()).hexdigest()
            return {"file": name, "examples": len(parts[k]), "sha256": digest, "repaired": repaired}

        written = parallel_map(write, range(shards), workers)
        for shard in written:
            summary["repaired"] += shard.pop("repaired")
        summary["splits"][split] = {"examples": int(len(files)), "shards": written}
    (out / "manifest.json").write_text(json.dumps(summary, indent=1))
    return summary


def _count(files: list[str]) -> int:
    return int(tf.data.TFRecordDataset(files).reduce(np.int64(0), lambda n, _: n + 1).numpy())


class TFRecordSource(StreamingSource):
    """``data=tfrecord``: shards under ``data.root`` (see the module docstring)."""

    def __init__(self, data_cfg: Mapping[str, Any]):
        super().__init__(data_cfg["image_size"], data_cfg.get("channels", 3), data_cfg.get("recipe", "inception"),
                         data_cfg.get("crop_pct", 0.875), bool(data_cfg.get("augment", {}).get("horizontal_flip", True)))
        root = Path(str(data_cfg["root"])).expanduser()
        if not root.is_dir():
            raise DataError(f"data.root={root} is not a folder of TFRecord shards (train-*, validation-*).")
        train = sorted(str(p) for p in root.glob(TRAIN_PATTERN))
        evaluation = next((sorted(str(p) for p in root.glob(pat)) for pat in EVAL_PATTERNS if list(root.glob(pat))), [])
        if not train:
            raise DataError(f"no {TRAIN_PATTERN} shards in {root}; convert a class-folder tree with "
                            f"python -m src.data.tfrecord <tree> {root}")
        val_shards = int(data_cfg.get("val_shards", 1))
        if not 0 < val_shards < len(train):
            raise ConfigError(f"data.val_shards={val_shards} must leave training shards: {root} has {len(train)}.")
        self.offset = int(data_cfg.get("label_offset", 0))
        self.buffer = int(data_cfg.get("shuffle_buffer", 10000))
        self.files = {"train": train[:-val_shards], "val": train[-val_shards:], "test": evaluation or train[-val_shards:]}
        meta_path = root / "manifest.json"
        meta = json.loads(meta_path.read_text()) if meta_path.is_file() else None
        self.jpeg_only = meta is not None  # this suite's converter re-encodes every non-JPEG image
        counts = {s["file"]: s["examples"] for split in (meta or {}).get("splits", {}).values() for s in split["shards"]}
        self.counts = {split: sum(counts[Path(f).name] if Path(f).name in counts else _count([f]) for f in files)
                       for split, files in self.files.items()}
        subset = data_cfg.get("train_subset")  # per epoch, the first N records of that epoch's shuffled stream
        self.train_limit = min(self.counts["train"], int(subset)) if subset else self.counts["train"]
        eval_subset = data_cfg.get("eval_subset")
        self.limit = {s: min(self.counts[s], int(eval_subset)) if eval_subset else self.counts[s] for s in ("val", "test")}
        classes = (meta or {}).get("classes") or [str(k) for k in range(int(data_cfg.get("num_classes") or 0))]
        if not classes:
            raise ConfigError(f"{root} has no manifest.json naming its classes; set data.num_classes.")
        self.class_names = tuple(classes)
        self.source = str(root)
        h = hashlib.sha256(json.dumps({s: [Path(f).name for f in fs] for s, fs in self.files.items()}).encode())
        for shard in sorted((meta or {}).get("splits", {}).get("train", {}).get("shards", []), key=lambda s: s["file"]):
            h.update(shard["sha256"].encode())
        h.update(f"{self.size},{self.channels},{data_cfg.get('recipe')},{self.crop_pct},{self.offset}".encode())
        self.fingerprint = h.hexdigest()

    def num_examples(self, split: str) -> int:
        return self.train_limit if split == "train" else self.limit[split]

    def _reader(self, split: str):
        raise NotImplementedError("TFRecords are read in order; see train_uint8 / eval_uint8")

    def _parse(self, record: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        parsed = tf.io.parse_single_example(record, FEATURES)
        return parsed["image/encoded"], parsed["image/class/label"] - self.offset

    def train_uint8(self, seed, epochs, start_epoch=0, batch_size=None, input_context=None, steps=None):
        from src.data.recipes import train_image

        pipelines, me = shard_positions(input_context)
        files = self.files["train"]
        size, channels, recipe, crop_pct, flip, buffer = (self.size, self.channels, self.recipe, self.crop_pct,
                                                          self.flip, self.buffer)
        jpeg_only = self.jpeg_only
        limit, total = self.train_limit, self.counts["train"]

        def one_epoch(epoch: tf.Tensor) -> tf.data.Dataset:
            key = tf.stack([tf.constant(seed, tf.int64), epoch])
            order = tf.random.experimental.stateless_shuffle(tf.constant(files), seed=key)
            by_file = len(files) >= pipelines
            names = tf.data.Dataset.from_tensor_slices(order[me::pipelines] if by_file else order)
            records = names.interleave(tf.data.TFRecordDataset, cycle_length=min(16, len(files)), block_length=1,
                                       num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            if not by_file:
                records = records.shard(pipelines, me)
            records = records.shuffle(buffer, seed=tf.reduce_sum(key * tf.constant([1000003, 1], tf.int64)))
            if limit < total:
                records = records.take(limit)

            def load(position: tf.Tensor, record: tf.Tensor):
                encoded, label = self._parse(record)
                aug_seed = tf.stack([tf.constant(seed, tf.int64) * 7919 + epoch, position])
                return train_image(encoded, aug_seed, size, channels, recipe, crop_pct, flip, jpeg_only), label

            ds = records.enumerate().map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            return ds.batch(batch_size) if batch_size else ds

        return tf.data.Dataset.range(start_epoch, epochs).flat_map(one_epoch)

    def eval_uint8(self, split, input_context=None):
        from src.data.recipes import eval_image

        pipelines, me = shard_positions(input_context)
        size, channels, crop_pct, jpeg_only = self.size, self.channels, self.crop_pct, self.jpeg_only
        records = tf.data.TFRecordDataset(self.files[split]).take(self.num_examples(split))
        records = records.shard(pipelines, me)  # every example once across the pipelines

        def load(record: tf.Tensor):
            encoded, label = self._parse(record)
            return eval_image(encoded, size, channels, crop_pct, jpeg_only), label

        return records.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Convert an ImageNet-format class-folder tree to sharded TFRecords.")
    parser.add_argument("root", help="tree with train/<class>/* and val/<class>/* (or test/)")
    parser.add_argument("out", help="folder for the shards and manifest.json")
    parser.add_argument("--train-shards", type=int, default=1024)
    parser.add_argument("--eval-shards", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0, help="the global shuffle's seed")
    parser.add_argument("--label-offset", type=int, default=0, help="1 writes the Model Garden's 1-based labels")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        summary = convert(args.root, args.out, args.train_shards, args.eval_shards, args.seed, args.label_offset)
    except (DataError, ConfigError) as exc:
        raise SystemExit(f"error: {exc}") from None
    counts = ", ".join(f"{s}: {v['examples']} in {len(v['shards'])} shards" for s, v in summary["splits"].items())
    print(f"{args.out}: {counts}; repaired {len(summary['repaired'])}, dropped {len(summary['dropped'])} "
          f"(listed in {Path(args.out) / 'manifest.json'})")


if __name__ == "__main__":
    main()
