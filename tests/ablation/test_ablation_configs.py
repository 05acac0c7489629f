"""The ablation experiments: every point composes to the network it names, and scale=full composes to
the paper's setting and trains a step on a tiny ImageNet-format folder."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from src.report.ablation_specs import SPECS
from tests.helpers.config import CONF, compose_config

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
    assert cfg.data.name == "imagenet_folder" and cfg.data.image_size == 224 and cfg.data.channels == 3
    assert cfg.data.train_subset is None and cfg.train.epochs == 90 and cfg.model_variant == "paper"
    assert cfg.model.width_multiplier == 0.5 and cfg.ablation_point == "g3"  # the ablation itself is kept


def _leaves(node: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in node.items():
        if isinstance(value, dict):
            out.update(_leaves(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


#: Keys an experiment may set that scale=full leaves alone, and why they are not CPU-scale settings.
RECIPE_NEUTRAL = {
    "data.resize": "how in-memory images are resized; streamed data is cropped by data.recipe instead",
    "data.subset_seed": "which training subset; scale=full trains on no subset (data.train_subset: null)",
}


@pytest.mark.parametrize("experiment", sorted(SPECS))
def test_every_ablation_at_scale_full_keeps_no_cpu_scale_setting(experiment):
    """Each data.*/train.* value an ablation sets for CPU scale is replaced by scale=full's, or is recipe-neutral."""
    import yaml

    own = yaml.safe_load((CONF / "experiment" / f"{experiment}.yaml").read_text())
    full_scale = _leaves({k: v for k, v in yaml.safe_load((CONF / "scale" / "full.yaml").read_text()).items()
                          if k in ("data", "train")})
    cfg = OmegaConf.to_container(compose_config([f"experiment={experiment}", "scale=full", "data.root=/data/imagenet"]),
                                 resolve=False)
    flat = _leaves({"data": cfg["data"], "train": cfg["train"]})
    assert cfg["data"]["name"] == "imagenet_folder" and cfg["model_variant"] == "paper"
    assert cfg["data"]["train_subset"] is None and cfg["data"]["eval_subset"] is None
    for key in _leaves({k: own[k] for k in ("data", "train") if k in own}):
        if key in full_scale:
            assert flat[key] == full_scale[key], f"{experiment}: {key} keeps its CPU-scale value {flat[key]!r}"
        else:
            assert key in RECIPE_NEUTRAL, f"{experiment} sets {key}, which scale=full does not replace"
    resolved = OmegaConf.to_container(compose_config([f"experiment={experiment}", "scale=full", "data.root=/x"]),
                                      resolve=True)
    assert resolved["data"]["image_size"] >= 128


def _point_cfg(experiment: str, point: str) -> dict:
    return OmegaConf.to_container(compose_config([f"experiment={experiment}", f"point/{experiment}={point}"]), resolve=True)


@pytest.mark.parametrize("point", ["alpha100", "alpha075", "alpha050", "alpha025", "rho192", "rho160", "rho128"])
def test_mobilenet_report_counts_match_tables_6_and_7(point):
    from src.report.ablation import paper_counts
    from src.report.ablation_specs import MOBILENET_T6, MOBILENET_T7

    cfg = _point_cfg("mobilenet_alpha_rho", point)
    params, macs = paper_counts(SPECS["mobilenet_alpha_rho"], cfg)
    paper = MOBILENET_T6[cfg["model"]["width_multiplier"]] if point.startswith("alpha") else MOBILENET_T7[int(point[3:])]
    assert macs / 1e6 == pytest.approx(paper[0], rel=0.03)  # Table 6 prints 325 M for α=0.75; ours (TF-slim's) 317 M
    assert params / 1e6 == pytest.approx(paper[1], abs=0.05)


@pytest.mark.parametrize("point", ["g1", "g2", "g3", "g4", "g8"])
def test_shufflenet_report_counts_match_table_2(point):
    from src.report.ablation import paper_counts

    _, macs = paper_counts(SPECS["shufflenet_groups"], _point_cfg("shufflenet_groups", point))
    assert macs / 1e6 == pytest.approx(38, rel=0.05)  # Table 2's 0.5x row: 38 MFLOPs at every g


@pytest.mark.slow
@pytest.mark.parametrize("point, paper_params", [("r2", 45.7), ("r4", 35.7), ("r8", 30.7), ("r16", 28.1), ("r32", 26.9),
                                                 ("none", 25.6)])
def test_se_reduction_report_counts_match_table_10(point, paper_params):
    from src.report.ablation import paper_counts

    params, _ = paper_counts(SPECS["se_reduction"], _point_cfg("se_reduction", point))
    assert params / 1e6 == pytest.approx(paper_params, rel=0.005)  # Table 10 prints ~0.1 M more at r = 4, 8, 32 (resnet.py)


@pytest.mark.parametrize("point", ["L1M15", "L2M10", "L4M7", "L8M5", "L12M4", "L56M1"])
def test_igc_points_share_one_parameter_budget(point):
    from src.profiling import count_params
    from src.train.loop import build_from_config

    cfg = compose_config(["experiment=igc_partitions", f"point/igc_partitions={point}"])
    params = count_params(build_from_config(cfg, (28, 28, 1), 10)).trainable
    assert 0.21e6 <= params <= 0.245e6


@pytest.mark.parametrize("experiment", sorted(SPECS))
def test_each_seed_draws_its_own_training_subset(experiment):
    """Seeds vary the subset as well as the initialisation, so a verdict holds beyond one subset; both arms
    of a paired claim still share it (same seed)."""
    cfg = compose_config([f"experiment={experiment}", "seed=7"])
    assert cfg.data.train_subset and cfg.data.subset_seed == 7


@pytest.mark.parametrize("experiment", sorted(SPECS))
def test_each_ablation_has_a_quick_variant_that_differs_only_in_budget_and_seeds(experiment):
    """conf/experiment/<name>_quick.yaml: the same points, recipe and claims at the short budget."""
    full = OmegaConf.to_container(compose_config([f"experiment={experiment}"]), resolve=True)
    quick = OmegaConf.to_container(compose_config([f"experiment={experiment}_quick"]), resolve=True)
    assert quick["experiment_name"] == f"{experiment}_quick"
    budget = {("data", "train_subset"), ("train", "epochs")}
    for group in ("model", "data", "train", "export"):
        for key in set(full[group]) | set(quick[group]):
            if (group, key) not in budget:
                assert full[group].get(key) == quick[group].get(key), f"{experiment}_quick changes {group}.{key}"
    text = (CONF / "experiment" / f"{experiment}_quick.yaml").read_text()
    assert "CANNOT DECIDE" in text and "seed: 1,2,3" in text
