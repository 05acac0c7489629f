"""Data sources: what every job reads its examples from, in memory or streamed from disk.

A `Source` gives the training stream, the evaluation streams, counts, class names, a fingerprint and
a few decoded examples (int8 calibration, TFLite verification): nothing downstream needs the whole
data set in memory. Two kinds:

* `InMemorySource`: uint8 arrays (Fashion-MNIST, synthetic data, small class folders), as before.
* `StreamingSource`: encoded images read per example (ImageNet-format folders through a cached
  manifest, `src.data.manifest`; TFRecord shards, `src.data.tfrecord`), decoded with the papers' crops
  (`src.data.recipes`).

The training stream is a pure function of (seed, epoch) for both: a stateless shuffle of example
indices keyed by (seed, epoch), then one example per index ("gather row i" or "read file i"), each
crop and flip keyed by (seed, epoch, index). Sharding across input pipelines happens on the indices,
before any file is read: pipeline k of n takes positions k, k+n, ... of every epoch's order, so the
shards are disjoint, cover every example and differ in size by at most one.
"""

from __future__ import annotations

import logging
import math
from abc import ABC, abstractmethod

import numpy as np
import tensorflow as tf

from src.data.pipeline import Normalization, adapt_images, batch_shares, eval_dataset, mixed_train_dataset, train_dataset
from src.data.splits import DataSplits
from src.errors import ConfigError

log = logging.getLogger(__name__)
#: Test images a TFLite check reads from a streamed data set when export.max_eval_examples is null
#: (2,000 images are 1.2 GB as float32 at 224 px; a streamed test set is never loaded whole).
STREAMED_VERIFY_LIMIT = 2000


class Source(ABC):
    """What a job needs of its data set (see the module docstring)."""

    class_names: tuple[str, ...]
    fingerprint: str
    source: str
    image_shape: tuple[int, int, int]
    streaming: bool = False  # True: batches may stay uint8 (norm=None) and be normalised on the device

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @abstractmethod
    def num_examples(self, split: str) -> int: ...

    @abstractmethod
    def train_dataset(self, norm: Normalization | None, batch_size: int, seed: int, epochs: int, start_epoch: int = 0,
                      steps: int | None = None, input_context: tf.distribute.InputContext | None = None) -> tf.data.Dataset:
        """Normalised (images, labels) batches for epochs start_epoch..epochs-1 (uint8 for ``norm=None``,
        streaming sources only)."""

    @abstractmethod
    def eval_dataset(self, split: str, norm: Normalization | None, batch_size: int,
                     input_context: tf.distribute.InputContext | None = None) -> tf.data.Dataset:
        """Normalised, un-augmented batches of ``split`` ("val" or "test"), each example once."""

    @abstractmethod
    def take(self, split: str, n: int | None) -> tuple[np.ndarray, np.ndarray]:
        """The first ``n`` (all for None) examples of ``split`` as uint8 images (evaluation crop) and labels."""


def shard_positions(input_context: tf.distribute.InputContext | None) -> tuple[int, int]:
    """(pipelines, this pipeline's id) from a tf.distribute input context (1, 0 without one)."""
    if input_context is None:
        return 1, 0
    return int(input_context.num_input_pipelines), int(input_context.input_pipeline_id)


def batch_within_epochs(ds: tf.data.Dataset, per_epoch: int, batch_size: int) -> tf.data.Dataset:
    """Batches of ``batch_size`` of a stream of epochs of ``per_epoch`` elements each, an epoch's last batch
    short rather than straddling two epochs (as batching each epoch apart does)."""
    if per_epoch == 0 or per_epoch % batch_size == 0:
        return ds.batch(batch_size)
    batches = math.ceil(per_epoch / batch_size)
    last = per_epoch - (batches - 1) * batch_size

    def batch_id(k: tf.Tensor, _) -> tf.Tensor:
        return k // per_epoch * batches + k % per_epoch // batch_size

    def size_of(key: tf.Tensor) -> tf.Tensor:
        return tf.where(key % batches == batches - 1, tf.constant(last, tf.int64), tf.constant(batch_size, tf.int64))

    # consecutive elements share a batch id, so each window fills, and is emitted, in stream order
    return ds.enumerate().group_by_window(key_func=batch_id, window_size_func=size_of,
                                          reduce_func=lambda _, window: window.map(lambda k, x: x).batch(batch_size))


