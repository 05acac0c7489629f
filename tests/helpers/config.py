"""The repository's paths, the real Hydra config composed in Python (lightning-hydra-template style),
and a job that trains in a few seconds."""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, open_dict

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "conf"
#: The experiments of conf/experiment/, by name.
EXPERIMENTS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))


def compose_config(overrides: list[str] | None = None, output_dir: Path | None = None) -> DictConfig:
    """The config `python -m src.run <overrides>` would see, with output_dir set."""
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides or [])
    if output_dir is not None:
        with open_dict(cfg):
            cfg.output_dir = str(output_dir)
    return cfg


#: A job that trains in a few seconds: synthetic 16x16 data, 2 epochs, no tracking, no export.
TINY_JOB = [
    "model=resnet20",
    "data=synthetic",
    "data.num_train=128",
    "data.num_val=32",
    "data.num_test=32",
    "data.image_size=16",
    "data.batch_size=32",
    "train.epochs=2",
    "train.warmup_epochs=0",
    "train.jit_compile=false",
    "logger=none",
    "export=none",
]
