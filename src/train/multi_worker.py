"""``train.distribution=multi_worker``: data-parallel training over processes (one per machine or per GPU)
with TensorFlow's ``MultiWorkerMirroredStrategy`` and a training step of our own.

Keras 3's ``model.fit`` dies at its first step under this strategy (keras-team/keras#20585), so each step
is ``strategy.run`` of: forward pass, loss, gradients, and Keras' optimizer, which all-reduces (sums) the
gradients over the workers before it applies them (``TFOptimizer._all_reduce_sum_gradients``). The
optimiser, learning-rate schedule, loss and callbacks are the suite's own, as in the one-process path.

Exactly the one-process step: worker k of W reads positions k, k+W, ... of every epoch's order in
batches of B / W (`src.data.sources`), so step s of all workers together is step s of one process at
batch B. Each worker's loss is its examples' summed loss divided by the step's global example count
(itself all-reduced first), so the summed gradient is the global batch's mean gradient, also for the
last, short batch of an epoch. A worker whose shard has no batch left at the last step takes a step on
a zero-weight example, so every worker runs the same collectives.

State: worker 0 (the chief) restores the job's state and then broadcasts every model and optimizer
variable and the epoch to resume from, so the other workers need no shared file system; only the chief
writes files and MLflow. Validation and test sets are split into contiguous blocks, one per worker,
and their sums all-reduced. A worker that dies makes the others' collectives fail: at once when its
connection is reset, else when the coordination service misses its heartbeat (HEARTBEAT_TIMEOUT_S), or
at COLLECTIVE_TIMEOUT_S; they then stop with one `WorkerLostError` line naming it.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import keras
import numpy as np
import tensorflow as tf

from src.errors import ConfigError, WorkerLostError
from src.train.cluster import Cluster

log = logging.getLogger(__name__)

#: A collective (gradient all-reduce) that waits longer than this for a peer fails: a frozen or unreachable
#: worker stops the job instead of hanging it. Generous: the chief writes checkpoints between steps.
COLLECTIVE_TIMEOUT_S = 600.0
#: How long the first worker waits for the others to start (TensorFlow's coordination service).
REGISTER_TIMEOUT_S = 600
#: A worker whose heartbeats the coordination service misses this long counts as lost: the others' waiting
#: collectives then fail (a peer that died while they waited for it refuses no connection to notice).
#: TensorFlow's default; the heartbeats come from a thread of TensorFlow's own, not blocked by Python.
HEARTBEAT_TIMEOUT_S = 10


def _cache_keras_saving_skipsets() -> None:
    """Keras 3.15's saving builds a throw-away ``Optimizer(1.0)`` (two variables) on every save and load:
    `saving_lib.get_attr_skipset` reads its cache under another key than it writes. Under this strategy
    every new variable is a broadcast from the chief, so the chief's saving alone would wait for workers
    that create nothing. Filled outside the strategy's scope, under the key it reads."""
    from keras.src.backend.common import global_state
    from keras.src.saving import saving_lib

    for kind in ("Operation", "Layer", "Functional", "Sequential", "Metric", "Optimizer", "Loss"):
        key = f"saving_attr_skiplist_{kind}"
        if global_state.get_global_attribute(key, None) is None:
            global_state.set_global_attribute(key, saving_lib.get_attr_skipset(kind))


