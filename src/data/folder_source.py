"""ImageNet-format class folders streamed from disk (``data=imagenet_folder``, ``scale=full``).

The tree is indexed once into a cached manifest (`src.data.manifest`); a job then holds only paths
and labels, and reads, crops and decodes each file when its index comes up (`src.data.sources`).
Splits: ``train/`` minus a seeded ``val_fraction`` held out for per-epoch validation; ``val/`` (or
``test/``) is the test split, as the papers report ImageNet's validation set. Without one, the test
split is carved from ``train/`` like validation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import tensorflow as tf

from src.data.manifest import SplitFiles, index_tree
from src.data.sources import StreamingSource
from src.data.splits import fingerprint, split_train_val
from src.errors import ConfigError, DataError


def _fraction(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 0.5:
        raise ConfigError(f"data.val_fraction must be in [0, 0.5), got {value!r}.")
    return float(value)


class FolderSource(StreamingSource):
    def __init__(self, data_cfg: Mapping[str, Any]):
        super().__init__(data_cfg["image_size"], data_cfg.get("channels", 3), data_cfg.get("recipe", "inception"),
                         data_cfg.get("crop_pct", 0.875), bool(data_cfg.get("augment", {}).get("horizontal_flip", True)))
        manifest = index_tree(
            data_cfg["root"], train_dir=data_cfg.get("train_dir", "train"), test_dir=data_cfg.get("test_dir", "auto"),
            on_bad_file=data_cfg.get("on_bad_file", "skip"), verify=data_cfg.get("verify", "header"),
            content_hash=bool(data_cfg.get("content_hash", False)), cache_dir=data_cfg.get("manifest_cache"),
        )
        self.root = manifest.root
        self.jpeg_only = manifest.all_jpeg  # non-JPEG images were re-encoded into the manifest cache
        fraction, seed = _fraction(data_cfg.get("val_fraction", 0.01)), int(data_cfg.get("split_seed", 0))
        train_idx, val_idx = split_train_val(len(manifest.train), fraction, seed)
        test_idx = np.arange(0, dtype=np.int64)
        if manifest.test is None:  # carve the test split from train/ too
            rest, test_pos = split_train_val(len(train_idx), fraction / (1 - fraction) if fraction else 0.0, seed + 1)
            train_idx, test_idx = train_idx[rest], train_idx[test_pos]
        limit = data_cfg.get("train_subset")
        if limit:
            subset_seed = data_cfg.get("subset_seed")
            rng = np.random.default_rng(seed if subset_seed is None else int(subset_seed))
            keep = np.sort(rng.permutation(len(train_idx))[: int(limit)])
            train_idx = train_idx[keep]
        self.files: dict[str, SplitFiles] = {
            "train": manifest.train.take(train_idx),
            "val": manifest.train.take(val_idx),
            "test": manifest.test if manifest.test is not None else manifest.train.take(test_idx),
        }
        eval_subset = data_cfg.get("eval_subset")
        if eval_subset:
            for split in ("val", "test"):
                self.files[split] = self.files[split].take(np.arange(min(int(eval_subset), len(self.files[split]))))
        if fraction and (len(val_idx) == 0 or len(test_idx) == 0 and manifest.test is None):
            raise DataError(f"data.val_fraction={fraction} holds out no image of the {len(manifest.train)} under "
                            f"{self.root}; raise it (e.g. data.val_fraction=0.1) for a tree this small.")
        if len(self.files["train"]) == 0:
            raise DataError(f"no training images left under {self.root} after holding out validation; add images.")
        self.class_names = manifest.classes
        self.skipped = manifest.skipped
        self.source = str(self.root)
        self.fingerprint = fingerprint(manifest.digest, train_idx, val_idx, test_idx,
                                       f"{self.size},{self.channels},{data_cfg.get('recipe')},{self.crop_pct}")
        self._semi_supervised(data_cfg)

    def _semi_supervised(self, data_cfg: Mapping[str, Any]) -> None:
        """``data.labelled_fraction``: keep a stratified labelled part of the training split and put the rest
        in the "pool" split (its labels are read by reporting only); ``data.pseudo_labels``: add the pool
        files the distillation job labelled, with those labels, as the "extra" split, mixed into every batch
        at ``data.pseudo_ratio`` (or shuffled with the labelled part when it is null). As
        `src.data.labelled` does for in-memory sets, with file indices instead of image arrays: only paths
        and labels are held, O(N) small numbers."""
        from src.data.labelled import load_pseudo_labels, pool_rows, stratified_labelled_split

        fraction, pseudo = data_cfg.get("labelled_fraction"), data_cfg.get("pseudo_labels")
        if fraction is None:
            if pseudo:
                raise ConfigError("data.pseudo_labels needs data.labelled_fraction (the split the labels were made for).")
            return
        full = self.files["train"]
        labelled, unlabelled = stratified_labelled_split(full.labels, float(fraction), int(data_cfg.get("labelled_seed", 0)))
        self.pool_indices = unlabelled  # into the (subset) training split, as the pseudo-labels file stores them
        self.files["train"], self.files["pool"] = full.take(labelled), full.take(unlabelled)
        self.fingerprint = fingerprint(self.fingerprint, "labelled", labelled)
        if not pseudo:
            return
        indices, labels = load_pseudo_labels(pseudo)
        rows = pool_rows(unlabelled, indices, labels, self.num_classes)
        pool = self.files["pool"].take(rows)
        extra = SplitFiles(pool.paths, labels.astype(np.int64), pool.sizes)
        self.fingerprint = fingerprint(self.fingerprint, "pseudo", np.asarray(indices, np.int64), labels.astype(np.int64))
        ratio = data_cfg.get("pseudo_ratio")
        if ratio is None:  # a plain union, shuffled together
            train = self.files["train"]
            self.files["train"] = SplitFiles(train.paths + extra.paths, np.concatenate([train.labels, extra.labels]),
                                             np.concatenate([train.sizes, extra.sizes]))
        elif len(extra):
            from src.data.pipeline import batch_shares

            batch_shares(2, float(ratio))  # a ratio outside (0, 1) is refused now, not at the first batch
            self.files["extra"], self.pseudo_ratio = extra, float(ratio)

    def mixed_shares(self, batch_size: int) -> tuple[int, int] | None:
        if "extra" not in self.files:
            return None
        from src.data.pipeline import batch_shares

        return batch_shares(batch_size, self.pseudo_ratio)

    def num_examples(self, split: str) -> int:
        """Examples of ``split``; "train" counts the pseudo-labelled "extra" files too (as one epoch's steps do)."""
        extra = len(self.files["extra"]) if split == "train" and "extra" in self.files else 0
        return len(self.files[split]) + extra

    def _reader(self, split: str):
        files = self.files[split]
        prefix = tf.constant(str(self.root) + "/")
        paths = tf.constant(list(files.paths) or [""], tf.string)  # relative: half the bytes of absolute paths
        labels = tf.constant(files.labels if len(files) else np.zeros(1, np.int64), tf.int64)

        def read(i: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            path = tf.gather(paths, i)
            path = tf.where(tf.strings.substr(path, 0, 1) == "/", path, prefix + path)  # converted: absolute
            return tf.io.read_file(path), tf.gather(labels, i)

        return read
