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

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from src.compress.storage import LayerStorage, layer_storage


@dataclass(frozen=True)
class LayerSetting:
    """Deep Compression settings of one weight layer (Han et al., ICLR 2016, Tables 4-5)."""

    kept_fraction: float
    weight_bits: int
    index_bits: int


@dataclass(frozen=True)
class TrainingStream:
    """A streamed data set's training batches, normalised on the host, for the retraining stages: the
    training loop's own stream (`src.data.sources.Source.train_dataset`, a pure function of (seed, epoch)),
    so nothing holds the data set in memory. ``batches(first_epoch, epochs)`` covers those epochs."""

    batches: Callable[[int, int], Any]
    steps_per_epoch: int


def _steps_per_epoch(x, batch_size: int) -> int:
    return x.steps_per_epoch if isinstance(x, TrainingStream) else int(np.ceil(len(x) / batch_size))


def _fit(model, x, y, epochs: int, batch_size: int, first_epoch: int = 0, callbacks=None) -> None:
    """``model.fit`` on arrays (x, y), or on ``epochs`` epochs of a `TrainingStream` from ``first_epoch`` on."""
    if isinstance(x, TrainingStream):
        model.fit(x.batches(first_epoch, epochs), epochs=epochs, steps_per_epoch=x.steps_per_epoch, verbose=0,
                  callbacks=callbacks)
    else:
        model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=0, callbacks=callbacks)


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
    ``schedule`` (PRUNE_SCHEDULES) shapes the SGD learning rate over the stage. (x, y): arrays, or a
    `TrainingStream` and None."""
    import tensorflow_model_optimization as tfmot
    import tf_keras

    if schedule not in PRUNE_SCHEDULES:
        raise ValueError(f"schedule={schedule!r}; choose one of {list(PRUNE_SCHEDULES)}")

    # Gradual magnitude pruning over the first half of the steps (the mask is recomputed 10 times, the
    # last time at the target), then retraining with the mask fixed: the paper's prune → retrain.
    steps = epochs * _steps_per_epoch(x, batch_size)
    frequency = max(1, steps // 20)
    end_step = frequency * 10
    if end_step >= steps:
        raise ValueError(f"{epochs} epochs of {_steps_per_epoch(x, batch_size)} steps are too few steps ({steps}) "
                         "to prune and retrain")

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
    _fit(_compile(wrapped, learning_rate), x, y, epochs, batch_size, callbacks=[tfmot.sparsity.keras.UpdatePruningStep()])
    return tfmot.sparsity.keras.strip_pruning(wrapped)


def quantise(pruned, settings: dict[str, LayerSetting], x, y, epochs: int, batch_size: int, learning_rate: float,
             first_epoch: int = 0):
    """Stage 2: weight sharing by k-means with linear centroid initialisation, sparsity preserved,
    centroids retrained; wrappers stripped (the kernels then hold only the shared values). A
    `TrainingStream` continues at ``first_epoch`` (after pruning's epochs), so it reads fresh orders."""
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
        _fit(_compile(wrapped, learning_rate), x, y, epochs, batch_size, first_epoch=first_epoch)
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


def evaluate(model, x, y=None) -> float:
    """Top-1 accuracy of a tf_keras model on arrays (x, y), or on a dataset x of (images, labels) batches
    (a streamed test split, each example once)."""
    if y is None:
        correct = total = 0
        for images, labels in x:
            logits = np.asarray(model(images, training=False))
            correct += int(np.sum(np.argmax(logits, axis=-1) == labels.numpy()))
            total += len(logits)
        return correct / max(total, 1)
    logits = model.predict(x, verbose=0, batch_size=512)
    return float(np.mean(np.argmax(logits, axis=-1) == y))
