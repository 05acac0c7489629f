"""Sweep folders as a finished (or killed) shufflenet_groups ablation leaves them, for the report tests."""

from __future__ import annotations

import json
from pathlib import Path

import yaml


def write_point(sweep: Path, index: int, point: str, groups: int, shuffle: bool, seed: int, accuracy: float | None) -> Path:
    """Job folder ``sweep/<index>`` of ablation point ``point``; ``accuracy`` None: killed before its results."""
    folder = sweep / str(index)
    folder.mkdir(parents=True)
    cfg = {"seed": seed, "ablation_point": point, "model": {"name": "shufflenet_v1", "groups": groups,
                                                           "width_multiplier": 0.25, "shuffle": shuffle}}
    (folder / "config.yaml").write_text(yaml.safe_dump(cfg))
    (folder / "job.json").write_text(json.dumps({"status": "finished" if accuracy else "killed",
                                                 "git_commit": "0123456789abcdef"}))
    if accuracy is not None:
        (folder / "results.json").write_text(json.dumps({"test_accuracy": accuracy, "params_trainable": 60000,
                                                         "macs": 2.5e6, "wall_seconds": 100.0}))
        (folder / "history.csv").write_text(f"epoch,loss,val_accuracy\n0,1.2,0.5\n1,0.8,{accuracy:.3f}\n")
    return folder


def shufflenet_groups_sweep(tmp_path: Path) -> Path:
    """Three points (g1, g3, g3_noshuffle) × three seeds finished, and a killed g8."""
    sweep = tmp_path / "multirun" / "shufflenet_groups" / "t0"
    index = 0
    for point, groups, shuffle, base in [("g1", 1, True, 0.80), ("g3", 3, True, 0.85), ("g3_noshuffle", 3, False, 0.84)]:
        for seed in (1, 2, 3):
            write_point(sweep, index, point, groups, shuffle, seed, base + 0.002 * seed)
            index += 1
    write_point(sweep, index, "g8", 8, True, 1, None)  # killed
    return sweep
