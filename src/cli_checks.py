"""Command-line overrides checked before Hydra runs, so that a typo gets one line with a "did you mean".

Hydra reports an unknown config option or field as "Key 'epoch' is not in struct" or only a config
search path; here each ``group=option`` is checked against ``conf/<group>/`` and each ``a.b=value``
against the composed config, with the closest names suggested (`src.errors.did_you_mean`). Overrides that add or delete
(``+``, ``++``, ``~``), Hydra's own (``hydra.*``) and sweep functions are left to Hydra.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from pathlib import Path

from src.errors import did_you_mean

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"
#: Flags after which Hydra reads another config than conf/: the checks do not apply.
OTHER_CONFIG_FLAGS = ("--config-path", "-cp", "--config-name", "-cn", "--config-dir", "-cd", "--experimental-rerun")


def _overrides(args: Sequence[str]) -> list[tuple[str, str]] | None:
    """(key, value) of the plain overrides in ``args``; None when another config is selected."""
    pairs = []
    for arg in args:
        if arg.split("=")[0] in OTHER_CONFIG_FLAGS:
            return None
        if arg.startswith("-") or "=" not in arg or arg[0] in "+~":
            continue
        key, value = arg.split("=", 1)
        if key.startswith("hydra") or key.startswith("/") or "@" in key:
            continue
        pairs.append((key, value))
    return pairs


def unwritable_folder(path: str) -> str | None:
    """Why ``path`` cannot be created or written (its nearest existing ancestor is a file or read-only), else None."""
    if "${" in path:
        return None  # interpolated (e.g. ${now:...}): Hydra resolves it
    ancestor = Path(path).absolute()
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        return f"{ancestor} is a file, not a folder"
    if not os.access(ancestor, os.W_OK | os.X_OK):
        return f"{ancestor} is not writable"
    return None


def check_overrides(args: Sequence[str], conf_dir: Path = CONF_DIR) -> str | None:
    """The error message for the first override naming an unknown config option or field or an output
    folder that cannot be written, else None."""
    for arg in args:
        key, _, value = arg.partition("=")
        if key in ("hydra.run.dir", "hydra.sweep.dir") and value:
            problem = unwritable_folder(value)
            if problem:
                return f"cannot write the job's output folder {value}: {problem}. Choose another {key}=..."
    pairs = _overrides(args)
    if not pairs:
        return None
    # config groups, nested ones included (point/<experiment>: an ablation's points)
    groups = {str(p.relative_to(conf_dir)) for p in conf_dir.rglob("*") if p.is_dir() and any(p.glob("*.yaml"))}
    selections = []
    for key, value in pairs:
        if key not in groups:
            continue
        options = sorted(p.stem for p in (conf_dir / key).glob("*.yaml"))
        if "(" in value or value == "null":  # sweep functions (choice(...), range(...)) or "no option"
            continue
        for option in value.split(","):
            if option not in options:
                return (f"Unknown {key} '{option}'.{did_you_mean(option, options)} "
                        f"Available {key} options: {', '.join(options)} (conf/{key}/).")
        selections.append(f"{key}={value.split(',')[0]}")
    fields = [(k, v) for k, v in pairs if k not in groups]
    if not fields:
        return None

    from hydra import compose, initialize_config_dir
    from omegaconf import DictConfig, OmegaConf

    try:
        with initialize_config_dir(config_dir=str(conf_dir), version_base="1.3"):
            cfg = compose(config_name="config", overrides=selections)
    except Exception:  # noqa: BLE001 — whatever fails here, Hydra reports it itself in a moment
        return None
    for key, _ in fields:
        node, path = cfg, []
        for part in key.split("."):
            if not isinstance(node, DictConfig):
                break
            if part not in node.keys():  # not `in node`: OmegaConf says False for a MISSING (???) field
                where = ".".join(path) or "the top level"
                full = ".".join([*path, part])
                hint = did_you_mean(full, [".".join([*path, str(k)]) for k in node.keys()])
                return (f"Unknown config field '{full}'.{hint} "
                        f"Fields of {where}: {', '.join(str(k) for k in node.keys())}. "
                        f"(To add a new field on purpose: +{key}=...)")
            if OmegaConf.is_missing(node, part):  # a mandatory field the user sets now: nothing below it
                break
            node, path = node[part], [*path, part]
    return None


#: Hydra flags after which nothing runs (print the config, help, completion): values are not checked.
INFO_FLAGS = ("--cfg", "-c", "--info", "-i", "--help", "-h", "--hydra-help", "--resolve", "--shell-completion", "-sc")
#: A sweep with more points than this is checked one swept value at a time (the others at their first value).
MAX_CHECKED_POINTS = 12


def sweep_points(overrides: Sequence[str], sweep_params: dict | None) -> list[list[str]]:
    """The override lists of a sweep's points, as Hydra's BasicSweeper forms them (the config's
    ``hydra.sweeper.params`` first, then the command line); beyond MAX_CHECKED_POINTS, those that vary one
    swept value from the first point."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    params = [f"{k}={v}" for k, v in (sweep_params or {}).items()]
    parsed = OverridesParser.create().parse_overrides([*params, *overrides])
    points = BasicSweeper.split_arguments(parsed, None)[0]
    if len(points) > MAX_CHECKED_POINTS:
        first = points[0]
        points = [p for p in points if sum(a != b for a, b in zip(p, first)) <= 1]
    return points


