"""What each ablation report compares: the paper's claims as data, and the network each point stands for at
the paper's settings (whose parameters and multiply-adds the report puts beside the paper's table).

Figures are the papers' own tables ([P]) or their authors' repositories ([R]); a point's CPU-scale run is
compared with the paper through the claims, not through absolute accuracy (different data and scale).
Each claim declares the effect it expects at this scale (the paper's relative error reduction, applied to
this run's error of the reference arm: src/report/verdict.py ``Expectation``), or for an "alike" claim the
margin within which it counts as equivalent, each with its source; whether its arms share initial weights
and data order per seed (then the test is paired); and which other experiment tests it with the same runs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from src.report.verdict import Expectation

Point = Mapping[str, Any]  # a point's resolved config (config.yaml), read by dotted keys


def value(cfg: Point, key: str) -> Any:
    node: Any = cfg
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


@dataclass(frozen=True)
class Claim:
    """"``better`` beats ``worse``" (kind ``better``), or "they perform alike" (kind ``similar``): each side
    is a set of config values a point must have."""

    text: str
    better: Mapping[str, Any]
    worse: Mapping[str, Any]
    kind: str = "better"
    expected: Expectation | None = None  # "better": the gain expected at this scale
    margin: Expectation | None = None  # "similar": the equivalence margin, as an effect scaled the same way
    paired: str = ""  # why both arms share initial weights and data order per seed; "" = independent arms
    shared: str = ""  # the other experiment whose report tests this claim with the same runs


@dataclass(frozen=True)
class TrendClaim:
    """"Accuracy rises with x" over ordered points (label -> x, e.g. log2 α); the expected slope per unit x
    is ``expected`` at the reference point's accuracy."""

    text: str
    x: Mapping[str, float]
    x_name: str
    reference: str  # the point whose error scales the expected slope
    expected: Expectation | None = None


@dataclass(frozen=True)
class PaperNetwork:
    """The network a point stands for at the paper's settings."""

    model: str
    knobs: Mapping[str, Any]
    input_shape: tuple[int, int, int] = (224, 224, 3)
    classes: int = 1000


@dataclass(frozen=True)
class AblationSpec:
    title: str
    source: str
    label_keys: tuple[str, ...]  # config keys that name a point, e.g. ("model.groups", "model.shuffle")
    paper_network: Callable[[Point], PaperNetwork]
    paper_figures: Callable[[Point], Mapping[str, str]]  # printed figures of the paper for that point
    claims: tuple[Claim, ...] = field(default_factory=tuple)
    trends: tuple[TrendClaim, ...] = field(default_factory=tuple)


def _knobs(cfg: Point, *keys: str) -> dict[str, Any]:
    return {k: value(cfg, f"model.{k}") for k in keys}


# ShuffleNet v1, Tables 1-3 (0.5x: Table 2's 38 MFLOPs row; Table 3's 0.5x rows). Top-1 error %.
SHUFFLENET_T2 = {0.5: {1: 45.1, 2: 44.4, 3: 43.2, 4: 41.6, 8: 42.3}, 1.0: {1: 33.6, 2: 32.7, 3: 32.6, 4: 32.8, 8: 32.4},
                 0.25: {1: 57.1, 2: 56.8, 3: 55.0, 4: 54.2, 8: 52.7}}
SHUFFLENET_T3_NO_SHUFFLE = {(1.0, 3): 34.5, (1.0, 8): 37.6, (0.5, 3): 45.7, (0.5, 8): 48.1, (0.25, 3): 56.3, (0.25, 8): 56.5}
SHUFFLENET_MFLOPS = {1.0: 140, 0.5: 38, 0.25: 13}


def _shufflenet_figures(cfg: Point) -> dict[str, str]:
    width, groups, shuffle = value(cfg, "model.width_multiplier"), value(cfg, "model.groups"), value(cfg, "model.shuffle")
    error = SHUFFLENET_T2.get(width, {}).get(groups) if shuffle else SHUFFLENET_T3_NO_SHUFFLE.get((width, groups))
    return {"paper MFLOPs": str(SHUFFLENET_MFLOPS.get(width, "–")),
            "paper top-1 err %": "–" if error is None else f"{error}"}