class InMemorySource(Source):
    """uint8 arrays brought to the job's size and channels once (`adapt_images`), fed by `src.data.pipeline`."""

    def __init__(self, splits: DataSplits, size: int, channels: int, resize: str, crop_pad: int, flip: bool,
                 eval_subset: int | None = None, pseudo_ratio: float | None = None):
        self.splits = splits
        adapt = lambda x: adapt_images(x, size, channels, resize)  # noqa: E731
        self.x = {"train": adapt(splits.x_train), "val": adapt(splits.x_val), "test": adapt(splits.x_test)}
        self.y = {"train": splits.y_train, "val": splits.y_val, "test": splits.y_test}
        for split in ("val", "test"):
            if eval_subset:
                self.x[split], self.y[split] = self.x[split][:eval_subset], self.y[split][:eval_subset]
        self.x_extra = None if splits.x_extra is None else adapt(splits.x_extra)
        self.y_extra = splits.y_extra
        self.pseudo_ratio = pseudo_ratio
        if self.x_extra is not None and pseudo_ratio is None:  # a plain union, shuffled together
            self.x["train"] = np.concatenate([self.x["train"], self.x_extra])
            self.y["train"] = np.concatenate([self.y["train"], self.y_extra])
            self.x_extra = None
        self.crop_pad, self.flip = crop_pad, flip
        self.class_names, self.fingerprint, self.source = splits.class_names, splits.fingerprint, splits.source
        self.image_shape = (size, size, channels)

    def num_examples(self, split: str) -> int:
        extra = 0 if split != "train" or self.x_extra is None else len(self.x_extra)
        return len(self.x[split]) + extra

    def train_dataset(self, norm, batch_size, seed, epochs, start_epoch=0, steps=None, input_context=None):
        augment = {"crop_pad": self.crop_pad, "flip": self.flip}
        if self.x_extra is None:
            return train_dataset(self.x["train"], self.y["train"], norm, batch_size, seed=seed, epochs=epochs,
                                 start_epoch=start_epoch, shard=shard_positions(input_context), **augment)
        if input_context is not None and input_context.num_input_pipelines > 1:
            raise ConfigError("data.pseudo_ratio (mixed batches) cannot be sharded over several input pipelines yet; "
                              "train it with train.distribution=none or mirrored.")
        shares = batch_shares(batch_size, float(self.pseudo_ratio))
        log.info("each batch mixes %d labelled and %d pseudo-labelled images (data.pseudo_ratio=%s)",
                 shares[0], shares[1], self.pseudo_ratio)
        steps = steps or math.ceil(self.num_examples("train") / batch_size)
        return mixed_train_dataset([(self.x["train"], self.y["train"]), (self.x_extra, self.y_extra)], shares, norm,
                                   seed=seed, epochs=epochs, steps=steps, start_epoch=start_epoch, **augment)

    def eval_dataset(self, split, norm, batch_size, input_context=None):
        return eval_dataset(self.x[split], self.y[split], norm, batch_size, shard=shard_positions(input_context))

    def take(self, split, n):
        return self.x[split][:n], self.y[split][:n]


