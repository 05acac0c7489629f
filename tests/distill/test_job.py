"""The distillation job end to end on tiny synthetic data: results, resume, MLflow runs, and no leakage of
hidden (unlabelled) or test labels into what the students learn."""

from __future__ import annotations

import json

import numpy as np
import pytest

import src.data.labelled as labelled_module
from src.distill.job import check_distill_config, distill, student_epochs
from src.errors import ConfigError
from tests.helpers.config import compose_config

TINY_DISTILL = [
    "experiment=data_distillation",
    "hydra.mode=RUN",
    "data=synthetic",
    "data.num_train=300",
    "data.num_val=40",
    "data.num_test=60",
    "data.num_classes=4",
    "train.learning_rate=0.05",
    "data.batch_size=32",
    "data.labelled_fraction=0.2",
    "train.epochs=3",
    "train.warmup_epochs=0",
    "train.jit_compile=false",
    "train.checkpoint=false",
    "logger=none",
    "distill.students.multi_fixed.threshold=0.3",
    "seed=3",
]


def _model_weights(folder):
    from src.models.saving import load_model

    return load_model(folder / "model.keras", compile=False).get_weights()


def test_job_trains_teacher_and_students_and_reports_pseudo_labels(tmp_path):
    results = distill(compose_config(TINY_DISTILL, tmp_path / "job"))
    assert set(results["students"]) == {"single_heuristic", "multi_heuristic", "multi_fixed", "multi_scale_heuristic"}
    assert results["labelled_examples"] + results["unlabelled_examples"] == 300
    for name, student in results["students"].items():
        assert 0.0 <= student["test_accuracy"] <= 1.0 and student["pseudo_count"] > 0
        history = (tmp_path / "job" / name / "history.csv").read_text().splitlines()
        expected = student_epochs("same_steps", 3, results["labelled_examples"], student["pseudo_count"])
        assert len(history) == 1 + expected
        saved = np.load(tmp_path / "job" / "pseudo" / f"{name}.npz")
        assert len(saved["labels"]) == student["pseudo_count"]
    assert json.loads((tmp_path / "job" / "results.json").read_text())["seed"] == 3
    assert (tmp_path / "job" / "threshold_curve.csv").read_text().startswith("transforms,threshold,coverage,precision")
    # A re-run with the same config in the same folder trains nothing again.
    again = distill(compose_config(TINY_DISTILL, tmp_path / "job"))
    assert again == results


def test_hidden_and_test_labels_do_not_reach_the_students(tmp_path, monkeypatch):
    """Scrambling the unlabelled part's true labels and the test labels changes no pseudo-label and no
    student weight (training is deterministic); only the reported precision and accuracy move."""
    base = distill(compose_config(TINY_DISTILL, tmp_path / "clean"))
    real_split = labelled_module.split_labelled

    def scrambled_split(splits, fraction, seed):
        kept, pool = real_split(splits, fraction, seed)
        kept = type(kept)(**{**kept.__dict__, "y_test": (kept.y_test + 1) % kept.num_classes,
                             "y_val": (kept.y_val + 1) % kept.num_classes})
        return kept, type(pool)(pool.indices, pool.images, (pool.hidden_labels + 3) % kept.num_classes)

    monkeypatch.setattr(labelled_module, "split_labelled", scrambled_split)
    scrambled = distill(compose_config(TINY_DISTILL, tmp_path / "scrambled"))
    for name in base["students"]:
        a, b = (np.load(tmp_path / run / "pseudo" / f"{name}.npz") for run in ("clean", "scrambled"))
        np.testing.assert_array_equal(a["indices"], b["indices"])
        np.testing.assert_array_equal(a["labels"], b["labels"])
        for wa, wb in zip(_model_weights(tmp_path / "clean" / name), _model_weights(tmp_path / "scrambled" / name)):
            np.testing.assert_array_equal(wa, wb)
    assert any(base["students"][n]["pseudo_precision"] != scrambled["students"][n]["pseudo_precision"]
               for n in base["students"])


def test_job_logs_one_run_with_nested_teacher_and_students(tmp_path, tracking_uri):
    import mlflow

    cfg = compose_config([o for o in TINY_DISTILL if o != "logger=none"], tmp_path / "job")
    distill(cfg)
    client = mlflow.MlflowClient(tracking_uri)
    runs = client.search_runs([client.get_experiment_by_name("data_distillation").experiment_id])
    job = [r for r in runs if r.data.tags.get("task") == "distill"]
    assert len(job) == 1 and job[0].info.status == "FINISHED"
    assert {"baseline.test_accuracy", "multi_heuristic.pseudo_precision", "multi_heuristic.class0.pseudo_count"} \
        <= set(job[0].data.metrics)
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == job[0].info.run_id]
    assert sorted(r.info.run_name for r in children) == ["multi_fixed", "multi_heuristic", "multi_scale_heuristic",
                                                               "single_heuristic", "teacher"]
    assert all("test_accuracy" in r.data.metrics and r.info.status == "FINISHED" for r in children)


@pytest.mark.parametrize("override, message", [
    ("data.labelled_fraction=null", "labelled_fraction"),
    ("distill.students.single_heuristic.transforms=triple", "not a transform set"),
    ("distill.students.multi_fixed.threshold=2", "threshold"),
    ("distill.student.init=imagenet", "scratch"),
    ("distill.transform_sets.multi=[rotate:5]", "unknown transform"),
    ("data.pseudo_labels=x.npz", "pseudo_labels"),
])
def test_bad_distill_configs_fail_before_training(override, message, tmp_path):
    with pytest.raises(ConfigError, match=message):
        check_distill_config(compose_config([*TINY_DISTILL, override], tmp_path))


def test_a_job_without_students_or_distill_block_is_refused(tmp_path):
    from omegaconf import open_dict

    cfg = compose_config(TINY_DISTILL, tmp_path)
    with open_dict(cfg):
        cfg.distill.students = {}
    with pytest.raises(ConfigError, match="distill.students is empty"):
        check_distill_config(cfg)
    with pytest.raises(ConfigError, match="experiment=data_distillation"):
        check_distill_config(compose_config(["task=distill"], tmp_path))


def test_student_epochs_match_the_teachers_steps():
    assert student_epochs("same_steps", 40, 5500, 49500) == 4
    assert student_epochs("same_steps", 1, 10, 1000) == 1
    assert student_epochs(7, 40, 1, 1) == 7
    with pytest.raises(ConfigError):
        student_epochs("forever", 40, 1, 1)
