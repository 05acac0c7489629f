"""Data sets as `DataSplits` (uint8 arrays + fingerprint) and the shared tf.data pipeline."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from src.data.splits import DataSplits, subset_train
from src.errors import ConfigError, did_you_mean

if TYPE_CHECKING:
    from src.data.labelled import UnlabelledPool
    from src.data.sources import Source

DATASETS = ("fashion_mnist", "synthetic", "image_folder", "imagenet_folder", "tfrecord", "tfds")
#: Data sets streamed from disk (`src.data.sources.StreamingSource`); the others are held in memory.
STREAMING = ("imagenet_folder", "tfrecord", "tfds")
#: Streamed data sets read in record order, without random access by example index.
READ_IN_ORDER = ("tfrecord", "tfds")


def open_source(data_cfg: Mapping[str, Any]) -> Source:
    """The `Source` a `conf/data/*.yaml` config describes: streamed for `STREAMING` data sets, else the
    in-memory splits of `load_splits` brought to ``image_size``/``channels``."""
    from src.data.sources import InMemorySource

    name = data_cfg.get("name")
    if name in READ_IN_ORDER and (data_cfg.get("labelled_fraction") is not None or data_cfg.get("pseudo_labels")):
        raise ConfigError(f"data.labelled_fraction and data.pseudo_labels pick examples by index: data={name} is read "
                          "in record order. Use data=imagenet_folder (streamed, indexed) or an in-memory data set.")
    if name == "imagenet_folder":
        from src.data.folder_source import FolderSource

        return FolderSource(data_cfg)
    if name == "tfrecord":
        from src.data.tfrecord import TFRecordSource

        return TFRecordSource(data_cfg)
    if name == "tfds":
        from src.data.tfds_source import TFDSSource

        return TFDSSource(data_cfg)
    augment = data_cfg.get("augment") or {}
    return InMemorySource(
        load_splits(data_cfg), int(data_cfg["image_size"]), int(data_cfg["channels"]), data_cfg.get("resize", "pad"),
        crop_pad=int(augment.get("random_crop_pad", 0)), flip=bool(augment.get("horizontal_flip", False)),
        eval_subset=data_cfg.get("eval_subset"), pseudo_ratio=data_cfg.get("pseudo_ratio"),
    )


def load_splits(data_cfg: Mapping[str, Any]) -> DataSplits:
    """Load the data set a `conf/data/*.yaml` config describes: ``train_subset`` keeps at most N training
    images (drawn with ``subset_seed``, or ``split_seed`` when that is null); ``labelled_fraction`` keeps a stratified labelled part of them, and ``pseudo_labels`` (a file
    of the distillation job) adds pseudo-labelled images of the unlabelled rest as a second source."""
    splits, pool = load_semi_supervised(data_cfg)
    pseudo = data_cfg.get("pseudo_labels")
    if pseudo:
        if pool is None:
            raise ConfigError("data.pseudo_labels needs data.labelled_fraction (the split the labels were made for).")
        from src.data.labelled import load_pseudo_labels, with_pseudo_labels

        splits = with_pseudo_labels(splits, pool, *load_pseudo_labels(pseudo))
    return splits


def load_semi_supervised(data_cfg: Mapping[str, Any]) -> tuple[DataSplits, UnlabelledPool | None]:
    """The (possibly subset) splits restricted to their labelled part, and the unlabelled pool, when
    ``data.labelled_fraction`` is set; else the splits and None."""
    splits = _load(data_cfg)
    limit = data_cfg.get("train_subset")
    if limit is not None:
        if not isinstance(limit, int) or limit < 1:
            raise ConfigError(f"data.train_subset must be a positive integer or null, got {limit!r}.")
        subset_seed = data_cfg.get("subset_seed")
        splits = subset_train(splits, limit, data_cfg.get("split_seed", 0) if subset_seed is None else int(subset_seed))
    fraction = data_cfg.get("labelled_fraction")
    if fraction is None:
        return splits, None
    from src.data.labelled import split_labelled

    return split_labelled(splits, float(fraction), int(data_cfg.get("labelled_seed", 0)))


def _load(data_cfg: Mapping[str, Any]) -> DataSplits:
    name = data_cfg.get("name")
    if name == "fashion_mnist":
        from src.data.fashion_mnist import load_fashion_mnist

        return load_fashion_mnist(
            path=data_cfg.get("path"),
            val_fraction=data_cfg["val_fraction"],
            seed=data_cfg.get("split_seed", 0),
        )
    if name == "synthetic":
        from src.data.synthetic import load_synthetic

        return load_synthetic(
            num_train=data_cfg["num_train"],
            num_val=data_cfg["num_val"],
            num_test=data_cfg["num_test"],
            image_size=data_cfg["image_size"],
            channels=data_cfg["channels"],
            num_classes=data_cfg["num_classes"],
            seed=data_cfg.get("split_seed", 0),
        )
    if name == "image_folder":
        from src.data.image_folder import load_image_folder

        return load_image_folder(
            root=data_cfg["root"],
            image_size=data_cfg["image_size"],
            channels=data_cfg["channels"],
            val_fraction=data_cfg["val_fraction"],
            seed=data_cfg.get("split_seed", 0),
            test_dir=data_cfg.get("test_dir"),
            train_dir=data_cfg.get("train_dir"),
            on_bad_file=data_cfg.get("on_bad_file", "skip"),
        )
    raise ConfigError(f"Unknown data set {name!r}.{did_you_mean(str(name), DATASETS)} Available: {', '.join(DATASETS)}.")


__all__ = ["DATASETS", "READ_IN_ORDER", "STREAMING", "DataSplits", "load_semi_supervised", "load_splits", "open_source"]