def _is_structural(override, groups: set[str]) -> bool:
    """Whether an override selects a config group, adds, deletes or moves a node, or is Hydra's own (so the
    config must be composed again), rather than setting a field's value."""
    key = override.key_or_group
    return (override.is_add() or override.is_delete() or override.is_force_add() or override.package is not None
            or key in groups or "/" in key or key.startswith("hydra"))


def _composed_points(args: Sequence[str], conf_dir: Path) -> tuple[list[tuple[str, object]], bool] | None:
    """(what names each point, its composed config) of a single job or a sweep, and whether it is a sweep;
    None when something does not compose (Hydra reports that itself in a moment)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf import OmegaConf

    overrides = [a for a in args if not a.startswith("-")]
    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
        fixed = [a for a, o in zip(overrides, parsed) if not o.is_sweep_override()]
        swept = {o.get_key_element() for o in parsed if o.is_sweep_override()}
        with initialize_config_dir(config_dir=str(conf_dir), version_base="1.3"):
            base = compose(config_name="config", overrides=fixed, return_hydra_config=True)
            multirun = "-m" in args or "--multirun" in args or str(base.hydra.get("mode")) == "RunMode.MULTIRUN"
            if not multirun:
                return [("", base)], False
            params = base.hydra.sweeper.get("params")
            params = OmegaConf.to_container(params) if params else {}
            swept |= set(params)
            groups = {str(p.relative_to(conf_dir)) for p in conf_dir.rglob("*") if p.is_dir() and any(p.glob("*.yaml"))}
            composed: dict[tuple[str, ...], object] = {}  # one compose per choice of config groups: ~0.2 s each
            points = []
            for point in sweep_points(overrides, params):
                parsed_point = OverridesParser.create().parse_overrides(point)
                structural = [o.input_line for o in parsed_point if _is_structural(o, groups)]
                if tuple(structural) not in composed:
                    composed[tuple(structural)] = compose(config_name="config", overrides=structural)
                cfg = copy.deepcopy(composed[tuple(structural)])
                for o in parsed_point:  # plain field values, set as Hydra sets them after composing
                    if not _is_structural(o, groups):
                        OmegaConf.update(cfg, o.key_or_group, o.value(), merge=True)
                points.append((" ".join(o for o in point if o.split("=")[0] in swept), cfg))
            return points, True
    except Exception:  # noqa: BLE001 — whatever fails here, Hydra reports it itself in a moment
        return None


def check_values(args: Sequence[str], conf_dir: Path = CONF_DIR) -> str | None:
    """The schema's one-line refusal (`src.config_schema`) of the config these arguments compose, for a
    sweep of each point's, else None."""
    if _overrides(args) is None or any(a.split("=")[0] in INFO_FLAGS for a in args):
        return None
    from src.config_schema import validate_config
    from src.errors import ConfigError

    composed = _composed_points(args, conf_dir)
    if composed is None:
        return None
    points, multirun = composed
    for where, cfg in points:
        try:
            validate_config(cfg)
        except ConfigError as exc:
            return f"sweep point {where}: {exc}" if multirun and where else str(exc)
    return None
