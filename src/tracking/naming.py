"""Names and descriptions that let a person find runs in the MLflow UI.

- Experiment: the experiment config's ``experiment_name``, else ``<model>_<data>`` (conf/config.yaml).
- Run: ``<model> seed=<seed> [<the overrides that set it apart>]``, from the command's overrides (MLflow's
  own generated names come from the seeded RNG, so every seed-42 run would be called the same).
- Sweep parent: ``<experiment> sweep <time>``.
- Smoke and debug runs carry the tag ``debug=<option>`` and say so in their description.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

#: Overrides left out of a run's name: group choices and fields already in the experiment's name or
#: the name's other parts, and where the job's files go.
_NOT_IN_NAME = ("experiment", "experiment_name", "run_name", "seed", "model", "data", "debug", "logger",
                "export", "scale", "task")
MAX_NAME = 100


def run_name(model: str, seed: Any, overrides: Iterable[str] = ()) -> str:
    """``resnet20 seed=1 point=g3_noshuffle train.epochs=3``: the model, the seed, and the overrides that
    say what the run is (a point's config group by its option name), cut at MAX_NAME characters."""
    parts = [model, f"seed={seed}"]
    for override in overrides:
        key, _, value = override.lstrip("+~").partition("=")
        if key in _NOT_IN_NAME or key.startswith("hydra") or not value:
            continue
        parts.append(f"point={value}" if key.startswith("point/") else f"{key}={value}")
    name = " ".join(parts)
    return name if len(name) <= MAX_NAME else name[: MAX_NAME - 3] + "..."


def hydra_choice(group: str) -> str | None:
    """The option chosen for config group ``group`` in this Hydra run (None outside Hydra or when unset)."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return None
    choice = HydraConfig.get().runtime.choices.get(group)
    return None if choice in (None, "null") else str(choice)


def run_description(cfg: Mapping[str, Any], debug: str | None) -> str:
    """A line for the run's description (MLflow's ``mlflow.note.content``)."""
    data = cfg["data"]
    text = (f"{cfg['model']['name']} on {data['name']} at {data.get('image_size')}px, seed {cfg['seed']}, "
            f"{cfg['train']['epochs']} epochs (experiment {cfg['experiment_name']}).")
    if debug:
        text += f" A debug={debug} run: shrunk, not a result."
    return text


def experiment_description(cfg: Mapping[str, Any], experiment: str | None) -> str:
    """A line for the experiment's description: the command whose runs it holds."""
    if experiment:
        return f"Runs of `python -m src.run experiment={experiment}` (conf/experiment/{experiment}.yaml)."
    return (f"Ad-hoc runs of {cfg['model']['name']} on {cfg['data']['name']} "
            f"(`python -m src.run model={cfg['model']['name']} data={cfg['data']['name']} ...`).")


def debug_tags(debug: str | None) -> dict[str, str]:
    return {"debug": debug} if debug else {}
