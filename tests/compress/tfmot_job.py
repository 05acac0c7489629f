"""Run in its own process by test_pipeline.py (importing tfmot switches tf.keras to tf_keras for the
whole process): the LeNet-300-100 twin through pruning and weight sharing, results as JSON on stdout."""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from src.compress.pipeline import LayerSetting, evaluate, prune, quantise, storage  # noqa: E402
from src.compress.twin import check_twin, copy_weights_back, tf_keras_twin  # noqa: E402
from src.models import build_model  # noqa: E402


def main() -> dict:
    keras.utils.set_random_seed(0)
    model = build_model("lenet_300_100", classifier_activation=None)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(512, 28, 28, 1)).astype("float32")
    y = (x.reshape(512, -1)[:, :10].argmax(axis=1)).astype("int64")  # a learnable synthetic rule
    twin = tf_keras_twin(model)
    result = {"twin_diff": check_twin(model, twin)}
    settings = {"ip1": LayerSetting(0.08, 6, 5), "ip2": LayerSetting(0.09, 6, 5), "ip_out": LayerSetting(0.26, 6, 5)}
    pruned = prune(twin, settings, x, y, epochs=3, batch_size=32, learning_rate=0.01, schedule="cosine")
    result["kept"] = {n: float(np.count_nonzero(pruned.get_layer(n).kernel.numpy()) / pruned.get_layer(n).kernel.numpy().size)
                      for n in settings}
    masks = {n: pruned.get_layer(n).kernel.numpy() != 0 for n in settings}
    shared = quantise(pruned, settings, x, y, epochs=1, batch_size=64, learning_rate=0.005)
    kernels = {n: shared.get_layer(n).kernel.numpy() for n in settings}
    result["zeros_kept"] = {n: bool(np.all(kernels[n][~masks[n]] == 0)) for n in settings}
    result["distinct_nonzero"] = {n: int(len(np.unique(k[k != 0]))) for n, k in kernels.items()}
    rows = storage(shared, settings)
    result["ratio_pq"] = sum(r.dense_bits for r in rows) / sum(r.quantised_bits for r in rows)
    result["ratio_pqh"] = sum(r.dense_bits for r in rows) / sum(r.huffman_bits for r in rows)
    result["accuracy"] = evaluate(shared, x, y)
    copy_weights_back(shared, model)
    result["back_diff"] = check_twin(model, shared)
    return result


if __name__ == "__main__":
    json.dump(main(), sys.stdout)
