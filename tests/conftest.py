"""Shared fixtures: composing the real Hydra config in Python (lightning-hydra-template style)."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pytest  # noqa: E402
from hydra import compose, initialize_config_dir  # noqa: E402
from omegaconf import DictConfig, open_dict  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"


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


@pytest.fixture
def tiny_job() -> list[str]:
    return list(TINY_JOB)


@pytest.fixture
def tracking_uri(tmp_path, monkeypatch) -> str:
    """A throw-away SQLite MLflow store, selected through $MLFLOW_TRACKING_URI."""
    uri = f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    (tmp_path / "mlruns").mkdir()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri
