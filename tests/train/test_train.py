"""`train(cfg)` end to end on tiny synthetic jobs: outputs, learning, reproducibility."""

from __future__ import annotations

import json

import numpy as np
import pytest

from src.errors import ConfigError
from src.models import load_model
from src.train import train
from src.train.bn_health import dead_bn_channels
from tests.helpers.config import compose_config
from tests.helpers.jobs import weights_of


@pytest.mark.jax
def test_tiny_job_writes_its_outputs_and_learns(tmp_path, tiny_job):
    cfg = compose_config(tiny_job + ["train.epochs=6", "train.learning_rate=0.05"], tmp_path)
    results = train(cfg)
    for name in ("model.keras", "history.csv", "results.json", "checkpoints/last.keras"):
        assert (tmp_path / name).exists(), name
    assert json.loads((tmp_path / "results.json").read_text())["test_accuracy"] == results["test_accuracy"]
    assert results["params_trainable"] == 269_434  # resnet20 at 16x16x1, 10 classes
    assert results["bn_dead_channels"] == len(dead_bn_channels(load_model(tmp_path / "model.keras", compile=False)))
    # eval-mode accuracy needs the BN running statistics to settle too: 6 short epochs give ≈0.97 here
    assert results["test_accuracy"] > 0.5  # 10 classes: chance is 0.1
    history = (tmp_path / "history.csv").read_text().splitlines()
    assert len(history) == 7 and "epoch_seconds" in history[0] and "images_per_s" in history[0]
    assert [row.split(",")[0] for row in history[1:]] == ["1", "2", "3", "4", "5", "6"]  # as the log numbers them


@pytest.mark.jax
def test_same_config_and_seed_give_identical_weights(tmp_path, tiny_job):
    runs = []
    for i, seed in enumerate((7, 7, 8)):
        out = tmp_path / f"run{i}"
        results = train(compose_config(tiny_job + [f"seed={seed}"], out))
        runs.append((results, weights_of(out / "model.keras")))
    (r0, w0), (r1, w1), (r2, w2) = runs
    assert r0["test_loss"] == r1["test_loss"] and r0["test_accuracy"] == r1["test_accuracy"]
    assert all(np.array_equal(a, b) for a, b in zip(w0, w1))
    assert not all(np.array_equal(a, b) for a, b in zip(w0, w2))


def test_missing_output_dir_and_bad_knob_are_config_errors(tmp_path, tiny_job):
    with pytest.raises(ConfigError, match="output_dir"):
        train(compose_config(tiny_job))
    with pytest.raises(ConfigError, match="no knob 'width'"):
        train(compose_config(tiny_job + ["+model.width=2"], tmp_path))


def test_image_folder_job_trains(tmp_path, tiny_job):
    from tests.helpers.data import make_folder

    make_folder(tmp_path / "images", per_class=8, size=20)
    make_folder(tmp_path / "images", per_class=3, size=20, sub="test")
    job = [o for o in tiny_job if not o.startswith("data")] + [
        "data=image_folder", f"data.root={tmp_path / 'images'}", "data.image_size=16", "data.batch_size=8",
        "data.val_fraction=0.25",
        "train.epochs=1",
    ]
    results = train(compose_config(job, tmp_path / "out"))
    assert results["train_examples"] == 18 and 0.0 <= results["test_accuracy"] <= 1.0


def test_small_inputs_select_the_documented_small_variant():
    from src.train.loop import effective_model_knobs

    cfg = compose_config(["model=resnet18"])
    assert effective_model_knobs(cfg, (28, 28, 1))["stem"] == "small"
    assert effective_model_knobs(cfg, (224, 224, 3))["stem"] == "imagenet"
    paper = compose_config(["model=resnet18", "model_variant=paper"])
    assert effective_model_knobs(paper, (28, 28, 1))["stem"] == "imagenet"
    with pytest.raises(ConfigError, match="model_variant"):
        effective_model_knobs(compose_config(["model_variant=tiny"]), (28, 28, 1))
