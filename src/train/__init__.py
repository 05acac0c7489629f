"""Training: `train(cfg)` runs one job (data -> model -> fit -> test -> export), tracked in MLflow.

`train` is imported on first use (PEP 562), so that light modules of this package (the
watchdog) load without Keras and TensorFlow."""

from __future__ import annotations

from typing import Any

__all__ = ["train"]


def __getattr__(name: str) -> Any:
    if name == "train":
        from src.train.loop import train

        return train
    raise AttributeError(f"module 'src.train' has no attribute {name!r}")
