"""Which model knobs the user set, so that ``model_variant=auto`` never overwrites them.

A knob is explicit when the command line names it (``model.stem=small``, read from Hydra's record of
this run's overrides) or when its value differs from the model config file's (an experiment, a sweep
point or a recorded config set it). Without Hydra (a config built in Python) only the second applies.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"


def _command_line_knobs() -> set[str]:
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return set()
    knobs = set()
    for override in HydraConfig.get().overrides.task:
        key = override.split("=", 1)[0].lstrip("+")
        if key.startswith("model.") and "=" in override:
            knobs.add(key.split(".")[1])
    return knobs


def _model_file(cfg: DictConfig) -> Path:
    """conf/model/<option>.yaml of this run (Hydra's choice of the model group, else the model's name)."""
    from hydra.core.hydra_config import HydraConfig

    option = None
    if HydraConfig.initialized():
        option = HydraConfig.get().runtime.choices.get("model")
    return CONF_DIR / "model" / f"{option or cfg.model.name}.yaml"


def explicit_knobs(cfg: DictConfig) -> set[str]:
    """Names of the knobs in ``cfg.model`` that the user set."""
    knobs = OmegaConf.to_container(cfg.model, resolve=True)
    path = _model_file(cfg)
    changed = set()
    if path.is_file():  # a model without a config file: only the command line tells
        written = OmegaConf.to_container(OmegaConf.load(path), resolve=False)
        changed = {k for k, v in knobs.items() if k != "name" and (k not in written or written[k] != v)}
    return changed | (_command_line_knobs() & set(knobs))