@contextmanager
def multi_worker_strategy(cluster: Cluster, global_batch: int) -> Iterator[tf.distribute.Strategy]:
    """The strategy's scope for this cluster: one replica per worker, the global batch split evenly."""
    # the coordination service's timeouts have no public setter
    from tensorflow.python.eager import context

    if global_batch % cluster.size:
        raise ConfigError(f"data.batch_size={global_batch} does not split over {cluster.size} workers; use a "
                          f"multiple of {cluster.size} (data.batch_size is the global batch).")
    if context.context().coordination_service is None:  # else MWMS configures it with TensorFlow's defaults
        from tensorflow.compiler.xla.tsl.protobuf import coordination_config_pb2
        from tensorflow.python.distribute import multi_worker_util

        spec = cluster.resolver.cluster_spec()
        context.context().configure_coordination_service(
            service_type="standalone", service_leader=multi_worker_util.coordination_leader(spec),
            cluster_register_timeout_in_ms=REGISTER_TIMEOUT_S * 1000,
            heartbeat_timeout_in_ms=HEARTBEAT_TIMEOUT_S * 1000,
            coordinated_jobs=[coordination_config_pb2.CoordinatedJob(name=job, num_tasks=spec.num_tasks(job))
                              for job in ("chief", "worker") if job in spec.jobs])
    log.info("multi_worker: %s of %d workers (from %s), waiting for the others to start (at most %d s)",
             cluster.describe(cluster.rank), cluster.size, cluster.source, REGISTER_TIMEOUT_S)
    with worker_errors(cluster, "while the workers started"):
        strategy = tf.distribute.MultiWorkerMirroredStrategy(
            cluster_resolver=cluster.resolver,
            communication_options=tf.distribute.experimental.CommunicationOptions(timeout_seconds=COLLECTIVE_TIMEOUT_S))
    if strategy.num_replicas_in_sync != cluster.size:
        raise ConfigError(f"each worker of train.distribution=multi_worker must see one device, but the job has "
                          f"{strategy.num_replicas_in_sync} replicas on {cluster.size} workers; start one worker per GPU "
                          "(srun --ntasks-per-node=<GPUs per node>, or CUDA_VISIBLE_DEVICES per worker).")
    _cache_keras_saving_skipsets()  # after the strategy (it initialises TensorFlow), before its scope
    with strategy.scope():
        yield strategy


_LOST = (tf.errors.UnavailableError, tf.errors.DeadlineExceededError, tf.errors.CancelledError, tf.errors.AbortedError)


@contextmanager
def worker_errors(cluster: Cluster, when: str, finished_epoch: Callable[[], int] | None = None) -> Iterator[None]:
    """TensorFlow's errors of a collective whose peer is gone, as one `WorkerLostError` line naming the worker."""
    try:
        yield
    except tf.errors.OpError as exc:
        text = str(exc.message if hasattr(exc, "message") else exc)
        collective = any(w in text.lower() for w in ("collective", "coordination", "heartbeat", "barrier", "task"))
        if not isinstance(exc, _LOST) and not collective:
            raise
        log.debug("TensorFlow's error (%s): %s", type(exc).__name__, text)  # in the job's log with hydra.verbose
        raise WorkerLostError(_lost_message(cluster, when, text, exc, finished_epoch() if finished_epoch else None)) from None


def _lost_message(cluster: Cluster, when: str, text: str, exc: Exception, finished: int | None) -> str:
    ranks = {int(m) for m in re.findall(r"/task:(\d+)", text)} | {
        i for i, address in enumerate(cluster.addresses) if address in text}
    ranks.discard(cluster.rank)
    who = " and ".join(cluster.describe(r) for r in sorted(ranks)) if ranks else "another worker"
    lower = text.lower()
    if "refused" in lower or "failed to connect" in lower:
        why = "its address refuses connections: its process is gone"
    elif "connection reset" in lower or "socket closed" in lower:
        why = "its connection was reset: its process is gone"
    elif "unhealthy" in lower or "heartbeat" in lower:
        why = f"no heartbeat for {HEARTBEAT_TIMEOUT_S} s: its process or machine is gone"
    elif isinstance(exc, tf.errors.DeadlineExceededError) or "deadline" in lower:
        why = f"no answer within the time limit (collectives: {COLLECTIVE_TIMEOUT_S:.0f} s)"
    else:  # TensorFlow's reason, without the graph's Python stack that precedes it
        found = re.search(r"aborted by: ([^\n]+)", text)
        why = (found.group(1).strip() if found else type(exc).__name__)[:200]
    resume = (f" The chief saved every finished epoch ({finished} so far): start every worker's command again to "
              "resume from the last one." if finished is not None else
              " Start every worker's command again.")
    return f"{who} stopped answering {when} ({why}); {cluster.describe(cluster.rank)} stops too.{resume}"


