"""The ablation experiments: every point composes to the network it names, and scale=full composes to
the paper's setting and trains a step on a tiny ImageNet-format folder."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from src.report.ablation_specs import SPECS
from tests.conftest import CONF, compose_config
from tests.data.test_image_folder import make_folder

POINT_EXPERIMENTS = sorted(p.name for p in (CONF / "point").iterdir() if p.is_dir())


def test_every_ablation_has_an_experiment_and_a_report_spec():
    experiments = {p.stem for p in (CONF / "experiment").glob("*.yaml")}
    assert set(SPECS) <= experiments
    assert set(POINT_EXPERIMENTS) <= set(SPECS)


@pytest.mark.parametrize("experiment", POINT_EXPERIMENTS)
def test_each_point_sets_its_knobs_and_names_itself(experiment):
    seen = set()
    for path in sorted((CONF / "point" / experiment).glob("*.yaml")):
        cfg = compose_config([f"experiment={experiment}", f"point/{experiment}={path.stem}"])
        resolved = OmegaConf.to_container(cfg, resolve=True)
        assert resolved["ablation_point"] == path.stem
        knobs = (tuple(sorted(resolved["model"].items())), resolved["data"]["image_size"])
        assert knobs not in seen, f"{path.stem} builds the same network as another point"
        seen.add(knobs)


def test_mobilenet_points_follow_the_scale_resolution_table():
    cpu = compose_config(["experiment=mobilenet_alpha_rho", "point/mobilenet_alpha_rho=rho160"])
    full = compose_config(["experiment=mobilenet_alpha_rho", "point/mobilenet_alpha_rho=rho160", "scale=full",
                           "data.root=/tmp/x"])
    assert cpu.data.image_size == 20 and full.data.image_size == 160


def test_scale_full_replaces_the_cpu_settings():
    cfg = compose_config(["experiment=shufflenet_groups", "scale=full", "data.root=/data/imagenet"])
    assert cfg.data.name == "image_folder" and cfg.data.image_size == 224 and cfg.data.channels == 3
    assert cfg.data.train_subset is None and cfg.train.epochs == 90 and cfg.model_variant == "paper"
    assert cfg.model.width_multiplier == 0.5 and cfg.ablation_point == "g3"  # the ablation itself is kept


@pytest.mark.slow
def test_scale_full_trains_a_smoke_step_on_a_tiny_image_folder(tmp_path):
    from src.train import train

    root = make_folder(tmp_path / "imagenet", per_class=6, size=40)
    make_folder(root, per_class=2, size=40, sub="test")
    cfg = compose_config(["experiment=shufflenet_groups", "scale=full", f"data.root={root}", "debug=smoke",
                          "data.batch_size=4", "logger=none"], tmp_path / "job")
    results = train(cfg)
    assert results["macs"] > 30e6  # the 224-px network (0.5x ShuffleNet, ~37 M MACs), not the 28-px one
