"""One training job: data -> model -> fit -> test -> save -> TFLite export, tracked in MLflow.

`train(cfg)` is pure with respect to Hydra: it needs only the composed config (with
``output_dir`` set), so tests call it directly; `src.run` is the thin `@hydra.main` entry.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import sys
import time
from contextlib import ExitStack, nullcontext, suppress
from pathlib import Path
from typing import Any

import keras
import numpy as np
from omegaconf import DictConfig, OmegaConf, open_dict

from src.atomic_files import atomic_write_text
from src.data.pipeline import Normalization, steps_per_epoch
from src.errors import ArtifactWriteError, ConfigError, TrainingDivergedError
from src.job_folder import (
    config_path,
    has_results,
    history_path,
    job_data,
    mark_stopped,
    point_to_job,
    read_history_csv,
    read_job,
    read_results,
    results_path,
    truncate_history,
    verification_set,
    write_config,
    write_job,
    write_results,
)
from src.models import build_model
from src.profiling import count_macs, count_params
from src.redact import redact_tree
from src.tracking.provenance import git_info
from src.train.aux_heads import aux_loss_weight, has_aux_heads, inference_network, repeat_labels
from src.train.bn_health import dead_bn_channels
from src.train.bn_health import describe as describe_dead_channels
from src.train.callbacks import (
    MAX_TRAINING_LOSS,
    EpochCSVLogger,
    EpochTimer,
    LossGuard,
    MainOutputMetrics,
    ProgressLog,
    loss_diverged,
)
from src.train.distribution import check_distribution, distribution_scope
from src.train.input_normalization import with_input_normalization
from src.train.interrupt import sigterm_as_interrupt
from src.train.optim import SparseSmoothedCrossEntropy, build_optimizer, effective_learning_rate
from src.train.precision import check_precision, dtype_policy, float32_copy
from src.train.resume import (
    TrainingState,
    claim_job,
    clear_state,
    earlier_job,
    job_fingerprint,
    reap_dead_jobs,
    restore_state,
    running_elsewhere,
    saved_epoch,
)
from src.train.sparsity import apply_fixed_masks, kernel_sparsity

log = logging.getLogger(__name__)

#: OSErrors that mean "this output cannot be written" (disk full, read-only, permission, not a folder).
FILE_WRITE_ERRNOS = {errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOTDIR, errno.EEXIST, errno.EDQUOT}


def seed_everything(seed: int, deterministic: bool) -> None:
    """Python, NumPy and backend RNGs; TensorFlow op determinism for bit-identical CPU runs."""
    keras.utils.set_random_seed(int(seed))
    if deterministic and keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


def _model_knobs(model_cfg: DictConfig) -> dict[str, Any]:
    knobs = OmegaConf.to_container(model_cfg, resolve=True)
    knobs.pop("name", None)
    return knobs


#: Inputs smaller than this (height or width) select a family's small-input variant under model_variant=auto.
SMALL_INPUT_BELOW = 64
MODEL_VARIANTS = ("auto", "paper", "small")


def effective_model_knobs(cfg: DictConfig, input_shape: tuple[int, int, int]) -> dict[str, Any]:
    """The knobs the network is built with: ``cfg.model``'s, overlaid with the family's documented
    small-input knobs (registry ``small_knobs``) when ``model_variant`` is ``small``, or ``auto`` and the
    input is below SMALL_INPUT_BELOW pixels (e.g. Fashion-MNIST's 28×28). Knob values are checked first,
    and a knob the user set (`src.train.knob_sources`) is kept, never overlaid."""
    from src.models import get_spec
    from src.models.common import check_choice
    from src.models.knob_table import check_knob_values, registry_table
    from src.train.knob_sources import explicit_knobs

    knobs = _model_knobs(cfg.model)
    check_knob_values(cfg.model.name, knobs, registry_table())  # before any variant logic: a typo is refused
    variant = cfg.get("model_variant", "auto")
    check_choice("model_variant", variant, MODEL_VARIANTS, "config")
    small = variant == "small" or (variant == "auto" and min(input_shape[:2]) < SMALL_INPUT_BELOW)
    if small:
        mine = explicit_knobs(cfg)
        kept = {k: knobs[k] for k, v in get_spec(cfg.model.name).small_knobs.items() if k in mine and knobs[k] != v}
        knobs.update({k: v for k, v in get_spec(cfg.model.name).small_knobs.items() if k not in mine})
        if kept:
            log.info("%s: model_variant=%s keeps the knobs you set: %s", cfg.model.name, variant, kept)
    return knobs


def build_from_config(cfg: DictConfig, input_shape: tuple[int, int, int], classes: int) -> keras.Model:
    """The network a config asks for, emitting logits (the loss and TFLite check work on logits)."""
    knobs = effective_model_knobs(cfg, input_shape)
    if knobs != _model_knobs(cfg.model):
        log.info("%s: small-input variant at %s (model_variant=%s): %s", cfg.model.name, input_shape,
                 cfg.get("model_variant", "auto"), knobs)
    return build_model(
        cfg.model.name, input_shape=input_shape, classes=classes, classifier_activation=None, **knobs,
    )


def _verbosity(train_cfg: DictConfig) -> int:
    verbose = train_cfg.get("verbose", "auto")
    if verbose == "auto":
        return 1 if sys.stdout.isatty() else 2
    return int(verbose)


def tracking_run(cfg: DictConfig, resume_run_id: str | None = None):
    """The MLflow run context (or a null context when logger.enabled is false); ``resume_run_id``
    continues that run (a resumed job) instead of starting one."""
    if not cfg.logger.get("enabled", True):
        return nullcontext(None)
    import mlflow

    from src.tracking import compute_environment, git_info, library_versions, naming, resolve_tracking_uri, setup_experiment

    uri = resolve_tracking_uri(cfg.logger.get("tracking_uri"))
    debug = naming.hydra_choice("debug")
    experiment_id = setup_experiment(cfg.experiment_name, uri,
                                     naming.experiment_description(cfg, naming.hydra_choice("experiment")))
    if resume_run_id:
        mlflow.set_tracking_uri(uri)
        return mlflow.start_run(run_id=resume_run_id)
    tags = {"seed": str(cfg.seed), "model": cfg.model.name, "data": cfg.data.name, **git_info(),
            **naming.debug_tags(debug), "mlflow.note.content": naming.run_description(cfg, debug)}
    tags.update({f"version.{k}": v for k, v in library_versions().items()})
    tags.update({f"env.{k}": v for k, v in compute_environment().items()})
    return mlflow.start_run(
        experiment_id=experiment_id,
        run_name=cfg.get("run_name") or naming.run_name(cfg.model.name, cfg.seed),
        parent_run_id=cfg.get("parent_run_id") or None,
        nested=bool(cfg.get("parent_run_id")),
        tags=redact_tree(tags),
    )


def _previous_job(cfg: DictConfig, fingerprint: str) -> tuple[str, Path | None, dict]:
    """("new" | "resume" | "skip", folder, job record) for this config (src/train/resume.py)."""
    resume = cfg.get("resume", "auto")
    if resume not in ("auto", "never"):
        raise ConfigError(f"resume={resume!r} is not valid; use resume=auto (continue an unfinished job with "
                          "the same config) or resume=never (always start afresh).")
    previous = earlier_job(cfg, fingerprint)
    if previous is None:
        return "new", None, {}
    job_dir, record = previous
    if record.get("status") == "finished":
        if cfg.get("skip_finished") and has_results(job_dir):
            return "skip", job_dir, record
        return "new", None, {}
    return ("resume", job_dir, record) if saved_epoch(job_dir) > 0 else ("new", None, {})


def train(cfg: DictConfig) -> dict[str, Any]:
    """Run the job described by ``cfg`` and return its final metrics (also written to results.json).

    With ``resume=auto`` and ``resume_root`` set (src.run sets it to the experiment's output folder),
    an unfinished earlier job with the same config is continued from its last finished epoch, in its
    folder and MLflow run; inside a sweep (``skip_finished``) a finished one is skipped."""
    if not cfg.get("output_dir"):
        raise ConfigError("output_dir is not set; src.run sets it to Hydra's job folder.")
    from src.config_schema import validate_config

    validate_config(cfg)  # src.run checked it before Hydra started; configs built in Python are checked here
    if cfg.train.get("distribution", "none") == "multi_worker":
        from src.train.cluster import resolve_cluster

        check_distribution("multi_worker")
        if cfg.train.get("init_weights"):  # loading a model makes variables on the chief alone: they would deadlock
            raise ConfigError("train.init_weights is not supported with train.distribution=multi_worker yet; "
                              "fine-tune with train.distribution=none or mirrored.")
        if cfg.train.get("clip_norm") is not None:  # Keras clips before it all-reduces: each worker's part
            raise ConfigError("train.clip_norm is not supported with train.distribution=multi_worker yet (Keras would "
                              "clip each worker's part of the gradient, not their sum); use train.clip_norm=null.")
        if not resolve_cluster().is_chief:  # the chief alone keeps the job's folder, state and MLflow run
            return _train_worker(cfg)
    fingerprint = job_fingerprint(cfg)
    if cfg.get("resume_root"):
        for dead in reap_dead_jobs(Path(cfg.resume_root)):
            run_id = (read_job(dead) or {}).get("mlflow_run_id")
            log.info("%s: its process is gone (killed); marked killed%s", dead, " with MLflow run " + run_id if run_id else "")
            if run_id and cfg.logger.get("enabled", True):
                mark_run_killed(cfg, run_id)
    action, previous_dir, record = _previous_job(cfg, fingerprint)
    if action == "skip":
        log.info("%s: finished before in %s with the same config: skipped (resume=never runs it again)",
                 cfg.model.name, previous_dir)
        point_to_job(Path(cfg.output_dir), previous_dir)
        return read_results(previous_dir)
    if action == "resume":
        log.info("resuming the unfinished job in %s after epoch %d (same config; resume=never starts afresh)",
                 previous_dir, saved_epoch(previous_dir))
        if running_elsewhere(record):
            raise ConfigError(
                f"the same job is running now (pid {record['pid']} on {record['host']}) in {previous_dir}; "
                "wait for it, or start a separate one with resume=never."
            )
        if previous_dir != Path(cfg.output_dir):
            point_to_job(Path(cfg.output_dir), previous_dir)
            cfg = cfg.copy()
            with open_dict(cfg):
                cfg.output_dir = str(previous_dir)
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    if action == "new":
        clear_state(out)  # a reused folder's state belongs to another config, or resume=never
    # SIGTERM raises KeyboardInterrupt from before the claim (src.run installs it even earlier), so a stop at
    # any point after the claim is recorded (over this process's own claim only: `mark_stopped`).
    with sigterm_as_interrupt():
        try:
            # under the lock the watchdog marks under: a live holder is refused, a dead one's watchdog cannot mark us
            claim_job(out, fresh=action == "new", fingerprint=fingerprint,
                      resumes=int(record.get("resumes", 0)) + 1 if action == "resume" else 0,
                      error=None, **git_info())  # a resumed job's last stop is no longer its error
            return _train(cfg, out, resuming=action == "resume",
                          resume_run_id=record.get("mlflow_run_id") if action == "resume" else None)
        except OSError as exc:
            with suppress(OSError):  # the disk may refuse this too
                mark_stopped(out, "failed", exc)
            if not (exc.filename or exc.errno in FILE_WRITE_ERRNOS):
                raise  # not a file write (e.g. a network error): reported as it is
            from src.tracking.store import StoreError, store_problem

            if store_problem(exc):  # the MLflow store's disk, not the job folder's
                raise StoreError(store_problem(exc)) from None
            raise ArtifactWriteError(
                f"could not write {exc.filename or 'an output file'}: {exc.strerror or exc}. Free disk space or choose a "
                f"writable hydra.run.dir; files are written to a temporary name and renamed, so the last good state "
                f"(epoch {saved_epoch(out)}) is intact and re-running the command resumes from it."
            ) from None
        except BaseException as exc:
            # SystemExit: submitit's preemption/timeout handler, after it requeued the job (docs/scaling_out.md)
            interrupted = isinstance(exc, (KeyboardInterrupt, SystemExit))
            marked = mark_stopped(out, "interrupted" if interrupted else "failed", exc)
            if interrupted and marked and marked.get("mlflow_run_id") and cfg.logger.get("enabled", True):
                mark_run_killed(cfg, marked["mlflow_run_id"])
                log.error("interrupted; the MLflow run is marked KILLED. Re-run the same command to resume from the "
                          "last finished epoch (%d).", saved_epoch(out))
            raise


def _start_watchdog(cfg: DictConfig, out: Path, run_id: str | None) -> None:
    """A detached `src.train.watchdog` that marks this job killed if its process dies silently (SIGKILL)."""
    import subprocess

    args = [sys.executable, "-m", "src.train.watchdog", str(os.getpid()), str(out)]
    env = dict(os.environ)
    if run_id:  # the URI (it may hold a password) in its environment: a command line is readable by all
        from src.tracking import resolve_tracking_uri

        args.append(run_id)
        env["MLFLOW_TRACKING_URI"] = resolve_tracking_uri(cfg.logger.get("tracking_uri"))
    try:
        subprocess.Popen(args, env=env, start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, cwd=Path(__file__).resolve().parents[2])
    except OSError as exc:  # the job runs without it; a later job of the experiment still reaps it
        log.warning("no watchdog for this job (%s): a SIGKILL would leave its run RUNNING", exc)


def mark_run_killed(cfg: DictConfig, run_id: str) -> None:
    import mlflow

    from src.tracking import resolve_tracking_uri

    try:
        mlflow.MlflowClient(resolve_tracking_uri(cfg.logger.get("tracking_uri"))).set_terminated(run_id, "KILLED")
    except Exception as exc:  # noqa: BLE001 — the job is going down anyway; say why the mark is missing
        log.warning("could not mark MLflow run %s KILLED: %s", run_id, exc)


def _train(cfg: DictConfig, out: Path, resuming: bool, resume_run_id: str | None) -> dict[str, Any]:
    """The job under ``train.precision``'s dtype policy and ``train.distribution``'s engine."""
    precision = check_precision(cfg.train.get("precision", "float32"))
    kind = check_distribution(cfg.train.get("distribution", "none"), jit_compile=bool(cfg.train.get("jit_compile", True)))
    with dtype_policy(precision), ExitStack() as engine:
        replicas = engine.enter_context(distribution_scope(kind, int(cfg.data.batch_size)))
        if replicas > 1:
            log.info("train.distribution=%s: %d replicas, %d examples each per step (global batch %d)",
                     kind, replicas, int(cfg.data.batch_size) // replicas, int(cfg.data.batch_size))
        return _train_in_scope(cfg, out, resuming, resume_run_id, leave_engine=engine.close)


def _data_and_network(cfg: DictConfig):
    """(data source, normalisation, host normalisation or None, network, trainer): ``trainer`` is the network,
    or the network behind on-device input normalisation (it shares the network's variables)."""
    data, norm = job_data(cfg.data)  # in memory, or streamed from disk (src/data/sources.py)
    size, channels = int(cfg.data.image_size), int(cfg.data.channels)
    model = build_from_config(cfg, (size, size, channels), data.num_classes)
    # A streamed data set's uint8 batches are normalised on the device (src/train/input_normalization.py);
    # networks with auxiliary heads keep host normalisation.
    on_device = data.streaming and not has_aux_heads(model)
    trainer = with_input_normalization(model, norm) if on_device else model
    return data, norm, None if on_device else norm, model, trainer


def _multi_worker_trainer(cfg: DictConfig, model: keras.Model, trainer: keras.Model, loss: keras.losses.Loss):
    """The multi-worker step driver for ``trainer`` (src/train/multi_worker.py) and this worker's input context."""
    import tensorflow as tf

    from src.train.cluster import resolve_cluster
    from src.train.multi_worker import MultiWorkerTrainer

    cluster = resolve_cluster()
    weights = [1.0]
    if has_aux_heads(model):
        weights += [aux_loss_weight(cfg.model.name, cfg.train.get("aux_loss_weight"))] * (len(model.outputs) - 1)
    context = tf.distribute.InputContext(num_input_pipelines=cluster.size, input_pipeline_id=cluster.rank,
                                         num_replicas_in_sync=cluster.size)
    return MultiWorkerTrainer(tf.distribute.get_strategy(), cluster, trainer, loss, weights), context


def _epoch_data(cfg: DictConfig, data, host_norm, context, steps: int):
    """Epoch e of this worker's shard of the training stream, in batches of its share of data.batch_size."""
    per_worker = int(cfg.data.batch_size) // int(context.num_input_pipelines)
    return lambda epoch: data.train_dataset(host_norm, per_worker, seed=int(cfg.seed), epochs=epoch + 1,
                                            start_epoch=epoch, steps=steps, input_context=context)


def _compile(cfg: DictConfig, model: keras.Model, trainer: keras.Model, spe: int, batch: int) -> keras.losses.Loss:
    """Compile ``trainer`` with the recipe's optimiser, loss and accuracy; returns the loss. Every worker of a
    multi-worker job runs this same sequence: the strategy broadcasts each new variable from the chief, so
    all must create the same variables in the same order."""
    jit = bool(cfg.train.get("jit_compile", True))  # XLA on TensorFlow; jax.jit on JAX (eager JAX is slow)
    if jit and keras.backend.backend() == "tensorflow" and cfg.train.get("deterministic", True):
        # Keras silently refuses XLA while TF op determinism is on (trainer.model_supports_jit).
        log.info("jit_compile is off: Keras disables XLA under op determinism; "
                 "train.deterministic=false trains ~1.25x faster but not bit-reproducibly")
        jit = False
    loss = SparseSmoothedCrossEntropy(float(cfg.train.get("label_smoothing", 0.0)))
    accuracy = keras.metrics.SparseCategoricalAccuracy(name="accuracy")
    outputs = len(model.outputs)
    if has_aux_heads(model):
        weight = aux_loss_weight(cfg.model.name, cfg.train.get("aux_loss_weight"))
        log.info("%s: training with %d auxiliary heads, each loss weighted %.2f; they are dropped for "
                 "evaluation, saving and export", cfg.model.name, outputs - 1, weight)
        model.compile(
            optimizer=build_optimizer(cfg.train, spe, batch),
            loss=[loss] * outputs, loss_weights=[1.0] + [weight] * (outputs - 1),
            metrics=[[accuracy]] + [[] for _ in range(outputs - 1)], jit_compile=jit,
        )
    else:
        trainer.compile(optimizer=build_optimizer(cfg.train, spe, batch), loss=loss, metrics=[accuracy], jit_compile=jit)
    return loss


def _train_worker(cfg: DictConfig) -> dict[str, Any]:
    """A multi-worker job's worker other than the chief: it trains its shard in step with the others and
    writes nothing (the chief writes the job's files and MLflow run)."""
    precision = check_precision(cfg.train.get("precision", "float32"))
    with dtype_policy(precision), distribution_scope("multi_worker", int(cfg.data.batch_size)):
        seed_everything(cfg.seed, cfg.train.get("deterministic", True))
        data, _, host_norm, model, trainer = _data_and_network(cfg)
        batch, epochs = int(cfg.data.batch_size), int(cfg.train.epochs)
        spe = steps_per_epoch(data.num_examples("train"), batch)
        loss = _compile(cfg, model, trainer, spe, batch)
        driver, context = _multi_worker_trainer(cfg, model, trainer, loss)
        start_epoch = driver.sync_from_chief(0)
        if cfg.train.get("sparsity"):
            apply_fixed_masks(model, float(cfg.train.sparsity))
        eval_batch = int(cfg.data.eval_batch_size)
        guard = LossGuard()
        driver.fit(_epoch_data(cfg, data, host_norm, context, spe), epochs, start_epoch, spe,
                   data.eval_dataset("val", host_norm, eval_batch, input_context=context), [guard])
        if guard.diverged:
            raise TrainingDivergedError(f"training loss became {guard.diverged[1]} in epoch {guard.diverged[0]}; "
                                        "the chief's error says what to change.")
        test_loss, test_acc = driver.evaluate(data.eval_dataset("test", host_norm, eval_batch, input_context=context))
    log.info("%s done: test accuracy %.4f (the chief writes the job's results)",
             driver.cluster.describe(driver.cluster.rank), test_acc)
    return {"test_loss": test_loss, "test_accuracy": test_acc}


def _train_in_scope(cfg: DictConfig, out: Path, resuming: bool, resume_run_id: str | None,
                    leave_engine=lambda: None) -> dict[str, Any]:
    started = time.perf_counter()
    seed_everything(cfg.seed, cfg.train.get("deterministic", True))

    data_cfg = cfg.data
    _check_export_formats(cfg)  # before training: a typo here must not cost a training run
    data, norm, host_norm, model, trainer = _data_and_network(cfg)
    size, channels = int(data_cfg.image_size), int(data_cfg.channels)
    n_train = data.num_examples("train")
    deployed = inference_network(model)  # the model itself, or its main output without auxiliary heads
    multi_worker = cfg.train.get("distribution", "none") == "multi_worker"
    params, macs = count_params(deployed), count_macs(deployed)
    log.info("%s: %s trainable parameters, %.2f M MACs at %dx%dx%d",
             cfg.model.name, f"{params.trainable:,}", macs.total / 1e6, size, size, channels)

    batch = int(data_cfg.batch_size)
    epochs = int(cfg.train.epochs)
    spe = steps_per_epoch(n_train, batch)
    driver = context = None

    loss = _compile(cfg, model, trainer, spe, batch)
    if multi_worker:  # each worker evaluates its block of the validation and test sets
        driver, context = _multi_worker_trainer(cfg, model, trainer, loss)
    val_ds = data.eval_dataset("val", host_norm, int(data_cfg.eval_batch_size), input_context=context)
    test_ds = data.eval_dataset("test", host_norm, int(data_cfg.eval_batch_size), input_context=context)
    start_epoch = restore_state(trainer, out) if resuming else 0
    if start_epoch:
        log.info("restored model and optimizer state after epoch %d of %d", start_epoch, epochs)
        truncate_history(out, start_epoch)
    elif cfg.train.get("init_weights"):
        _load_initial_weights(model, cfg.train.init_weights)
    if driver:  # the other workers take the state the chief restored (or initialised)
        start_epoch = driver.sync_from_chief(start_epoch)
    if cfg.train.get("sparsity"):  # DSD's sparse phase: after the initial (or restored) weights, before any step
        kept = apply_fixed_masks(model, float(cfg.train.sparsity))
        log.info("train.sparsity=%s: %d kernels pruned by magnitude and held sparse (%.1f %% of their weights kept)",
                 cfg.train.sparsity, len(kept), 100 * (1 - cfg.train.sparsity))
    train_ds = None if driver else data.train_dataset(host_norm, batch, seed=int(cfg.seed), epochs=epochs,
                                                      start_epoch=start_epoch, steps=spe)
    if has_aux_heads(model) and not driver:
        train_ds, val_ds, test_ds = (repeat_labels(ds, len(model.outputs)) for ds in (train_ds, val_ds, test_ds))

    # The job folder describes itself with or without MLflow (src.compress.run and re-runs read it).
    write_config(out, cfg)  # resolved, no credentials
    atomic_write_text(out / "macs.txt", macs.table())
    write_job(out, data_fingerprint=data.fingerprint)  # `--rerun <job folder>` checks the data against it
    with tracking_run(cfg, resume_run_id) as run:
        run_id = run.info.run_id if run else None
        if run:
            write_job(out, mlflow_run_id=run_id)
            if resume_run_id:
                import mlflow

                mlflow.set_tag("resumed_after_epoch", str(start_epoch))
            else:
                _log_run_inputs(cfg, out, data, norm, params, macs, batch)
        _start_watchdog(cfg, out, run_id)
        callbacks: list[keras.callbacks.Callback] = [EpochTimer(n_train), LossGuard()]
        if has_aux_heads(model) and not driver:  # the multi-worker driver logs the main output's names itself
            callbacks.insert(1, MainOutputMetrics(model.output_names[0]))
        callbacks.append(EpochCSVLogger(str(history_path(out)), append=start_epoch > 0))
        if run:
            from src.tracking import MlflowMetrics

            callbacks.append(MlflowMetrics(run_id))
        if cfg.train.get("checkpoint", True):
            callbacks.append(TrainingState(out, checkpoint=out / "checkpoints" / "last.keras"))  # last: see its doc
        verbosity = _verbosity(cfg.train)
        if verbosity == 2 and cfg.train.get("progress_every_s"):  # no progress bar: say how the epoch goes
            callbacks.append(ProgressLog(cfg.train.progress_every_s, batch, log))
        if driver:
            driver.fit(_epoch_data(cfg, data, host_norm, context, spe), epochs, start_epoch, spe, val_ds, callbacks)
        else:
            trainer.fit(
                train_ds, epochs=epochs, initial_epoch=start_epoch, steps_per_epoch=spe, validation_data=val_ds,
                callbacks=callbacks, verbose=verbosity, shuffle=False,  # the stream is shuffled already
            )
        history = read_history_csv(history_path(out))  # every epoch, across resumptions
        train_loss = history["loss"][-1] if history.get("loss") else float("nan")
        if loss_diverged(train_loss):
            good = saved_epoch(out)
            kept = (f"the last good state is that of epoch {good} ({out / 'state'}, {out / 'checkpoints' / 'last.keras'})"
                    if good else "no epoch finished with a finite loss, so no state was kept")
            raise TrainingDivergedError(
                f"training loss became {train_loss} in epoch {len(history.get('loss', []))} of {epochs} (a loss that is "
                f"not finite or above {MAX_TRAINING_LOSS:g} stops the job); {kept}. "
                f"Lower train.learning_rate (now {cfg.train.learning_rate}), add warm-up (train.warmup_epochs) "
                "or check data.normalize."
            )
        dead = dead_bn_channels(deployed)
        if dead:
            log.warning("%s: %s", cfg.model.name, describe_dead_channels(dead))
        test_loss, test_acc = driver.evaluate(test_ds) if driver else _evaluate_main_output(trainer, test_ds)
        if driver:  # the last collective: a variable made from here on (export) must not wait for the others
            leave_engine()
        results: dict[str, Any] = {
            "test_loss": float(test_loss),
            "test_accuracy": float(test_acc),
            "final_val_accuracy": float(history["val_accuracy"][-1]),
            "params_trainable": params.trainable,
            "params_total": params.total,
            "macs": macs.total,
            "train_examples": n_train,
            "kernel_sparsity": kernel_sparsity(deployed),
            "bn_dead_channels": len(dead),
        }
        if keras.config.dtype_policy().name != "float32":  # float32 weights already: save a float32 graph
            deployed = float32_copy(deployed, lambda: inference_network(
                build_from_config(cfg, (size, size, channels), data.num_classes)))
        model_path = out / "model.keras"
        deployed.save(model_path)

        tflite_reports = []
        if cfg.export.get("enabled", False):
            from src.export import export_and_verify

            # never the whole streamed test set in memory; int8: activation ranges from training images
            xe, ye, calibration = verification_set(data, norm, cfg.export.get("max_eval_examples"))
            for fmt in cfg.export.get("formats") or ["float32"]:
                report = export_and_verify(deployed, out, xe, ye, name=cfg.model.name, fmt=fmt,
                                           representative=calibration)
                results.update(report.as_metrics("tflite_" if fmt == "float32" else f"tflite_{fmt}_"))
                tflite_reports.append(report)
        results["wall_seconds"] = time.perf_counter() - started
        results["train_images_per_s"] = float(np.median(history["images_per_s"]))
        write_results(out, results)
        from src.train.curves import plot_history

        plot_history(history_path(out), out / "curves.png", title=f"{cfg.model.name} on {cfg.data.name}, seed {cfg.seed}")
        if run:
            import mlflow

            mlflow.log_metrics({k: float(v) for k, v in results.items()})
            mlflow.log_artifact(str(model_path))
            mlflow.log_artifact(str(results_path(out)))
            mlflow.log_artifact(str(history_path(out)))
            mlflow.log_artifact(str(out / "curves.png"))
            for report in tflite_reports:
                mlflow.log_artifact(report.path, artifact_path="tflite")
                mlflow.log_artifact(report.path + ".json", artifact_path="tflite")
            results["mlflow_run_id"] = run_id
        write_job(out, status="finished")
    log.info("test accuracy %.4f, wall %.0f s -> %s", results["test_accuracy"], results["wall_seconds"], out)
    from src.train.summary import print_summary

    print_summary(cfg, results, out)
    return results


def _check_export_formats(cfg: DictConfig) -> None:
    from src.export.tflite import FORMATS

    if not cfg.export.get("enabled", False):
        return
    for fmt in cfg.export.get("formats") or []:
        if fmt not in FORMATS:
            raise ConfigError(f"export.formats has {fmt!r}; use any of {list(FORMATS)}, e.g. export.formats=[float32,int8].")


def _load_initial_weights(model: keras.Model, path: str) -> None:
    """Start from the weights of a saved model of the same architecture (``train.init_weights``: fine-tuning)."""
    from src.models.saving import load_model

    source = load_model(path, compile=False)
    mine, theirs = model.get_weights(), source.get_weights()
    if [w.shape for w in mine] != [w.shape for w in theirs]:
        raise ConfigError(f"train.init_weights={path!r} holds a different architecture ({len(theirs)} weight arrays, "
                          f"this model has {len(mine)} or other shapes); give a model.keras of the same model config.")
    model.set_weights(theirs)
    log.info("initial weights from %s", path)


def _evaluate_main_output(model: keras.Model, dataset) -> tuple[float, float]:
    """Test loss and accuracy of the main output (auxiliary heads, if any, are not counted)."""
    metrics = model.evaluate(dataset, verbose=0, return_dict=True)
    prefix = f"{model.output_names[0]}_" if has_aux_heads(model) else ""
    return float(metrics[f"{prefix}loss"]), float(metrics[f"{prefix}accuracy"])


def _log_run_inputs(cfg, out: Path, splits, norm: Normalization, params, macs, batch: int) -> None:
    import mlflow

    from src.tracking import flatten_config

    resolved = OmegaConf.to_container(cfg, resolve=True)
    flat = flatten_config(resolved)
    flat["train.effective_learning_rate"] = str(effective_learning_rate(cfg.train, batch))
    size, channels = int(cfg.data.image_size), int(cfg.data.channels)
    for key, value in effective_model_knobs(cfg, (size, size, channels)).items():
        flat[f"model_effective.{key}"] = str(value)
    flat["data.fingerprint"] = splits.fingerprint
    flat["data.source"] = splits.source
    flat["data.normalization"] = json.dumps({"mean": norm.mean, "std": norm.std})
    mlflow.log_params(flat)
    mlflow.set_tags({"data_fingerprint": splits.fingerprint, "git_commit_short": mlflow.active_run().data.tags.get("git_commit", "")[:10]})
    mlflow.log_artifact(str(config_path(out)))
    mlflow.log_artifact(str(out / "macs.txt"))
    mlflow.log_metrics({"params_trainable": params.trainable, "macs": macs.total})
