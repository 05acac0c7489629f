"""``python -m src.bench [key=value ...]``: the benchmark suite (src/bench/suite.py, conf/bench.yaml)."""

from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import hydra  # noqa: E402
from hydra.core.hydra_config import HydraConfig  # noqa: E402
from omegaconf import DictConfig, open_dict  # noqa: E402

from src.errors import SuiteError  # noqa: E402


@hydra.main(config_path="../../conf", config_name="bench", version_base="1.3")
def main(cfg: DictConfig) -> None:
    from src.bench.suite import run_suite

    with open_dict(cfg):
        cfg.overrides = list(HydraConfig.get().overrides.task)
    try:
        run_suite(cfg)
    except SuiteError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
