"""Run names and descriptions that say what a run is."""

from __future__ import annotations

from omegaconf import OmegaConf

from src.tracking.naming import MAX_NAME, experiment_description, run_description, run_name


def test_run_name_says_model_seed_and_the_overrides_that_set_the_run_apart():
    overrides = ["experiment=shufflenet_groups", "point/shufflenet_groups=g3_noshuffle", "seed=2",
                 "train.epochs=3", "hydra.run.dir=/tmp/x", "data=synthetic", "+target.test_accuracy=0.9"]
    assert run_name("shufflenet_v1", 2, overrides) == (
        "shufflenet_v1 seed=2 point=g3_noshuffle train.epochs=3 target.test_accuracy=0.9")
    assert run_name("resnet20", 42) == "resnet20 seed=42"
    assert run_name("resnet20", 1, ["seed=2"]) != run_name("resnet20", 2, ["seed=2"])


def test_long_run_names_are_cut_but_keep_the_seed():
    name = run_name("resnet20", 7, [f"model.knob{i}=value{i}" for i in range(30)])
    assert len(name) == MAX_NAME and name.startswith("resnet20 seed=7 ") and name.endswith("...")


def test_descriptions_mark_debug_runs_and_name_the_command():
    cfg = OmegaConf.create({"model": {"name": "resnet20"}, "data": {"name": "fashion_mnist", "image_size": 28},
                            "seed": 1, "train": {"epochs": 15}, "experiment_name": "resnet20_fashion_mnist"})
    assert "not a result" in run_description(cfg, "smoke") and "not a result" not in run_description(cfg, None)
    assert "experiment=resnet20_fashion_mnist" in experiment_description(cfg, "resnet20_fashion_mnist")
    assert "model=resnet20 data=fashion_mnist" in experiment_description(cfg, None)
