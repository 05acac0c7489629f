"""Any tensorflow-datasets data set already prepared on disk (``data=tfds``), read offline.

``data.root`` is the prepared data set's folder (``<data_dir>/<name>/<version>``, e.g.
``~/tensorflow_datasets/imagenet2012/5.1.0``); `tfds.builder_from_directory` reads it without the
builder's code and without the network. Images come as encoded bytes (``SkipDecoding``) so the
papers' fused crops apply, and each input pipeline reads its own files (``tfds.ReadConfig``'s
``input_context``). Each epoch's file order and record shuffle are seeded by (seed, epoch), so a job
resumed at epoch k reads what an uninterrupted one would.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tensorflow as tf

from src.data.sources import StreamingSource
from src.errors import ConfigError, DataError


class TFDSSource(StreamingSource):
    def __init__(self, data_cfg: Mapping[str, Any]):
        super().__init__(data_cfg["image_size"], data_cfg.get("channels", 3), data_cfg.get("recipe", "inception"),
                         data_cfg.get("crop_pct", 0.875), bool(data_cfg.get("augment", {}).get("horizontal_flip", True)))
        try:
            import tensorflow_datasets as tfds
        except ImportError as exc:
            raise ConfigError("data=tfds needs tensorflow-datasets (pip install tensorflow-datasets).") from exc
        root = Path(str(data_cfg["root"])).expanduser()
        if not (root / "dataset_info.json").is_file():
            raise DataError(f"{root} is not a prepared tensorflow-datasets folder (no dataset_info.json); give "
                            "<data_dir>/<name>/<version>, e.g. ~/tensorflow_datasets/imagenet2012/5.1.0.")
        self.builder = tfds.builder_from_directory(str(root))
        info = self.builder.info
        self.image_key, self.label_key = data_cfg.get("image_key", "image"), data_cfg.get("label_key", "label")
        for key in (self.image_key, self.label_key):
            if key not in info.features:
                raise ConfigError(f"{info.name} has no feature {key!r} (features: {', '.join(info.features)}); "
                                  "set data.image_key / data.label_key.")
        self.splits = {"train": data_cfg.get("train_split", "train"), "val": data_cfg.get("val_split", "validation"),
                       "test": data_cfg.get("test_split", "validation")}
        for split in self.splits.values():
            base = split.split("[")[0]
            if base not in info.splits:
                raise ConfigError(f"{info.name} has no split {base!r} (splits: {', '.join(info.splits)}).")
        self.counts = {k: int(info.splits[v].num_examples) for k, v in self.splits.items()}
        eval_subset = data_cfg.get("eval_subset")
        for split in ("val", "test"):
            if eval_subset:
                self.counts[split] = min(self.counts[split], int(eval_subset))
        self.train_limit = min(self.counts["train"], int(data_cfg.get("train_subset") or self.counts["train"]))
        self.buffer = int(data_cfg.get("shuffle_buffer", 10000))
        self.class_names = tuple(info.features[self.label_key].names)
        self.source = str(root)
        self.fingerprint = hashlib.sha256(
            f"{info.name}|{info.version}|{sorted(self.splits.items())}|{self.counts}|{self.size},{self.channels},"
            f"{data_cfg.get('recipe')},{self.crop_pct}".encode()).hexdigest()

    def num_examples(self, split: str) -> int:
        return self.train_limit if split == "train" else self.counts[split]

    def _reader(self, split: str):
        raise NotImplementedError("tensorflow-datasets records are read in order; see train_uint8 / eval_uint8")

    def _read(self, split: str, shuffle_seed: int | None, input_context) -> tf.data.Dataset:
        import tensorflow_datasets as tfds

        config = tfds.ReadConfig(input_context=input_context, shuffle_seed=shuffle_seed, interleave_cycle_length=16)
        ds = self.builder.as_dataset(split=self.splits[split], shuffle_files=shuffle_seed is not None,
                                     decoders={self.image_key: tfds.decode.SkipDecoding()}, read_config=config)
        return ds.map(lambda ex: (ex[self.image_key], tf.cast(ex[self.label_key], tf.int64)))

    def train_uint8(self, seed, epochs, start_epoch=0, batch_size=None, input_context=None, steps=None):
        from src.data.recipes import train_image

        size, channels, recipe, crop_pct, flip = self.size, self.channels, self.recipe, self.crop_pct, self.flip
        epochs_ds = []
        for epoch in range(start_epoch, epochs):  # tfds seeds are Python ints: one reader per epoch
            key = seed * 1000003 + epoch
            ds = self._read("train", key, input_context).shuffle(self.buffer, seed=key).take(self.train_limit)

            def load(position, example, epoch=epoch):
                encoded, label = example
                aug_seed = tf.stack([tf.constant(seed * 7919 + epoch, tf.int64), position])
                return train_image(encoded, aug_seed, size, channels, recipe, crop_pct, flip), label

            ds = ds.enumerate().map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            epochs_ds.append(ds.batch(batch_size) if batch_size else ds)
        out = epochs_ds[0] if epochs_ds else tf.data.Dataset.range(0)
        for ds in epochs_ds[1:]:
            out = out.concatenate(ds)
        return out

    def eval_uint8(self, split, input_context=None):
        from src.data.recipes import eval_image

        size, channels, crop_pct = self.size, self.channels, self.crop_pct
        ds = self._read(split, None, None).take(self.counts[split])
        if input_context is not None:  # every example once across the pipelines
            ds = ds.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
        return ds.map(lambda x, y: (eval_image(x, size, channels, crop_pct), y),
                      num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