# MobileNet v1 Tables 6 (alpha at 224) and 7 (resolution at alpha = 1): mult-adds (M), params (M), top-1 %.
MOBILENET_T6 = {1.0: (569, 4.2, 70.6), 0.75: (325, 2.6, 68.4), 0.5: (149, 1.3, 63.7), 0.25: (41, 0.5, 50.6)}
MOBILENET_T7 = {224: (569, 4.2, 70.6), 192: (418, 4.2, 69.1), 160: (290, 4.2, 67.2), 128: (186, 4.2, 64.4)}
def _mobilenet_resolution(cfg: Point) -> int:
    """The paper resolution a point stands for: its input size over the scale's base size (28 px at CPU
    scale, 224 at full scale), times 224."""
    return int(round(224 * value(cfg, "data.image_size") / (value(cfg, "scale.resolution.r224") or 224)))


def _mobilenet_figures(cfg: Point) -> dict[str, str]:
    alpha, size = value(cfg, "model.width_multiplier"), _mobilenet_resolution(cfg)
    row = MOBILENET_T6.get(alpha) if size == 224 else (MOBILENET_T7.get(size) if alpha == 1.0 else None)
    if row is None:
        return {"paper mult-adds (M)": "–", "paper params (M)": "–", "paper top-1 %": "–"}
    return {"paper mult-adds (M)": str(row[0]), "paper params (M)": str(row[1]), "paper top-1 %": str(row[2])}


# SENet Table 14 (placement, SE-ResNet-50; top-1 err %) and Table 10 (reduction ratio; top-1 err %, params).
SENET_T14 = {"standard": 22.28, "pre": 22.23, "post": 22.78, "identity": 22.20, "none": 23.30}
SENET_T10 = {2: (22.29, "45.7 M"), 4: (22.25, "35.7 M"), 8: (22.26, "30.7 M"), 16: (22.28, "28.1 M"),
             32: (22.72, "26.9 M")}


def _se_network(cfg: Point) -> PaperNetwork:
    return PaperNetwork("se_resnet50", {"se_position": value(cfg, "model.se_position"),
                                        "se_reduction": value(cfg, "model.se_reduction") or 16})


def _se_placement_figures(cfg: Point) -> dict[str, str]:
    return {"paper top-1 err %": str(SENET_T14.get(value(cfg, "model.se_position"), "–"))}


def _se_reduction_figures(cfg: Point) -> dict[str, str]:
    if value(cfg, "model.se_position") == "none":
        return {"paper top-1 err %": "23.30", "paper params": "25.6 M"}
    error, params = SENET_T10.get(value(cfg, "model.se_reduction"), ("–", "–"))
    return {"paper top-1 err %": str(error), "paper params": params}


#: Why a claim's arms share initial weights and data order per seed (tests/report/test_ablation_pairing.py
#: builds both arms with one seed and compares every weight).
SAME_LAYERS = ("the same layers created in the same order, so the same initial weights per seed, and the same "
               "subset, data order and augmentation")
SE_GAIN = Expectation(22.28, 23.30, "SENet Table 10: ResNet-50 23.30 → SE-ResNet-50 (r = 16) 22.28 % top-1 error")
#: "Alike" means a difference smaller than SE's own gain at this scale: below what adding SE at all buys.
SE_MARGIN = Expectation(22.28, 23.30, "SE's own gain (SENet Table 10: 23.30 → 22.28 % error) at this scale: "
                                      "a difference below what adding SE buys counts as alike")

