"""tf.data input pipeline shared by every data set: size/channel adaptation, normalisation, augmentation.

The training stream is a pure function of (seed, epoch): each epoch's order comes from a stateless
shuffle seeded by (seed, epoch) and each image's crop/flip from stateless ops seeded by
(seed, epoch, index). Same config + seed gives the same batches, and a job resumed at epoch k sees
exactly the batches an uninterrupted job would have seen from epoch k on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from src.errors import ConfigError

RESIZE_METHODS = ("pad", "bilinear")


@dataclass(frozen=True)
class Normalization:
    """Per-channel (x / 255 - mean) / std; recorded with every run and shipped with exports."""

    mean: tuple[float, ...]
    std: tuple[float, ...]

    @classmethod
    def create(cls, mean: Sequence[float], std: Sequence[float], channels: int) -> Normalization:
        mean, std = tuple(float(m) for m in mean), tuple(float(s) for s in std)
        if len(mean) == 1 and channels > 1:  # a grey-scale statistic replicated with the channels
            mean, std = mean * channels, std * channels
        if len(mean) != channels or len(std) != channels:
            raise ConfigError(
                f"data.normalize has {len(mean)} mean / {len(std)} std values for {channels} channels; "
                "give one value per channel (or one for all)."
            )
        if min(std) <= 0:
            raise ConfigError(f"data.normalize.std must be > 0, got {list(std)}")
        return cls(mean, std)

    def apply(self, images: tf.Tensor | np.ndarray) -> tf.Tensor:
        x = tf.cast(images, tf.float32) / 255.0
        return (x - tf.constant(self.mean)) / tf.constant(self.std)

    def apply_numpy(self, images: np.ndarray) -> np.ndarray:
        x = images.astype(np.float32) / 255.0
        return ((x - np.float32(self.mean)) / np.float32(self.std)).astype(np.float32)


def adapt_images(images: np.ndarray, image_size: int, channels: int, resize: str = "pad") -> np.ndarray:
    """Bring uint8 (N, H, W, C) images to (N, S, S, channels): zero-pad/centre-crop or bilinear resize,
    and replicate a grey channel to 3 (or average RGB to grey). Done once, before the pipeline."""
    if resize not in RESIZE_METHODS:
        raise ConfigError(f"data.resize={resize!r} is unknown; use one of {list(RESIZE_METHODS)}.")
    if image_size < 1 or channels not in (1, 3):
        raise ConfigError(f"data.image_size must be ≥ 1 and data.channels 1 or 3, got {image_size}, {channels}.")
    n, h, w, c = images.shape
    out = images
    if (h, w) != (image_size, image_size):
        if resize == "pad":
            out = tf.image.resize_with_crop_or_pad(out, image_size, image_size).numpy()
        else:
            resized = tf.image.resize(out, (image_size, image_size), method="bilinear")
            out = np.clip(np.round(resized.numpy()), 0, 255).astype(np.uint8)
    if c != channels:
        if c == 1:
            out = np.repeat(out, channels, axis=-1)
        elif channels == 1:
            out = np.round(out.mean(axis=-1, keepdims=True)).astype(np.uint8)
        else:
            raise ConfigError(f"cannot convert {c}-channel images to {channels} channels.")
    return np.ascontiguousarray(out, dtype=np.uint8)


def _augment(image: tf.Tensor, seed: tf.Tensor, crop_pad: int, flip: bool) -> tf.Tensor:
    if crop_pad > 0:
        h, w, c = image.shape
        padded = tf.pad(image, [[crop_pad, crop_pad], [crop_pad, crop_pad], [0, 0]])
        image = tf.image.stateless_random_crop(padded, (h, w, c), seed=seed)
    if flip:
        flip_seed = tf.random.experimental.stateless_fold_in(seed, 1)
        image = tf.image.stateless_random_flip_left_right(image, seed=flip_seed)
    return image


def _example(x: tf.Tensor, y: tf.Tensor, i: tf.Tensor, aug_seed: tf.Tensor, crop_pad: int, flip: bool):
    """Example ``i`` of (x, y), cropped/flipped with the stateless ``aug_seed`` when augmentation is on."""
    image = tf.gather(x, i)
    if crop_pad or flip:
        image = _augment(image, aug_seed, crop_pad, flip)
    return image, tf.gather(y, i)


def _normalised(ds: tf.data.Dataset, norm: Normalization) -> tf.data.Dataset:
    ds = ds.map(lambda im, lab: (norm.apply(im), lab), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.prefetch(tf.data.AUTOTUNE)


def steps_per_epoch(num_examples: int, batch_size: int) -> int:
    return math.ceil(num_examples / batch_size)


def train_dataset(
    images: np.ndarray,
    labels: np.ndarray,
    norm: Normalization,
    batch_size: int,
    seed: int,
    epochs: int,
    start_epoch: int = 0,
    crop_pad: int = 0,
    flip: bool = False,
    shard: tuple[int, int] = (1, 0),
) -> tf.data.Dataset:
    """Batches for epochs start_epoch..epochs-1, each epoch a seeded permutation of all examples.

    ``shard=(pipelines, k)``: pipeline k takes positions k, k+pipelines, ... of every epoch's order, so
    with ``batch_size`` = global batch / pipelines, step s of the pipelines together is step s of the
    unsharded stream (src/data/sources.py)."""
    n = len(images)
    pipelines, me = shard
    x = tf.constant(images)
    y = tf.constant(labels.astype(np.int64))

    def one_epoch(epoch: tf.Tensor) -> tf.data.Dataset:
        order = tf.random.experimental.stateless_shuffle(
            tf.range(n, dtype=tf.int64), seed=tf.stack([tf.constant(seed, tf.int64), epoch])
        )[me::pipelines]

        def load(i: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            return _example(x, y, i, tf.stack([tf.constant(seed, tf.int64) * 7919 + epoch, i]), crop_pad, flip)

        return (
            tf.data.Dataset.from_tensor_slices(order)
            .map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            .batch(batch_size)
        )

    ds = tf.data.Dataset.range(start_epoch, epochs).flat_map(one_epoch)
    return _normalised(ds, norm)


def mixed_train_dataset(
    sources: Sequence[tuple[np.ndarray, np.ndarray]],
    shares: Sequence[int],
    norm: Normalization,
    seed: int,
    epochs: int,
    steps: int,
    start_epoch: int = 0,
    crop_pad: int = 0,
    flip: bool = False,
) -> tf.data.Dataset:
    """Batches that take ``shares[s]`` examples from source ``s`` every step (Data Distillation §3.2 mixes
    ground-truth and generated labels in every mini-batch, 6:4), ``steps`` per epoch.

    Each source is cycled through its own seeded permutations as often as the epoch needs; like
    `train_dataset`, the stream is a pure function of (seed, epoch), so resumed jobs see the same batches."""
    if len(sources) != len(shares) or min(shares) < 1:
        raise ConfigError(f"every source needs a positive share of the batch, got shares {list(shares)}")

    def source_epoch(src: int, epoch: tf.Tensor) -> tf.data.Dataset:
        images, labels = sources[src]
        n, need = len(images), steps * shares[src]
        x, y = tf.constant(images), tf.constant(labels.astype(np.int64))
        order = cycled_order(n, need, seed, src, epoch)

        def load(position: tf.Tensor, i: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            aug_seed = tf.stack([tf.constant(seed, tf.int64) * 7919 + epoch, position * 8 + src])
            return _example(x, y, i, aug_seed, crop_pad, flip)

        positions = tf.range(need, dtype=tf.int64)
        return (tf.data.Dataset.from_tensor_slices((positions, order))
                .map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
                .batch(shares[src]))

    def one_epoch(epoch: tf.Tensor) -> tf.data.Dataset:
        parts = tuple(source_epoch(s, epoch) for s in range(len(sources)))
        return tf.data.Dataset.zip(parts).map(
            lambda *batches: (tf.concat([b[0] for b in batches], 0), tf.concat([b[1] for b in batches], 0))
        )

    ds = tf.data.Dataset.range(start_epoch, epochs).flat_map(one_epoch)
    return _normalised(ds, norm)


def cycled_order(n: int, need: int, seed: int, src: int, epoch: tf.Tensor) -> tf.Tensor:
    """The first ``need`` indices of source ``src``'s seeded permutations of range(n), one after another: the
    order of a mixed batch's share (`mixed_train_dataset`, and `StreamingSource` for streamed data)."""
    passes = [
        tf.random.experimental.stateless_shuffle(
            tf.range(n, dtype=tf.int64), seed=tf.stack([tf.constant(seed * 31 + src, tf.int64), epoch * 4096 + j])
        )
        for j in range(math.ceil(need / n))
    ]
    return tf.concat(passes, 0)[:need]


