"""Who the workers of a ``train.distribution=multi_worker`` job are, and which one this process is.

Two sources, in this order:

- ``TF_CONFIG`` (TensorFlow's convention): ``{"cluster": {"worker": ["host1:port", "host2:port"]},
  "task": {"type": "worker", "index": i}}``, one per process; worker 0 is the chief.
- SLURM's environment of an ``srun`` step (``SLURM_PROCID``, ``SLURM_STEP_NUM_TASKS``,
  ``SLURM_STEP_NODELIST``, ``SLURM_STEP_TASKS_PER_NODE``), read by TensorFlow's
  ``SlurmClusterResolver``: task 0 is the chief; each node's tasks listen on ports
  ``port_base + 0, 1, ...``, with ``port_base`` = 15000 + job id mod 20000 (two jobs sharing a node do not
  collide); with GPUs, each task sees its own (``CUDA_VISIBLE_DEVICES``, set by the resolver).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from src.errors import ConfigError

TF_CONFIG_EXAMPLE = ('{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}')


@dataclass(frozen=True)
class Cluster:
    """The workers' addresses in rank order (the chief first), this process's rank, where they came from,
    and the TensorFlow cluster resolver that `MultiWorkerMirroredStrategy` takes."""

    addresses: tuple[str, ...]
    rank: int
    source: str
    resolver: Any

    @property
    def size(self) -> int:
        return len(self.addresses)

    @property
    def is_chief(self) -> bool:
        return self.rank == 0

    def describe(self, rank: int) -> str:
        """``worker 1 (host:port)``, or ``the chief, worker 0 (host:port)``."""
        where = f"worker {rank} ({self.addresses[rank]})" if 0 <= rank < self.size else f"worker {rank}"
        return f"the chief, {where}" if rank == 0 else where


def in_cluster() -> bool:
    """Whether this process's environment names a cluster (TF_CONFIG, or a SLURM step of several tasks)."""
    return "TF_CONFIG" in os.environ or _slurm_tasks() > 1


def _slurm_tasks() -> int:
    try:
        return int(os.environ.get("SLURM_STEP_NUM_TASKS") or os.environ.get("SLURM_NTASKS") or 0)
    except ValueError:
        return 0


def resolve_cluster() -> Cluster:
    """The cluster from TF_CONFIG, else from SLURM's environment; a ConfigError saying what to set otherwise."""
    if "TF_CONFIG" in os.environ:
        return _from_tf_config(os.environ["TF_CONFIG"])
    if "SLURM_PROCID" in os.environ and _slurm_tasks() > 1:
        return _from_slurm()
    raise ConfigError(
        "train.distribution=multi_worker needs to know the workers: set TF_CONFIG in each worker's environment "
        f"(e.g. {TF_CONFIG_EXAMPLE}), or start the workers with srun (one task per worker) so that SLURM's "
        "environment names them; see docs/scaling_out.md.")


def _from_tf_config(text: str) -> Cluster:
    import tensorflow as tf

    TFConfigClusterResolver = tf.distribute.cluster_resolver.TFConfigClusterResolver

    try:
        config = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"TF_CONFIG is not valid JSON ({exc}); e.g. {TF_CONFIG_EXAMPLE}.") from None
    cluster, task = (config.get("cluster"), config.get("task")) if isinstance(config, dict) else (None, None)
    if not isinstance(cluster, dict) or not isinstance(task, dict):
        raise ConfigError(f"TF_CONFIG needs a \"cluster\" and a \"task\" entry; e.g. {TF_CONFIG_EXAMPLE}.")
    unknown = set(cluster) - {"chief", "worker"}
    if unknown:
        raise ConfigError(f"TF_CONFIG's cluster has {sorted(unknown)}; multi_worker uses \"worker\" (and optionally "
                          "one \"chief\") tasks only.")
    addresses = [*cluster.get("chief", []), *cluster.get("worker", [])]
    kind, index = task.get("type"), task.get("index")
    tasks = len(cluster.get(kind, [])) if kind in ("chief", "worker") else 0
    if not isinstance(index, int) or not 0 <= index < tasks:
        raise ConfigError(f"TF_CONFIG's task {task} is not one of its cluster's tasks ({kind!r} has {tasks}); "
                          f"give each worker its own index, 0 to {len(addresses) - 1}.")
    if len(addresses) < 2:
        raise ConfigError("TF_CONFIG names a single worker; train.distribution=multi_worker needs two or more "
                          "(one process: train.distribution=none or mirrored).")
    rank = index if kind == "chief" else len(cluster.get("chief", [])) + index
    return Cluster(tuple(addresses), rank, "TF_CONFIG", TFConfigClusterResolver())


def slurm_port_base() -> int:
    """The first port of this SLURM job's workers on each node (15000 + job id mod 20000)."""
    return 15000 + int(os.environ.get("SLURM_JOB_ID", "0") or 0) % 20000


def _from_slurm() -> Cluster:
    import tensorflow as tf

    SlurmClusterResolver = tf.distribute.cluster_resolver.SlurmClusterResolver

    gpus = [g for g in os.environ.get("SLURM_STEP_GPUS", os.environ.get("SLURM_JOB_GPUS", "")).split(",") if g]
    try:
        if gpus:  # one GPU per task, set in CUDA_VISIBLE_DEVICES before TensorFlow sees any
            resolver = SlurmClusterResolver(port_base=slurm_port_base(), gpus_per_node=len(gpus), gpus_per_task=1)
        else:  # CPU nodes: the GPU bookkeeping is a formality
            per_node = max(int(n.split("(")[0]) for n in os.environ.get("SLURM_STEP_TASKS_PER_NODE", "1").split(","))
            resolver = SlurmClusterResolver(port_base=slurm_port_base(), gpus_per_node=per_node, gpus_per_task=1,
                                            auto_set_gpu=False)
        spec = resolver.cluster_spec().as_dict()
    except (RuntimeError, ValueError, KeyError) as exc:
        raise ConfigError(f"SLURM's environment does not describe the workers ({exc}); start one task per worker "
                          "with srun (e.g. srun --ntasks-per-node=1 ...), see docs/scaling_out.md.") from None
    return Cluster(tuple(spec["worker"]), int(resolver.task_id), "SLURM", resolver)
