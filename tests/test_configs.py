"""Every config composes; experiment files are valid `# @package _global_` deltas."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from tests.helpers.config import CONF, EXPERIMENTS, compose_config


def test_default_config_composes_to_the_documented_job():
    cfg = compose_config()
    assert cfg.model.name == "resnet20" and cfg.data.name == "fashion_mnist" and cfg.logger.enabled
    assert cfg.train.schedule == "cosine" and cfg.export.enabled and cfg.experiment_name == "resnet20_fashion_mnist"


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_composes_and_names_its_mlflow_experiment(name):
    text = (CONF / "experiment" / f"{name}.yaml").read_text()
    assert "# @package _global_" in text.splitlines()[0]
    cfg = compose_config([f"experiment={name}"])
    assert cfg.experiment_name == name
    OmegaConf.to_container(cfg, resolve=True)  # every interpolation resolves


def _leaves(node, prefix=()):
    """(path, value) of every leaf of a nested dict."""
    for key, value in node.items():
        if isinstance(value, dict):
            yield from _leaves(value, (*prefix, key))
        else:
            yield (*prefix, key), value


@pytest.mark.parametrize("group", ["data", "train", "logger", "export", "debug"])
def test_every_option_of_every_group_composes(group):
    """Each option file composes, resolves, and is what the job sees: every value it sets is in the config."""
    options = sorted((CONF / group).glob("*.yaml"))
    assert options, f"conf/{group}/ has no options"
    for path in options:
        overrides = [f"{group}={path.stem}"]
        if path.stem == "image_folder":
            overrides.append("data.root=/tmp/somewhere")
        cfg = compose_config(overrides)
        OmegaConf.to_container(cfg, resolve=True)  # every interpolation resolves
        composed = OmegaConf.to_container(cfg, resolve=False)
        own = OmegaConf.to_container(OmegaConf.load(path), resolve=False)
        own.pop("defaults", None)
        package_global = "@package _global_" in path.read_text()
        root = composed if package_global else composed[group]
        checked = 0
        for keys, value in _leaves(own):
            if (group, path.stem, keys) == ("data", "image_folder", ("root",)):
                assert composed["data"]["root"] == "/tmp/somewhere"
                continue
            node = root
            for key in keys:
                node = node[key]
            assert node == value, f"{group}={path.stem}: {'.'.join(keys)} is {node!r}, the file sets {value!r}"
            checked += 1
        assert checked, f"{group}={path.stem} sets nothing"


def test_smoke_debug_shrinks_the_job():
    cfg = compose_config(["debug=smoke"])
    assert cfg.train.epochs == 1 and cfg.data.eval_subset == 256 and not cfg.train.checkpoint


def test_the_classic_zoo_gives_networks_without_batch_norm_their_papers_learning_rate():
    rates = {m: compose_config(["experiment=zoo_classic_fashion_mnist", f"model={m}"]).train.learning_rate
             for m in ("alexnet", "googlenet", "squeezenet1_1", "vgg16_bn", "vgg11")}
    assert rates == {"alexnet": 0.01, "googlenet": 0.01, "squeezenet1_1": 0.02, "vgg16_bn": 0.1, "vgg11": 0.1}
