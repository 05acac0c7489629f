"""One data-distillation job (one labelled fraction, one seed): teacher -> multi-transform pseudo-labels ->
students, each training an ordinary `src.train.train` job in a sub-folder and a nested MLflow run.

The teacher is the supervised baseline (trained on the labelled part only). Every student of
``distill.students`` names a transform set, a threshold (``heuristic`` or a number) and shares the
teacher, so students differ only in their pseudo-labels. A killed job resumes stage by stage: finished
sub-trainings are skipped, an unfinished one continues from its last epoch (src/train/resume.py).

A streamed class-folder tree (``data=imagenet_folder``) works the same way without holding images: the
teacher reads the unlabelled part chunk by chunk (`Pool`), the pseudo-labels file keeps indices and
labels, and each student streams the labelled files plus the pseudo-labelled ones with their new labels
(`src.data.folder_source`).
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from src.atomic_files import atomic_write_text
from src.data import load_semi_supervised
from src.data.labelled import save_pseudo_labels
from src.data.pipeline import Normalization, adapt_images
from src.distill.pseudo_labels import (
    class_proportional_mask,
    ensemble,
    fixed_threshold_mask,
    precision_coverage_curve,
    pseudo_label_stats,
)
from src.distill.transforms import parse_transforms
from src.errors import ConfigError
from src.job_folder import load_trained_model, model_path
from src.train.staged import run_staged_job, sub_config

log = logging.getLogger(__name__)

STUDENT_INITS = ("scratch", "teacher")


def check_distill_config(cfg: DictConfig) -> None:
    """Clear errors for a distillation config that cannot work, before anything trains."""
    if cfg.get("distill") is None:
        raise ConfigError("task=distill needs a `distill:` block; start from experiment=data_distillation.")
    from src.data import READ_IN_ORDER

    if cfg.data.get("name") in READ_IN_ORDER:
        raise ConfigError(f"task=distill picks its labelled part and pseudo-labelled images by index, and data="
                          f"{cfg.data.name} is read in record order; use data=imagenet_folder (the same images as a "
                          "class-folder tree, streamed) or an in-memory data set.")
    if cfg.data.get("labelled_fraction") is None:
        raise ConfigError("task=distill needs data.labelled_fraction (e.g. 0.1): the rest of the training split is "
                          "the unlabelled part the teacher labels.")
    if cfg.data.get("pseudo_labels"):
        raise ConfigError("data.pseudo_labels is written by the distillation job itself; leave it null.")
    sets = cfg.distill.transform_sets
    for specs in sets.values():
        parse_transforms(list(specs))
    if not cfg.distill.students:
        raise ConfigError("distill.students is empty: name at least one student (transforms + threshold).")
    for name, student in cfg.distill.students.items():
        if student.transforms not in sets:
            raise ConfigError(f"distill.students.{name}.transforms={student.transforms!r} is not a transform set; "
                              f"defined: {list(sets)}.")
        _threshold(student.threshold, name)
    init = cfg.distill.student.get("init", "scratch")
    if init not in STUDENT_INITS:
        raise ConfigError(f"distill.student.init={init!r}; use scratch (retrain, as the paper) or teacher (fine-tune).")


def _threshold(value: Any, name: str) -> float | None:
    """None for the class-proportional heuristic, else the fixed threshold."""
    if value == "heuristic":
        return None
    try:
        t = float(value)
    except (TypeError, ValueError):
        t = -1.0
    if not 0.0 <= t <= 1.0:
        raise ConfigError(f"distill.students.{name}.threshold={value!r}; use heuristic or a number in [0, 1].")
    return t


def teacher_logits(model, images: np.ndarray, transforms, norm: Normalization, batch: int) -> np.ndarray:
    """Logits (T, N, C) of ``model`` on every transform of the uint8 images."""
    return np.stack([
        np.asarray(model.predict(norm.apply_numpy(t.apply(images)), batch_size=batch, verbose=0), np.float32)
        for t in transforms
    ])


@dataclass(frozen=True)
class Pool:
    """What the job needs of the unlabelled part: its indices into the training split, its hidden labels
    (reporting only), the labelled part's labels (class frequencies) and its uint8 images in chunks, at
    the job's input size. In memory: one chunk; streamed: chunks read and decoded in turn (evaluation crop)."""

    indices: np.ndarray
    hidden_labels: np.ndarray
    labelled_labels: np.ndarray
    num_classes: int
    chunks: Callable[[], Iterator[np.ndarray]]


