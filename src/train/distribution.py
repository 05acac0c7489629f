"""Data-parallel training through the backends' own engines (``train.distribution``).

- ``none``: one device.
- ``mirrored``: TensorFlow's ``tf.distribute.MirroredStrategy`` over every local GPU (or, without GPUs,
  every logical CPU device: that is how tests exercise it, with the CPU split into two).
- ``multi_worker``: ``tf.distribute.MultiWorkerMirroredStrategy`` across processes (machines, or one per
  GPU); each worker runs the same command with its own ``TF_CONFIG``, or as a task of one ``srun``
  (`src.train.cluster`). Keras' ``fit`` fails under it, so it trains with the suite's own step
  (`src.train.multi_worker`).
- ``data_parallel``: Keras' ``keras.distribution.DataParallel`` on the JAX backend, over every device
  JAX sees.

``data.batch_size`` is the global batch: each of the R replicas computes ``batch_size / R`` examples per
step and the gradients are averaged, so the learning rate (scaled by the global batch) is unchanged.
Written here because the choice of engine depends on the backend; the engines themselves are the
libraries'.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import keras

from src.errors import ConfigError

ENGINES = {"none": None, "mirrored": "tensorflow", "multi_worker": "tensorflow", "data_parallel": "jax"}


def check_distribution(kind: str, backend: str | None = None, jit_compile: bool = True) -> str:
    """``kind`` if this backend can run it, else a ConfigError naming the engine that can."""
    backend = backend or keras.backend.backend()
    if kind not in ENGINES:
        raise ConfigError(f"train.distribution={kind!r} is not valid; use one of {', '.join(ENGINES)}.")
    needed = ENGINES[kind]
    if needed and needed != backend:
        other = "data_parallel" if backend == "jax" else "mirrored (one machine) or multi_worker"
        raise ConfigError(f"train.distribution={kind} runs on the {needed} backend, but Keras runs on {backend}; "
                          f"on {backend} use train.distribution={other}.")
    if kind == "data_parallel" and not jit_compile:  # measured: op-by-op all-reduces wait on each other forever
        raise ConfigError("train.distribution=data_parallel needs train.jit_compile=true: un-jitted JAX steps "
                          "deadlock in XLA's CPU all-reduce across devices.")
    if kind == "multi_worker":
        from src.train.cluster import in_cluster, resolve_cluster

        if not in_cluster():
            resolve_cluster()  # raises: says what to set
    return kind


def _tf_replica_devices() -> list[str]:
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    return [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]


def _check_batch(global_batch: int, replicas: int) -> None:
    if global_batch % replicas:
        raise ConfigError(f"data.batch_size={global_batch} does not split over {replicas} replicas; "
                          f"use a multiple of {replicas} (data.batch_size is the global batch).")


@contextmanager
def distribution_scope(kind: str, global_batch: int) -> Iterator[int]:
    """The engine's scope for building, compiling and fitting a model; yields the number of replicas."""
    check_distribution(kind)
    if kind == "none":
        yield 1
        return
    if kind == "data_parallel":
        from keras import distribution

        devices = distribution.list_devices()
        _check_batch(global_batch, len(devices))
        with distribution.DataParallel(devices=devices).scope():
            yield len(devices)
        return
    import tensorflow as tf

    if kind == "multi_worker":
        from src.train.cluster import resolve_cluster
        from src.train.multi_worker import multi_worker_strategy

        with multi_worker_strategy(resolve_cluster(), global_batch) as strategy:
            yield int(strategy.num_replicas_in_sync)
        return
    strategy = tf.distribute.MirroredStrategy(devices=_tf_replica_devices())
    _check_batch(global_batch, strategy.num_replicas_in_sync)
    with strategy.scope():
        yield int(strategy.num_replicas_in_sync)
