"""Data distillation (Radosavovic et al., CVPR 2018, "Data Distillation: Towards Omni-Supervised
Learning"), adapted to classification: a teacher trained on the labelled part predicts on the unlabelled
part under several geometric transforms, the ensembled predictions become hard pseudo-labels above a
score threshold, and a student is retrained on labelled + pseudo-labelled data (src/distill/job.py)."""

from __future__ import annotations

from typing import Any


def distill(cfg) -> dict[str, Any]:
    """Run the distillation job of ``cfg`` (lazy import: the package itself stays light)."""
    from src.distill.job import distill as run

    return run(cfg)


__all__ = ["distill"]