#: Pool images per chunk when they are streamed: the teacher's logits are ensembled chunk by chunk, so what
#: is held is O(chunk × transforms × classes) floats and O(N) labels and scores, never the images.
STREAM_CHUNK = 512


def unlabelled_pool(cfg: DictConfig) -> Pool:
    """The job's `Pool`, from the in-memory split (`src.data.labelled`) or streamed (`src.data.folder_source`)."""
    from src.data import STREAMING

    if cfg.data.get("name") in STREAMING:
        from src.data import open_source

        source = open_source(cfg.data)

        def streamed() -> Iterator[np.ndarray]:
            for images, _ in source.eval_uint8("pool").batch(STREAM_CHUNK).prefetch(1):
                yield images.numpy()

        return Pool(source.pool_indices, source.files["pool"].labels, source.files["train"].labels,
                    source.num_classes, streamed)
    labelled, pool = load_semi_supervised(cfg.data)
    size, channels = int(cfg.data.image_size), int(cfg.data.channels)
    images = adapt_images(pool.images, size, channels, cfg.data.get("resize", "pad"))
    return Pool(pool.indices, pool.hidden_labels, labelled.y_train, labelled.num_classes, lambda: iter([images]))


def teacher_predictions(model, pool: Pool, transform_sets: dict[str, list], norm: Normalization, batch: int,
                        method: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(labels, scores) per transform set: the teacher's ensembled predictions over every pool image, in one
    pass over the pool (each chunk is ensembled and dropped)."""
    parts: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {name: [] for name in transform_sets}
    for images in pool.chunks():
        for name, transforms in transform_sets.items():
            parts[name].append(ensemble(teacher_logits(model, images, transforms, norm, batch), method))
    empty = (np.zeros(0, np.int64), np.zeros(0, np.float32))
    return {name: (np.concatenate([p[0] for p in chunks]), np.concatenate([p[1] for p in chunks])) if chunks else empty
            for name, chunks in parts.items()}


def distill(cfg: DictConfig) -> dict[str, Any]:
    """Run (or resume) the job; returns and writes results.json (baseline and per-student metrics)."""
    from src.train import train

    check_distill_config(cfg)
    results = run_staged_job(cfg, lambda cfg, out, run_id: _run(cfg, out, run_id, train), flat_metrics,
                             artifacts=("pseudo_labels.csv", "threshold_curve.csv"))
    log.info("distillation (labelled %.0f %%, seed %s): baseline %.4f, %s", 100 * cfg.data.labelled_fraction,
             cfg.seed, results["baseline"]["test_accuracy"],
             ", ".join(f"{k} {v['test_accuracy'] or float('nan'):.4f}" for k, v in results["students"].items()))
    return results


def _run(cfg: DictConfig, out: Path, run_id: str | None, train) -> dict[str, Any]:

    teacher = train(sub_config(cfg, "teacher", out, run_id))
    pool = unlabelled_pool(cfg)
    norm = Normalization.create(cfg.data.normalize.mean, cfg.data.normalize.std, int(cfg.data.channels))
    model = load_trained_model(out / "teacher")
    labelled_labels = pool.labelled_labels
    frequencies = np.bincount(labelled_labels, minlength=pool.num_classes) / len(labelled_labels)
    method = cfg.distill.get("ensemble", "mean_prob")

    sets = {name: parse_transforms(list(cfg.distill.transform_sets[name]))
            for name in sorted({s.transforms for s in cfg.distill.students.values()})}
    predictions = teacher_predictions(model, pool, sets, norm, int(cfg.data.eval_batch_size), method)
    for set_name, transforms in sets.items():
        log.info("teacher on %d unlabelled images x %d transforms (%s): ensemble accuracy %.4f", len(pool.indices),
                 len(transforms), set_name, float((predictions[set_name][0] == pool.hidden_labels).mean()))
    _write_threshold_curve(out, predictions, pool.hidden_labels, cfg.distill.get("threshold_curve", []))

    students: dict[str, Any] = {}
    stats_rows = []
    per_class: dict[str, float] = {}  # <student>.class<c>.pseudo_count / .pseudo_precision, as MLflow metrics
    for name, student in cfg.distill.students.items():
        labels, scores = predictions[student.transforms]
        threshold = _threshold(student.threshold, name)
        if threshold is None:
            mask, _ = class_proportional_mask(labels, scores, frequencies, float(cfg.distill.get("heuristic_min_score", 0.0)))
        else:
            mask = fixed_threshold_mask(scores, threshold)
        stats = pseudo_label_stats(labels, mask, pool.hidden_labels, pool.num_classes)  # reporting only
        if mask.any():
            path = save_pseudo_labels(out / "pseudo" / f"{name}.npz", pool.indices[mask], labels[mask], scores[mask])
            overrides = {"data.pseudo_labels": str(path),
                         **_student_train_overrides(cfg, out, len(labelled_labels), mask.sum())}
            accuracy = train(sub_config(cfg, name, out, run_id, **overrides))["test_accuracy"]
        else:
            log.warning("student %s: no pseudo-label passes its threshold %s, so it is not trained (lower the "
                        "threshold); recorded without accuracy", name, student.threshold)
            accuracy = None
        students[name] = {
            "test_accuracy": accuracy, "transforms": student.transforms,
            "threshold": str(student.threshold), "pseudo_count": stats.count, "pseudo_coverage": stats.coverage,
            "pseudo_precision": stats.precision if stats.count else None,
            "gain_vs_baseline": None if accuracy is None else accuracy - teacher["test_accuracy"],
        }
        per_class.update({k: v for k, v in stats.as_metrics(name).items() if ".class" in k})
        stats_rows += [{"student": name, "class": c, "count": int(stats.per_class_count[c]),
                        "precision": float(stats.per_class_precision[c]), "recall": float(stats.per_class_recall[c])}
                       for c in range(pool.num_classes)]
    _write_csv(out / "pseudo_labels.csv", stats_rows)
    return {
        "labelled_fraction": float(cfg.data.labelled_fraction), "seed": int(cfg.seed), "model": cfg.model.name,
        "labelled_examples": int(len(labelled_labels)), "unlabelled_examples": int(len(pool.indices)),
        "baseline": {"test_accuracy": teacher["test_accuracy"]}, "students": students,
        "per_class_metrics": per_class,
    }


def student_epochs(setting: Any, teacher_epochs: int, labelled: int, pseudo: int) -> int:
    """``same_steps``: as many SGD steps as the teacher took on the labelled part alone (equal compute for
    baseline and student), i.e. teacher epochs × labelled / (labelled + pseudo), at least 1; or a number."""
    if setting == "same_steps":
        return max(1, round(teacher_epochs * labelled / (labelled + pseudo)))
    if isinstance(setting, int) and setting >= 1:
        return setting
    raise ConfigError(f"distill.student.epochs={setting!r}; use same_steps or a positive integer.")


def _student_train_overrides(cfg: DictConfig, out: Path, labelled: int, pseudo: int) -> dict[str, Any]:
    extra = cfg.distill.student.get("train")
    overrides = {f"train.{k}": v for k, v in (OmegaConf.to_container(extra) if extra is not None else {}).items()}
    overrides["train.epochs"] = student_epochs(cfg.distill.student.get("epochs", "same_steps"), int(cfg.train.epochs),
                                               labelled, int(pseudo))
    if cfg.distill.student.get("init", "scratch") == "teacher":
        overrides["train.init_weights"] = str(model_path(out / "teacher"))
    return overrides


def _write_threshold_curve(out: Path, predictions, hidden: np.ndarray, thresholds) -> None:
    rows = [{"transforms": name, "threshold": t, "coverage": cov, "precision": prec}
            for name, (labels, scores) in sorted(predictions.items())
            for t, cov, prec in precision_coverage_curve(labels, scores, hidden, list(thresholds))]
    _write_csv(out / "threshold_curve.csv", rows)


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    import io

    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    atomic_write_text(path, buffer.getvalue())


def flat_metrics(results: dict[str, Any]) -> dict[str, float]:
    """MLflow metrics with one key per student and quantity (the compare view lines the points up on them)."""
    metrics = {"baseline.test_accuracy": float(results["baseline"]["test_accuracy"])}
    for name, student in results["students"].items():
        for key in ("test_accuracy", "gain_vs_baseline", "pseudo_count", "pseudo_coverage", "pseudo_precision"):
            if student[key] is not None:
                metrics[f"{name}.{key}"] = float(student[key])
    metrics.update(results.get("per_class_metrics", {}))
    return metrics
