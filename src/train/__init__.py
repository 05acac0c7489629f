"""Training: `train(cfg)` runs one job (data -> model -> fit -> test -> export), tracked in MLflow."""

from src.train.loop import train

__all__ = ["train"]
