"""Mixed-precision training as a config switch (``train.precision``).

Micikevicius et al. 2018, "Mixed Precision Training": float16 (or bfloat16) compute with float32
variables; Keras' ``mixed_float16`` policy adds dynamic loss scaling to the optimizer. The trained
weights are float32 either way, so the saved and exported model is rebuilt under ``float32``
(`float32_copy`): downstream tools (TFLite export, compression, QAT) never see a float16 graph.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import keras

from src.errors import ConfigError

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


def check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise ConfigError(f"train.precision={precision!r} is not valid; use one of {', '.join(PRECISIONS)} "
                          "(mixed_float16 for NVIDIA GPUs with tensor cores, mixed_bfloat16 for TPUs and recent CPUs).")
    return precision


@contextmanager
def dtype_policy(precision: str) -> Iterator[None]:
    """Keras' global dtype policy set to ``precision`` inside the block and restored after it (the
    policy is process-wide state: a test or the next job must not inherit it)."""
    check_precision(precision)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def float32_copy(model: keras.Model, build: Callable[[], keras.Model]) -> keras.Model:
    """``model``'s weights in a float32 build of the same network (``build`` runs under the float32 policy)."""
    with dtype_policy("float32"):
        copy = build()
    copy.set_weights(model.get_weights())
    return copy