SPECS: dict[str, AblationSpec] = {
    "shufflenet_groups": AblationSpec(
        title="ShuffleNet v1: group count and channel shuffle",
        source="Zhang et al. 2018, ShuffleNet, Table 2 (group count at equal complexity) and Table 3 (shuffle)",
        label_keys=("ablation_point",),
        paper_network=lambda cfg: PaperNetwork("shufflenet_v1", _knobs(cfg, "groups", "width_multiplier", "shuffle")),
        paper_figures=_shufflenet_figures,
        claims=(
            Claim("group convolution helps at equal complexity: g=3 beats g=1 (0.5×: 43.2 vs 45.1 % error)",
                  {"ablation_point": "g3"}, {"ablation_point": "g1"},
                  expected=Expectation(43.2, 45.1, "ShuffleNet Table 2, 0.5×: g=1 45.1 → g=3 43.2 % error")),
            Claim("g=8 beats g=1 (0.5×: 42.3 vs 45.1 % error)", {"ablation_point": "g8"}, {"ablation_point": "g1"},
                  expected=Expectation(42.3, 45.1, "ShuffleNet Table 2, 0.5×: g=1 45.1 → g=8 42.3 % error")),
            Claim("channel shuffle helps at g=3 (Table 3, 0.5×: 43.2 vs 45.7 % error)",
                  {"ablation_point": "g3"}, {"ablation_point": "g3_noshuffle"},
                  expected=Expectation(43.2, 45.7, "ShuffleNet Table 3, 0.5× g=3: 45.7 → 43.2 % error"),
                  paired="the shuffle has no weights: " + SAME_LAYERS),
            Claim("channel shuffle helps at g=8 (Table 3, 0.5×: 42.3 vs 48.1 % error)",
                  {"ablation_point": "g8"}, {"ablation_point": "g8_noshuffle"},
                  expected=Expectation(42.3, 48.1, "ShuffleNet Table 3, 0.5× g=8: 48.1 → 42.3 % error"),
                  paired="the shuffle has no weights: " + SAME_LAYERS),
        ),
        trends=(
            TrendClaim("accuracy rises with the group count (Table 2, 0.5×: 45.1 % error at g=1 → 42.3 % at g=8)",
                       {"g1": 0.0, "g2": 1.0, "g3": math.log2(3), "g4": 2.0, "g8": 3.0}, "log2 g", "g1",
                       Expectation(42.3, 45.1, "ShuffleNet Table 2, 0.5×: g=1 → g=8, over 3 doublings", per=3)),
        ),
    ),
    "mobilenet_alpha_rho": AblationSpec(
        title="MobileNet v1: width multiplier α and resolution multiplier ρ",
        source="Howard et al. 2017, MobileNets, Table 6 (α at 224) and Table 7 (ρ at α = 1)",
        label_keys=("ablation_point",),
        paper_network=lambda cfg: PaperNetwork(
            "mobilenet_v1", _knobs(cfg, "width_multiplier"), (_mobilenet_resolution(cfg),) * 2 + (3,)),
        paper_figures=_mobilenet_figures,
        claims=(
            Claim("accuracy drops with α: α=1 beats α=0.5 (70.6 vs 63.7 %)",
                  {"ablation_point": "alpha100"}, {"ablation_point": "alpha050"},
                  expected=Expectation(29.4, 36.3, "MobileNet Table 6: α = 0.5 63.7 → α = 1 70.6 % top-1")),
            Claim("α=0.5 beats α=0.25 (63.7 vs 50.6 %)", {"ablation_point": "alpha050"}, {"ablation_point": "alpha025"},
                  expected=Expectation(36.3, 49.4, "MobileNet Table 6: α = 0.25 50.6 → α = 0.5 63.7 % top-1")),
            Claim("accuracy drops with ρ: 224 beats 128 (70.6 vs 64.4 %)",
                  {"ablation_point": "alpha100"}, {"ablation_point": "rho128"},
                  expected=Expectation(29.4, 35.6, "MobileNet Table 7: 128 px 64.4 → 224 px 70.6 % top-1"),
                  paired="the input size changes no weight: " + SAME_LAYERS),
        ),
        trends=(
            TrendClaim("accuracy rises with α (Table 6: 50.6 % at α=0.25 → 70.6 % at α=1)",
                       {"alpha025": -2.0, "alpha050": -1.0, "alpha075": math.log2(0.75), "alpha100": 0.0},
                       "log2 α", "alpha025",
                       Expectation(29.4, 49.4, "MobileNet Table 6: α = 0.25 → 1, over 2 doublings", per=2)),
            TrendClaim("accuracy rises with ρ (Table 7: 64.4 % at 128 px → 70.6 % at 224 px)",
                       {"rho128": 128 / 224, "rho160": 160 / 224, "rho192": 192 / 224, "alpha100": 1.0}, "ρ",
                       "rho128", Expectation(29.4, 35.6, "MobileNet Table 7: ρ = 128/224 → 1", per=96 / 224)),
        ),
    ),
    "se_placement": AblationSpec(
        title="SE block placement relative to the residual addition",
        source="Hu et al., SENet (TPAMI), Table 14 (SE-ResNet-50), baseline ResNet-50 of Table 10",
        label_keys=("model.se_position",),
        paper_network=_se_network,
        paper_figures=_se_placement_figures,
        claims=(
            Claim("SE helps: standard beats no SE (22.28 vs 23.30 % error)", {"model.se_position": "standard"},
                  {"model.se_position": "none"}, expected=SE_GAIN,
                  shared="se_reduction (r=16 vs none: the same configs and seeds, bit-identical runs)"),
            Claim("SE after the addition (post) trains worse than standard (22.78 vs 22.28 % error)",
                  {"model.se_position": "standard"}, {"model.se_position": "post"},
                  expected=Expectation(22.28, 22.78, "SENet Table 14: SE-POST 22.78 → standard 22.28 % error"),
                  paired=SAME_LAYERS),
            Claim("SE-PRE performs like standard (22.23 vs 22.28 % error)", {"model.se_position": "pre"},
                  {"model.se_position": "standard"}, kind="similar", margin=SE_MARGIN),
            Claim("SE-Identity performs like standard (22.20 vs 22.28 % error)", {"model.se_position": "identity"},
                  {"model.se_position": "standard"}, kind="similar", margin=SE_MARGIN, paired=SAME_LAYERS),
        ),
    ),
    "se_reduction": AblationSpec(
        title="SE reduction ratio r",
        source="Hu et al., SENet (TPAMI), Table 10 (SE-ResNet-50)",
        label_keys=("ablation_point",),
        paper_network=_se_network,
        paper_figures=_se_reduction_figures,
        claims=(
            Claim("r=16 performs like r=2 at far fewer parameters (22.28 vs 22.29 % error)",
                  {"ablation_point": "r16"}, {"ablation_point": "r2"}, kind="similar", margin=SE_MARGIN),
            Claim("SE at r=16 beats no SE (22.28 vs 23.30 % error)", {"ablation_point": "r16"}, {"ablation_point": "none"},
                  expected=SE_GAIN,
                  shared="se_placement (standard vs none: the same configs and seeds, bit-identical runs)"),
        ),
        trends=(
            TrendClaim("accuracy falls slowly as r grows (Table 10: 22.29 % error at r=2 → 22.72 % at r=32)",
                       {"r2": -1.0, "r4": -2.0, "r8": -3.0, "r16": -4.0, "r32": -5.0}, "−log2 r", "r32",
                       Expectation(22.29, 22.72, "SENet Table 10: r = 32 → 2, over 4 halvings", per=4)),
        ),
    ),
    "igc_partitions": AblationSpec(
        title="IGC: primary (L) and secondary (M) partitions at a fixed parameter budget",
        source="Zhang et al. 2017, Interleaved Group Convolutions, §5 (the partition study; its CIFAR table was "
               "not read from the paper, so no paper figures are printed)",
        label_keys=("ablation_point",),
        paper_network=lambda cfg: PaperNetwork("igc", _knobs(cfg, "primary_partitions", "secondary_partitions", "depth"),
                                               (32, 32, 3), 10),
        paper_figures=lambda cfg: {},
        claims=(
            Claim("interleaving (L=8, M=5) beats a plain 3×3 convolution (L=1) at the same budget",
                  {"ablation_point": "L8M5"}, {"ablation_point": "L1M15"},
                  expected=Expectation(29.40, 30.58, "IGC authors' README (ImageNet, depth 18, equal parameters): "
                                                     "ResNet C=69 30.58 → IGC-L16M16 29.40 % top-1 error")),
            Claim("interleaving (L=8, M=5) beats the Xception-like extreme (M=1) at the same budget",
                  {"ablation_point": "L8M5"}, {"ablation_point": "L56M1"}),
        ),
    ),
}

#: An ablation's quick variant, ``conf/experiment/<name>_quick.yaml``: its short budget (about 45 minutes on 2
#: cores), judged by the same claims, and labelled in its report as a look that cannot decide them.
QUICK_SUFFIX = "_quick"


def ablation_name(experiment: str) -> str:
    """The ablation an experiment tests: its own name, or a quick variant's ablation (``se_placement_quick``
    → ``se_placement``); an experiment that is no ablation keeps its name (not in `SPECS`)."""
    base = experiment.removesuffix(QUICK_SUFFIX)
    return base if experiment.endswith(QUICK_SUFFIX) and base in SPECS else experiment


def is_quick(experiment: str) -> bool:
    return ablation_name(experiment) != experiment

