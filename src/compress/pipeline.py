"""Deep Compression stages 1–2 with tensorflow-model-optimization on the tf_keras twin, then stage 3's
storage accounting (Han et al., ICLR 2016, Fig. 1: prune → retrain → quantise (weight sharing) →
retrain centroids → Huffman).

Importing tfmot sets ``TF_USE_LEGACY_KERAS=1`` for the process (tfmot is Keras-2 only): call this module from a
compression job's own process only, never from training or export code.

- Stage 1: `prune_low_magnitude`, gradually (polynomial schedule) to each layer's target sparsity (the
  paper's per-layer kept fractions) over the first half of the steps, then retraining with the masks
  fixed; the wrappers are stripped afterwards.
- Stage 2: `cluster_weights` with **linear** centroid initialisation (the paper's choice, §3.2; tfmot's
  default is k-means++) and ``preserve_sparsity=True``, 2**bits − 1 shared non-zero values per layer
  (the codebook's last entry is the zero), centroids fine-tuned by retraining, wrappers stripped.
- Stage 3: `src.compress.storage.layer_storage` per weight layer (kernels; biases stay fp32 and are
  counted apart, as the paper counts weights).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from src.compress.storage import LayerStorage, layer_storage


@dataclass(frozen=True)
class LayerSetting:
    """Deep Compression settings of one weight layer (Han et al., ICLR 2016, Tables 4-5)."""

    kept_fraction: float
    weight_bits: int
    index_bits: int


def _compile(model, learning_rate):
    import tf_keras

    model.compile(optimizer=tf_keras.optimizers.SGD(learning_rate, momentum=0.9),
                  loss=tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    return model


#: Learning-rate schedules of stage 1 (prune + retrain): constant, or cosine decay to 0 over all its steps.
PRUNE_SCHEDULES = ("constant", "cosine")
DEFAULT_PRUNE_SCHEDULE = PRUNE_SCHEDULES[0]


def prune(twin, settings: dict[str, LayerSetting], x, y, epochs: int, batch_size: int, learning_rate: float,
          schedule: str = DEFAULT_PRUNE_SCHEDULE):
    """Stage 1: prune each named layer to its kept fraction (magnitude), retrain, strip the wrappers.
    ``schedule`` (PRUNE_SCHEDULES) shapes the SGD learning rate over the stage."""
    import tensorflow_model_optimization as tfmot
    import tf_keras

    if schedule not in PRUNE_SCHEDULES:
        raise ValueError(f"schedule={schedule!r}; choose one of {list(PRUNE_SCHEDULES)}")

    # Gradual magnitude pruning over the first half of the steps (the mask is recomputed 10 times, the
    # last time at the target), then retraining with the mask fixed: the paper's prune → retrain.
    steps = epochs * int(np.ceil(len(x) / batch_size))
    frequency = max(1, steps // 20)
    end_step = frequency * 10
    if end_step >= steps:
        raise ValueError(f"{epochs} epochs of {len(x)} examples are too few steps ({steps}) to prune and retrain")

    def wrap(layer):
        if layer.name in settings:
            schedule = tfmot.sparsity.keras.PolynomialDecay(
                initial_sparsity=0.0, final_sparsity=1.0 - settings[layer.name].kept_fraction, begin_step=0,
                end_step=end_step, frequency=frequency)
            return tfmot.sparsity.keras.prune_low_magnitude(layer, pruning_schedule=schedule)
        return layer  # reused as is: the wrappers and the other layers keep the twin's weights

    wrapped = tf_keras.models.clone_model(twin, clone_function=wrap)
    if schedule == "cosine":
        learning_rate = tf_keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=steps)
    _compile(wrapped, learning_rate).fit(x, y, epochs=epochs, batch_size=batch_size, verbose=0,
                                         callbacks=[tfmot.sparsity.keras.UpdatePruningStep()])
    return tfmot.sparsity.keras.strip_pruning(wrapped)


def quantise(pruned, settings: dict[str, LayerSetting], x, y, epochs: int, batch_size: int, learning_rate: float):
    """Stage 2: weight sharing by k-means with linear centroid initialisation, sparsity preserved,
    centroids retrained; wrappers stripped (the kernels then hold only the shared values)."""
    import tensorflow_model_optimization as tfmot
    import tf_keras

    clustering = tfmot.clustering.keras

    def wrap(layer):
        if layer.name in settings:
            return clustering.cluster_weights(
                layer, number_of_clusters=2 ** settings[layer.name].weight_bits - 1,
                cluster_centroids_init=clustering.CentroidInitialization.LINEAR, preserve_sparsity=True)
        return layer

    wrapped = tf_keras.models.clone_model(pruned, clone_function=wrap)
    if epochs:
        _compile(wrapped, learning_rate).fit(x, y, epochs=epochs, batch_size=batch_size, verbose=0)
    return clustering.strip_clustering(wrapped)


def storage(twin, settings: dict[str, LayerSetting]) -> list[LayerStorage]:
    """Stage 3 accounting of every set layer's kernel (exact, from the weights)."""
    rows = []
    for name, setting in settings.items():
        layer = twin.get_layer(name)
        variable = layer.depthwise_kernel if hasattr(layer, "depthwise_kernel") else layer.kernel
        kernel = np.asarray(variable.numpy())
        rows.append(layer_storage(name, kernel, setting.weight_bits, setting.index_bits))
    return rows


def evaluate(model, x, y) -> float:
    """Top-1 accuracy of a tf_keras model on (x, y)."""
    logits = model.predict(x, verbose=0, batch_size=512)
    return float(np.mean(np.argmax(logits, axis=-1) == y))