class StreamingSource(Source):
    """Encoded examples read one index at a time, decoded per recipe.

    Subclasses give `_reader(split)`: a graph function from an int64 index to (encoded bytes, label), and
    the split sizes; sources read in order (TFRecords, tensorflow-datasets) override the two streams."""

    streaming = True
    pseudo_ratio: float | None = None  # the pseudo-labelled share of each batch when `mixed_shares` applies

    def __init__(self, size: int, channels: int, recipe_name: str, crop_pct: float, flip: bool):
        from src.data.recipes import check_crop_pct, get_recipe

        if channels not in (1, 3):
            raise ConfigError(f"data.channels must be 1 or 3, got {channels!r}.")
        self.size, self.channels, self.flip = int(size), int(channels), bool(flip)
        self.recipe, self.crop_pct = get_recipe(recipe_name), check_crop_pct(crop_pct)
        self.image_shape = (self.size, self.size, self.channels)
        self.jpeg_only = False  # a subclass that guarantees JPEG bytes skips the per-image routing

    @abstractmethod
    def _reader(self, split: str):
        """A graph function: int64 index -> (encoded image bytes, int64 label)."""

    def mixed_shares(self, batch_size: int) -> tuple[int, int] | None:
        """(labelled, pseudo-labelled) examples per batch when a second source ("extra") is mixed into every
        batch at ``pseudo_ratio`` (Data Distillation §3.2), else None. Indexed sources that hold pseudo-labels
        (`src.data.folder_source`) override it."""
        return None

    def train_uint8(self, seed: int, epochs: int, start_epoch: int = 0, batch_size: int | None = None,
                    input_context: tf.distribute.InputContext | None = None, steps: int | None = None) -> tf.data.Dataset:
        """The uint8 training stream, batched within each epoch when ``batch_size`` is given (so a batch never
        straddles two epochs, as in `src.data.pipeline.train_dataset`)."""
        if batch_size and self.mixed_shares(batch_size):
            return self._mixed_train_uint8(seed, epochs, start_epoch, batch_size, steps, input_context)
        n = self.num_examples("train")
        pipelines, me = shard_positions(input_context)
        per_epoch = len(range(me, n, pipelines))  # this pipeline's examples in every epoch
        read = self._reader("train")
        size, channels, recipe, crop_pct, flip = self.size, self.channels, self.recipe, self.crop_pct, self.flip
        jpeg_only = self.jpeg_only
        from src.data.recipes import train_image

        def epoch_indices(epoch: tf.Tensor) -> tf.data.Dataset:
            order = tf.random.experimental.stateless_shuffle(
                tf.range(n, dtype=tf.int64), seed=tf.stack([tf.constant(seed, tf.int64), epoch]))
            order = order[me::pipelines]  # shard the indices, before any file is read
            return tf.data.Dataset.from_tensor_slices((tf.fill([per_epoch], epoch), order))

        def load(epoch: tf.Tensor, i: tf.Tensor):
            encoded, label = read(i)
            aug_seed = tf.stack([tf.constant(seed, tf.int64) * 7919 + epoch, i])
            return train_image(encoded, aug_seed, size, channels, recipe, crop_pct, flip, jpeg_only), label

        # Only the indices are made per epoch; the decoding runs in one top-level parallel map. The same map
        # nested in flat_map gave about 15 % fewer images per CPU-second (experiments/bench/input_pipeline).
        ds = tf.data.Dataset.range(start_epoch, epochs).flat_map(epoch_indices).map(
            load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        return batch_within_epochs(ds, per_epoch, batch_size) if batch_size else ds

    def _mixed_train_uint8(self, seed: int, epochs: int, start_epoch: int, batch_size: int, steps: int | None,
                           input_context: tf.distribute.InputContext | None) -> tf.data.Dataset:
        """Batches of ``mixed_shares`` labelled ("train") and pseudo-labelled ("extra") examples, ``steps`` per
        epoch: `src.data.pipeline.mixed_train_dataset` with "gather row i" replaced by "read file i" (the same
        orders and augmentation seeds), so the stream is a pure function of (seed, epoch) here too."""
        from src.data.pipeline import cycled_order
        from src.data.recipes import train_image

        if shard_positions(input_context)[0] > 1:
            raise ConfigError("a pseudo-labelled student (data.pseudo_ratio) trains on one input pipeline; "
                              "set data.pseudo_ratio=null to shuffle labelled and pseudo-labelled images together.")
        shares = self.mixed_shares(batch_size)
        steps = steps or math.ceil(self.num_examples("train") / batch_size)
        log.info("each batch mixes %d labelled and %d pseudo-labelled images (data.pseudo_ratio=%s)", *shares,
                 self.pseudo_ratio)
        size, channels, recipe, crop_pct, flip = self.size, self.channels, self.recipe, self.crop_pct, self.flip
        jpeg_only = self.jpeg_only
        parts = [(self._reader(split), self.num_examples(split) if split == "extra"
                  else self.num_examples("train") - self.num_examples("extra")) for split in ("train", "extra")]

        def source_epoch(src: int, epoch: tf.Tensor) -> tf.data.Dataset:
            read, n = parts[src]
            need = steps * shares[src]
            order = cycled_order(n, need, seed, src, epoch)

            def load(position: tf.Tensor, i: tf.Tensor):
                encoded, label = read(i)
                aug_seed = tf.stack([tf.constant(seed, tf.int64) * 7919 + epoch, position * 8 + src])
                return train_image(encoded, aug_seed, size, channels, recipe, crop_pct, flip, jpeg_only), label

            return (tf.data.Dataset.from_tensor_slices((tf.range(need, dtype=tf.int64), order))
                    .map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).batch(shares[src]))

        def one_epoch(epoch: tf.Tensor) -> tf.data.Dataset:
            parts_ds = (source_epoch(0, epoch), source_epoch(1, epoch))
            return tf.data.Dataset.zip(parts_ds).map(lambda a, b: (tf.concat([a[0], b[0]], 0), tf.concat([a[1], b[1]], 0)))

        return tf.data.Dataset.range(start_epoch, epochs).flat_map(one_epoch)

    def train_dataset(self, norm, batch_size, seed, epochs, start_epoch=0, steps=None, input_context=None):
        return self._normalised(self.train_uint8(seed, epochs, start_epoch, batch_size, input_context, steps), norm)

    @staticmethod
    def _normalised(batches: tf.data.Dataset, norm: Normalization | None) -> tf.data.Dataset:
        # uint8 crosses the pipeline; without a norm it stays uint8 (the job normalises on the device)
        if norm is not None:
            batches = batches.map(lambda x, y: (norm.apply(x), y), num_parallel_calls=tf.data.AUTOTUNE)
        return batches.prefetch(tf.data.AUTOTUNE)

    def eval_uint8(self, split: str, input_context: tf.distribute.InputContext | None = None) -> tf.data.Dataset:
        n = self.num_examples(split)
        pipelines, me = shard_positions(input_context)
        # contiguous blocks per pipeline: every example evaluated exactly once across the pipelines
        lo, hi = (n * me) // pipelines, (n * (me + 1)) // pipelines
        read = self._reader(split)
        size, channels, crop_pct, jpeg_only = self.size, self.channels, self.crop_pct, self.jpeg_only
        from src.data.recipes import eval_image

        def load(i: tf.Tensor):
            encoded, label = read(i)
            return eval_image(encoded, size, channels, crop_pct, jpeg_only), label

        return tf.data.Dataset.range(lo, hi).map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)

    def eval_dataset(self, split, norm, batch_size, input_context=None):
        return self._normalised(self.eval_uint8(split, input_context).batch(batch_size), norm)

    def take(self, split, n):
        total = self.num_examples(split)
        n = total if n is None else min(int(n), total)
        images, labels = [], []
        for x, y in self.eval_uint8(split).take(n).batch(256):
            images.append(x.numpy())
            labels.append(y.numpy())
        if not images:
            return np.zeros((0, *self.image_shape), np.uint8), np.zeros((0,), np.int64)
        return np.concatenate(images), np.concatenate(labels)
