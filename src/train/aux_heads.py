"""Training networks with auxiliary classifiers (GoogLeNet §5, Inception-v3 §4).

A model built with ``aux_logits=True`` has outputs ``[main, aux1, ...]``. It is trained on the weighted
sum of the cross-entropies (each auxiliary loss weighted by the family module's ``AUX_LOSS_WEIGHT``:
0.3 in GoogLeNet, or ``train.aux_loss_weight``), and deployed as `inference_network`, which shares
the weights and drops the auxiliary heads (they are absent from the saved model and the TFLite file).
"""

from __future__ import annotations

import importlib

import keras
import tensorflow as tf

from src.errors import ConfigError
from src.models import get_spec


def has_aux_heads(model: keras.Model) -> bool:
    return len(model.outputs) > 1


def aux_loss_weight(model_name: str, override: float | None = None) -> float:
    """The loss weight of each auxiliary head: ``override`` if given, else the paper's value, the
    ``AUX_LOSS_WEIGHT`` constant of the module that builds ``model_name``."""
    if override is not None:
        if isinstance(override, bool) or not isinstance(override, (int, float)) or override < 0:
            raise ConfigError(f"train.aux_loss_weight={override!r}: give a non-negative number or null (the paper's).")
        return float(override)
    module = importlib.import_module(get_spec(model_name).builder.__module__)
    weight = getattr(module, "AUX_LOSS_WEIGHT", None)
    if weight is None:
        raise ConfigError(
            f"{model_name} has auxiliary outputs but {module.__name__} declares no AUX_LOSS_WEIGHT; "
            "set train.aux_loss_weight."
        )
    return float(weight)


def inference_network(model: keras.Model) -> keras.Model:
    """The main output only (weights shared with ``model``); ``model`` itself if it has one output."""
    if not has_aux_heads(model):
        return model
    return keras.Model(model.input, model.outputs[0], name=model.name)


def repeat_labels(dataset: tf.data.Dataset, outputs: int) -> tf.data.Dataset:
    """``(x, y)`` batches as ``(x, (y,) * outputs)``: every head predicts the same label."""
    return dataset.map(lambda x, y: (x, (y,) * outputs), num_parallel_calls=tf.data.AUTOTUNE)
