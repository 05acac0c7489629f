"""Compress a trained job with Deep Compression and report each stage (Han et al., ICLR 2016, Table 1/4).

    python -m src.compress.run outputs/<experiment>/<job> --settings conf/compress/lenet_300_100.yaml \
        [--prune-epochs 6] [--share-epochs 3] [--learning-rate 0.01] [--prune-schedule constant|cosine] [--share-learning-rate 1e-4] [--batch-size 128] [--out DIR]

Reads the job's ``config.yaml`` (its data and normalisation; a streamed data set is streamed through the
training loop's pipeline, never loaded) and ``model.keras``, builds the tf_keras
twin (outputs checked equal), prunes and retrains, shares weights and retrains the centroids, counts the
storage of every stage per layer, copies the compressed weights back into the Keras 3 model and saves it
as ``compressed.keras``. Writes ``report.json`` and ``README.md`` (accuracy after each stage, storage
table) into ``--out`` (default ``<job>/compressed``). Runs in its own process: it imports tfmot
(tfmot is Keras-2 only).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import yaml  # noqa: E402

from src.compress.pipeline import (  # noqa: E402
    DEFAULT_PRUNE_SCHEDULE,
    PRUNE_SCHEDULES,
    LayerSetting,
    evaluate,
    prune,
    quantise,
    storage,
)
from src.compress.storage import layer_fields, table  # noqa: E402
from src.errors import ConfigError, SuiteError  # noqa: E402


def read_settings(path: Path, weight_layers: list[str] | None = None) -> dict[str, LayerSetting]:
    """Per-layer settings: ``layers: {name: {kept_fraction, weight_bits, index_bits}}``, and optionally
    ``default:`` (same fields) for every other layer of ``weight_layers`` (SqueezeNet's one setting for all)."""
    def setting(v) -> LayerSetting:
        return LayerSetting(float(v["kept_fraction"]), int(v["weight_bits"]), int(v["index_bits"]))

    try:
        raw = yaml.safe_load(Path(path).read_text())
        layers = {name: setting(v) for name, v in (raw.get("layers") or {}).items()}
        default = setting(raw["default"]) if raw.get("default") else None
    except (OSError, AttributeError, KeyError, TypeError, ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: not a compression settings file ({exc}); expected layers: {{name: "
                          "{kept_fraction, weight_bits, index_bits}}} and/or default: {kept_fraction, ...}") from None
    if default is not None and weight_layers is not None:
        layers.update({name: default for name in weight_layers if name not in layers})
    if not layers and weight_layers is not None:
        raise ConfigError(f"{path}: names no layer (layers: is empty and there is no default:)")
    unknown = sorted(set(layers) - set(weight_layers or layers))
    if unknown:
        raise ConfigError(f"{path}: layers {unknown} are not weight layers of the model; it has {weight_layers}")
    return layers


def weight_layer_names(model) -> list[str]:
    """Layers whose kernel Deep Compression prunes and shares: convolutions (any kind) and dense layers."""
    return [layer.name for layer in model.layers if getattr(layer, "kernel", None) is not None]


#: What needs the job's data set in memory (named in the error for a streamed one).
IN_MEMORY_USER = "Deep Compression's retraining (src.compress)"


def load_job_data(job_dir: Path, batch_size: int = 128, seed: int = 0):
    """(x_train, y_train, x_test, y_test) of a job, adapted and normalised as it was trained. A streamed data
    set (``data=imagenet_folder``, ``tfrecord``, ``tfds``) is never loaded: it gives a `TrainingStream` of the
    training loop's own pipeline (batches of ``batch_size``, seeded by ``seed``) and a test dataset, with
    None for the labels."""
    from src.data import STREAMING
    from src.data.pipeline import Normalization
    from src.job_folder import job_arrays, load_config

    d = load_config(job_dir).data
    if d.get("name") in STREAMING:
        norm = Normalization.create(d.normalize.mean, d.normalize.std, int(d.channels))
        return _streamed_job_data(d, norm, batch_size, seed)
    return job_arrays(job_dir, IN_MEMORY_USER)


def _streamed_job_data(d, norm, batch_size: int, seed: int):
    from src.compress.pipeline import TrainingStream
    from src.data import open_source
    from src.data.pipeline import steps_per_epoch

    source = open_source(d)
    spe = steps_per_epoch(source.num_examples("train"), batch_size)

    def batches(first_epoch: int, epochs: int):
        return source.train_dataset(norm, batch_size, seed=seed, epochs=first_epoch + epochs, start_epoch=first_epoch,
                                    steps=spe)

    print(f"streaming {source.num_examples('train')} training and {source.num_examples('test')} test images "
          f"from {source.source}", flush=True)
    return TrainingStream(batches, spe), None, source.eval_dataset("test", norm, 256), None


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("job_dir", type=Path, help="a finished job folder (config.yaml, model.keras)")
    parser.add_argument("--settings", type=Path, required=True, help="per-layer kept fraction and bits (YAML)")
    parser.add_argument("--prune-epochs", type=int, default=6)
    parser.add_argument("--share-epochs", type=int, default=3)
    parser.add_argument("--learning-rate", type=float, default=0.01)
    parser.add_argument("--prune-schedule", choices=PRUNE_SCHEDULES, default=DEFAULT_PRUNE_SCHEDULE,
                        help="learning rate over pruning + retraining: constant, or cosine decay to 0")
    parser.add_argument("--share-learning-rate", type=float, default=1e-4,
                        help="SGD lr of the centroid retraining: a centroid's gradient sums its weights' (eq. 3)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0, help="seeds Python, NumPy and TensorFlow (tf_keras)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    try:
        return compress_job(args)
    except SuiteError as exc:
        raise SystemExit(f"error: {exc}") from None


def compress_job(args) -> dict:
    import keras

    from src.compress.twin import check_twin, copy_weights_back, tf_keras_twin
    from src.job_folder import load_trained_model

    keras.utils.set_random_seed(args.seed)
    started = time.perf_counter()
    out = args.out or args.job_dir / "compressed"
    out.mkdir(parents=True, exist_ok=True)
    model = load_trained_model(args.job_dir)
    settings = read_settings(args.settings, weight_layer_names(model))
    x_train, y_train, x_test, y_test = load_job_data(args.job_dir, args.batch_size, args.seed)
    twin = tf_keras_twin(model)
    report: dict = {"job": str(args.job_dir), "settings": str(args.settings), "seed": args.seed,
                    "twin_max_abs_diff": check_twin(model, twin)}
    report["accuracy_dense"] = evaluate(twin, x_test, y_test)
    print(f"dense: test accuracy {report['accuracy_dense']:.4f}", flush=True)
    pruned = prune(twin, settings, x_train, y_train, args.prune_epochs, args.batch_size, args.learning_rate,
                   args.prune_schedule)
    report["accuracy_pruned"] = evaluate(pruned, x_test, y_test)
    print(f"pruned + retrained: test accuracy {report['accuracy_pruned']:.4f}", flush=True)
    shared = quantise(pruned, settings, x_train, y_train, args.share_epochs, args.batch_size, args.share_learning_rate,
                      first_epoch=args.prune_epochs)
    report["accuracy_quantised"] = evaluate(shared, x_test, y_test)
    print(f"pruned + quantised: test accuracy {report['accuracy_quantised']:.4f}", flush=True)
    rows = storage(shared, settings)
    dense = sum(r.dense_bits for r in rows)
    report["storage"] = {
        "dense_bytes": dense / 8, "pruned_bytes": sum(r.pruned_bits for r in rows) / 8,
        "quantised_bytes": sum(r.quantised_bits for r in rows) / 8, "huffman_bytes": sum(r.huffman_bits for r in rows) / 8,
        "layers": {r.name: layer_fields(r) for r in rows},
    }
    report["ratio_pq"] = dense / sum(r.quantised_bits for r in rows)
    report["ratio_pqh"] = dense / sum(r.huffman_bits for r in rows)
    copy_weights_back(shared, model)
    report["keras_max_abs_diff"] = check_twin(model, shared)
    model.save(out / "compressed.keras")
    report["seconds"] = time.perf_counter() - started
    (out / "report.json").write_text(json.dumps(report, indent=2))
    (out / "README.md").write_text("\n".join([
        f"# Deep Compression of `{args.job_dir}`",
        "",
        f"Settings: `{args.settings}`; pruning + retraining {args.prune_epochs} epochs, weight sharing + "
        f"retraining {args.share_epochs} epochs, SGD lr {args.learning_rate} ({args.prune_schedule}, pruning) and {args.share_learning_rate} "
        f"(centroids), batch {args.batch_size}, seed {args.seed}.",
        "",
        "| stage | test accuracy |",
        "|---|---|",
        f"| dense | {report['accuracy_dense']:.4f} |",
        f"| pruned + retrained | {report['accuracy_pruned']:.4f} |",
        f"| pruned + quantised (+ Huffman: lossless) | {report['accuracy_quantised']:.4f} |",
        "",
        "Weight storage (kernels; biases stay fp32), Table 4 layout:",
        "",
        table(rows),
        "",
    ]))
    print(f"compression {report['ratio_pq']:.1f}x (P+Q), {report['ratio_pqh']:.1f}x (P+Q+H) -> {out}", flush=True)
    return report


if __name__ == "__main__":
    main()