def batch_shares(batch_size: int, extra_ratio: float) -> tuple[int, int]:
    """(primary, extra) examples per batch for a fraction ``extra_ratio`` of extra examples (each ≥ 1)."""
    if not 0.0 < extra_ratio < 1.0:
        raise ConfigError(f"data.pseudo_ratio must be in (0, 1) (the pseudo-labelled share of each batch; "
                          f"Data Distillation uses 0.4) or null, got {extra_ratio!r}.")
    extra = min(batch_size - 1, max(1, int(round(batch_size * extra_ratio))))
    return batch_size - extra, extra


def eval_dataset(images: np.ndarray, labels: np.ndarray, norm: Normalization, batch_size: int,
                 shard: tuple[int, int] = (1, 0)) -> tf.data.Dataset:
    """Un-shuffled, un-augmented batches for validation and test, normalised once and cached;
    ``shard=(pipelines, k)``: the k-th of ``pipelines`` contiguous blocks (every example once across them)."""
    pipelines, me = shard
    lo, hi = (len(images) * me) // pipelines, (len(images) * (me + 1)) // pipelines
    images, labels = images[lo:hi], labels[lo:hi]
    ds = tf.data.Dataset.from_tensor_slices((images, labels.astype(np.int64))).batch(batch_size)
    ds = ds.map(lambda im, lab: (norm.apply(im), lab), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.cache().prefetch(tf.data.AUTOTUNE)