def _cast_f32(outputs):
    return [tf.cast(o, tf.float32) for o in (outputs if isinstance(outputs, (list, tuple)) else [outputs])]


class MultiWorkerTrainer:
    """Training and evaluation of a compiled Keras model under a `MultiWorkerMirroredStrategy` scope.

    ``loss`` gives per-example losses (``loss.call``); ``loss_weights`` one weight per model output (the
    auxiliary heads' after the main one's); ``accuracy`` is that of the first output."""

    def __init__(self, strategy: tf.distribute.Strategy, cluster: Cluster, model: keras.Model,
                 loss: keras.losses.Loss, loss_weights: Sequence[float] = (1.0,)):
        self.strategy, self.cluster, self.model = strategy, cluster, model
        self.loss, self.loss_weights = loss, [float(w) for w in loss_weights]
        self.optimizer = model.optimizer
        if not self.optimizer.built:
            self.optimizer.build(model.trainable_variables)
        self.finished_epoch = 0
        self._train_step = tf.function(self._distributed_step, reduce_retracing=True)
        self._eval_step = tf.function(self._local_eval_step, reduce_retracing=True)
        self._sum = tf.function(self._all_reduce_sum)

    # --- the steps -----------------------------------------------------------------------------------------
    def _per_example(self, y, outputs) -> tuple[tf.Tensor, tf.Tensor]:
        losses = tf.add_n([w * self.loss.call(y, o) for w, o in zip(self.loss_weights, outputs)])
        labels = tf.cast(tf.reshape(y, [-1]), tf.int64)
        correct = tf.cast(tf.equal(tf.argmax(outputs[0], axis=-1), labels), tf.float32)
        return losses, correct

    def _replica_step(self, x, y, weight):
        context = tf.distribute.get_replica_context()
        count = context.all_reduce(tf.distribute.ReduceOp.SUM, tf.reduce_sum(weight))
        with tf.GradientTape() as tape:
            outputs = _cast_f32(self.model(x, training=True))
            losses, correct = self._per_example(y, outputs)
            loss = tf.reduce_sum(losses * weight) / tf.maximum(count, 1.0)
            if self.model.losses:  # regularisers: once over the workers' sum
                loss += tf.add_n(self.model.losses) / self.strategy.num_replicas_in_sync
            scaled = self.optimizer.scale_loss(loss)
        variables = self.model.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(scaled, variables), variables))  # all-reduces (SUM)
        return tf.stack([tf.reduce_sum(losses * weight), tf.reduce_sum(correct * weight), tf.reduce_sum(weight)])

    def _distributed_step(self, x, y, weight):
        return self.strategy.reduce(tf.distribute.ReduceOp.SUM,
                                    self.strategy.run(self._replica_step, args=(x, y, weight)), axis=None)

    def _local_eval_step(self, x, y):
        losses, correct = self._per_example(y, _cast_f32(self.model(x, training=False))[:1])
        return tf.stack([tf.reduce_sum(losses), tf.reduce_sum(correct), tf.cast(tf.shape(losses)[0], tf.float32)])

    def _all_reduce_sum(self, values):
        return self.strategy.reduce(tf.distribute.ReduceOp.SUM,
                                    self.strategy.run(tf.identity, args=(values,)), axis=None)

    # --- state ---------------------------------------------------------------------------------------------
    def sync_from_chief(self, start_epoch: int) -> int:
        """Every worker takes the chief's model and optimizer variables and epoch (the chief restored them);
        returns that epoch. A sum over the workers of the chief's values and zeros: exact (float64 holds
        float32 and the int64 step counter exactly)."""
        variables = [*self.model.variables, *self.optimizer.variables]
        mine = 1.0 if self.cluster.is_chief else 0.0

        @tf.function
        def broadcast(epoch):
            def replica():
                values = [tf.cast(v, tf.float64) * mine for v in variables] + [epoch * mine]
                return tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, values)

            return self.strategy.experimental_local_results(self.strategy.run(replica))[0]

        with worker_errors(self.cluster, "while the workers synchronised their state"):
            values = broadcast(tf.constant(float(start_epoch), tf.float64))
        for variable, value in zip(variables, values[:-1]):
            variable.assign(tf.cast(value, variable.dtype))
        self.finished_epoch = int(values[-1].numpy())
        return self.finished_epoch

    # --- loops ---------------------------------------------------------------------------------------------
    def evaluate(self, dataset: tf.data.Dataset) -> tuple[float, float]:
        """(mean loss, accuracy) of the first output over every worker's block of the split."""
        local = np.zeros(3)
        with worker_errors(self.cluster, "during evaluation", lambda: self.finished_epoch):
            for x, y in dataset:
                local += self._eval_step(x, y).numpy()
            loss_sum, correct, count = self._sum(tf.constant(local)).numpy()
        return float(loss_sum / max(count, 1.0)), float(correct / max(count, 1.0))

    def fit(self, epoch_data: Callable[[int], tf.data.Dataset], epochs: int, start_epoch: int, steps: int,
            val_data: tf.data.Dataset, callbacks: Sequence[keras.callbacks.Callback]) -> None:
        """Epochs ``start_epoch``..``epochs - 1`` of ``steps`` steps each, this worker's batches from
        ``epoch_data(epoch)``; Keras callbacks get the same calls and logs (loss, accuracy, val_loss,
        val_accuracy) as under ``model.fit``, equal on every worker."""
        callback_list = keras.callbacks.CallbackList(list(callbacks), model=self.model, epochs=epochs, steps=steps,
                                                     verbose=0)
        self.model.stop_training = False
        callback_list.on_train_begin()
        logs: dict[str, float] = {}
        with worker_errors(self.cluster, "during training", lambda: self.finished_epoch):
            for epoch in range(start_epoch, epochs):
                started = time.perf_counter()
                callback_list.on_epoch_begin(epoch)
                logs = self._epoch(epoch_data(epoch), steps, callback_list)
                logs["val_loss"], logs["val_accuracy"] = self.evaluate(val_data)
                callback_list.on_epoch_end(epoch, logs)
                self.finished_epoch = epoch + 1
                log.info("epoch %d/%d (%s): %s, %.1f s", epoch + 1, epochs, self.cluster.describe(self.cluster.rank),
                         ", ".join(f"{k} {logs[k]:.4f}" for k in ("loss", "accuracy", "val_loss", "val_accuracy")),
                         time.perf_counter() - started)
                if self.model.stop_training:
                    break
        callback_list.on_train_end(logs)

    def _epoch(self, dataset: tf.data.Dataset, steps: int, callback_list) -> dict[str, float]:
        batches = iter(dataset)
        spec = dataset.element_spec
        sums = np.zeros(3)
        logs: dict[str, float] = {}
        for step in range(steps):
            batch = next(batches, None)
            if batch is None:  # this worker's shard is one batch short: a zero-weight stand-in keeps it in step
                x = tf.zeros([1, *spec[0].shape[1:]], spec[0].dtype)
                y = tf.zeros([1, *spec[1].shape[1:]], spec[1].dtype)
                weight = tf.zeros([1], tf.float32)
            else:
                x, y = batch
                weight = tf.ones([tf.shape(y)[0]], tf.float32)
            callback_list.on_train_batch_begin(step)
            sums += self._train_step(x, y, weight).numpy()
            logs = {"loss": float(sums[0] / max(sums[2], 1.0)), "accuracy": float(sums[1] / max(sums[2], 1.0))}
            callback_list.on_train_batch_end(step, logs)
            if self.model.stop_training:
                break
        else:
            if next(batches, None) is not None:
                raise ConfigError(f"{self.cluster.describe(self.cluster.rank)} has more training batches than the "
                                  f"{steps} steps of an epoch: its input shard is larger than 1/{self.cluster.size} "
                                  "of the data set, so the workers' steps no longer line up.")
        return dict(logs)
