"""Interleaved A/B of training-pipeline variants in one process, images per CPU-second:

    python -m src.bench.input_variants [--files 400] [--rounds 6] [--variants raw,train,...] [--out DIR]

The cheap ideas for the training pipeline's speed (experiments/bench/input_pipeline), each measured
against the suite's own pipeline (`FolderSource.train_uint8`) and the raw ``decode_jpeg`` in the same
process, round after round, so that the machine's load falls on every variant alike:

* ``raw`` / ``raw_integer_fast``: full ``decode_jpeg`` (libjpeg's default accurate integer IDCT, or
  ``dct_method="INTEGER_FAST"``);
* ``train``: the suite's pipeline; ``nested_map``: its earlier form, the decoding map nested in the
  per-epoch ``flat_map``; ``train_copy``: one epoch of it without the per-epoch structure, the base of the
  variants below;
* ``integer_fast``: the fused crop decoded with ``dct_method="INTEGER_FAST"``; ``integer_fast_box``: also
  ``fancy_upscaling=False`` (what tf_cnn_benchmarks and NVIDIA's TensorFlow examples decode with);
* ``no_flip``: without the random flip (the most a cheaper flip can gain); ``epoch_flips``: the flip bits
  drawn once per epoch as a vector, a `tf.cond` per image; ``batch_flip``: flipped per batch with
  `tf.where`;
* ``intra_op_1``: ``tf.data.Options().threading.max_intra_op_parallelism = 1``.

A one-off measuring tool: the variants are copies, not options of `src.data.recipes`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

VARIANTS = ("raw", "raw_integer_fast", "train", "nested_map", "train_copy", "integer_fast", "integer_fast_box", "no_flip",
            "epoch_flips", "batch_flip", "intra_op_1")
SIZE, BATCH = 224, 64


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _datasets(root: str, names: list[str]):
    import tensorflow as tf

    from src.data import recipes
    from src.data.folder_source import FolderSource

    source = FolderSource({"name": "imagenet_folder", "root": root, "image_size": SIZE, "channels": 3,
                           "recipe": "inception", "crop_pct": 0.875, "val_fraction": 0.0, "test_dir": None,
                           "manifest_cache": tempfile.mkdtemp(prefix="manifest_"), "augment": {"horizontal_flip": True}})
    n, read, recipe = source.num_examples("train"), source._reader("train"), recipes.RECIPES["inception"]

    def build(name: str) -> tf.data.Dataset:
        if name == "train":
            return source.train_uint8(seed=0, epochs=1, batch_size=BATCH).prefetch(tf.data.AUTOTUNE)
        if name == "nested_map":  # train_uint8 before 2026-12-07: the parallel map inside flat_map, per epoch
            def one_epoch(epoch):
                order = tf.random.experimental.stateless_shuffle(tf.range(n, dtype=tf.int64),
                                                                 seed=tf.stack([tf.constant(0, tf.int64), epoch]))

                def load_one(i):
                    encoded, label = read(i)
                    seed = tf.stack([epoch, i])
                    return recipes.train_image(encoded, seed, SIZE, 3, recipe, 0.875, True, source.jpeg_only), label

                return tf.data.Dataset.from_tensor_slices(order).map(
                    load_one, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).batch(BATCH)

            return tf.data.Dataset.range(0, 1).flat_map(one_epoch).prefetch(tf.data.AUTOTUNE)
        dct = "INTEGER_FAST" if "integer_fast" in name else ""
        fancy = name != "integer_fast_box"

        def load(i, flip):
            encoded, label = read(i)
            if name.startswith("raw"):  # the decoded image is the cost, not a copy of it
                return tf.io.decode_jpeg(encoded, channels=3, dct_method=dct)[0, 0, 0], label
            seed = tf.stack([tf.constant(7919, tf.int64), i])
            window = recipes._random_window(tf.io.extract_jpeg_shape(encoded), seed, recipe, 0.875)
            image = tf.io.decode_and_crop_jpeg(encoded, window, channels=3, dct_method=dct, fancy_upscaling=fancy)
            image.set_shape([None, None, 3])
            image = recipes._finish(image, SIZE, 3)
            if name == "epoch_flips":
                image = tf.cond(flip, lambda: tf.reverse(image, [1]), lambda: image)
            elif name not in ("no_flip", "batch_flip"):
                image = tf.image.stateless_random_flip_left_right(image, tf.random.experimental.stateless_fold_in(seed, 1))
            return image, label

        order = tf.random.experimental.stateless_shuffle(tf.range(n, dtype=tf.int64), seed=[0, 0])
        flips = tf.random.stateless_uniform([n], seed=[0, 1]) < 0.5
        ds = tf.data.Dataset.from_tensor_slices((order, flips)).map(load, num_parallel_calls=tf.data.AUTOTUNE,
                                                                     deterministic=True).batch(BATCH)
        if name == "batch_flip":
            def flip_batch(x, y):
                mask = tf.random.stateless_uniform([tf.shape(x)[0]], seed=[0, 2]) < 0.5
                return tf.where(mask[:, None, None, None], tf.reverse(x, [2]), x), y

            ds = ds.map(flip_batch)
        ds = ds.prefetch(tf.data.AUTOTUNE)
        if name == "intra_op_1":
            options = tf.data.Options()
            options.threading.max_intra_op_parallelism = 1
            ds = ds.with_options(options)
        return ds

    return {name: build(name) for name in names}


def measure(root: str, names: list[str], rounds: int) -> dict[str, list[float]]:
    """Images per CPU-second of each variant, ``rounds`` interleaved passes after one warm-up pass each."""
    datasets = _datasets(root, names)
    for ds in datasets.values():
        for _ in ds:
            pass
    rates: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        for name, ds in datasets.items():
            cpu, count = _cpu_seconds(), 0
            for _, labels in ds:
                count += int(labels.shape[0])
            rates[name].append(count / (_cpu_seconds() - cpu))
        print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.0f}" for k, v in rates.items()), flush=True)
    return rates


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description="Interleaved A/B of training-pipeline variants (images per CPU-second).")
    parser.add_argument("--files", type=int, default=400, help="training files of the generated tree (10 classes)")
    parser.add_argument("--scale", type=float, default=1.0, help="image size factor (1: ImageNet-like, ≈500×375)")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, of {', '.join(VARIANTS)}")
    parser.add_argument("--out", default=None, help="folder for variants.json")
    args = parser.parse_args(argv)
    names = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = sorted(set(names) - set(VARIANTS))
    if unknown:
        raise SystemExit(f"error: unknown variant(s) {unknown}; choose from {', '.join(VARIANTS)}")
    from src.data.fake_tree import make_tree

    with tempfile.TemporaryDirectory(prefix="input_variants_") as work:
        tree = make_tree(Path(work) / "tree", classes=10, train_per_class=max(1, args.files // 10), val_per_class=0,
                         scale=args.scale)
        rates = measure(str(tree.root), names, args.rounds)
    median = {name: statistics.median(v) for name, v in rates.items()}
    base = median.get("train_copy", median.get("train"))
    print("\n| variant | median images per CPU-second | rounds | vs train_copy |\n|---|---|---|---|")
    for name in names:
        ratio = f"{median[name] / base:.2f}×" if base else ""
        print(f"| {name} | {median[name]:.0f} | {', '.join(f'{r:.0f}' for r in rates[name])} | {ratio} |")
    summary = {"files": args.files, "scale": args.scale, "rounds": rates, "median": median}
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "variants.json").write_text(json.dumps(summary, indent=2))
    return summary


if __name__ == "__main__":
    main()
