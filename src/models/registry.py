"""Model registry: every network of the zoo by name, with keras.applications' signature conventions.

Families register their names with `register_model`; tests iterate over `list_models()`, so a new
model is tested automatically (timm's pattern).
"""

from __future__ import annotations

import fnmatch
import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import keras

from src.errors import ConfigError, did_you_mean

#: Arguments every builder takes (keras.applications conventions); everything else is a knob.
COMMON_ARGS = ("input_shape", "classes", "include_top", "pooling", "classifier_activation", "name")


@dataclass(frozen=True)
class ModelSpec:
    """A registered network: its builder, the arguments fixed by its name, and its paper."""

    name: str
    builder: Callable[..., keras.Model]
    fixed: dict[str, Any] = field(default_factory=dict)
    family: str = ""
    paper: str = ""
    default_input_shape: tuple[int, int, int] = (224, 224, 3)
    small_input_shape: tuple[int, int, int] = (32, 32, 3)
    #: Knob values that make the network fit ``small_input_shape`` (the documented small-input variant).
    small_knobs: dict[str, Any] = field(default_factory=dict)
    #: Every knob's valid alternatives, first the default; the zoo test builds each and checks that it
    #: changes the graph (a knob that does nothing is a bug).
    knob_choices: dict[str, tuple] = field(default_factory=dict)
    #: Knobs that act only together with other knobs' values (e.g. an SE reduction ratio needs an SE
    #: unit): knob -> the values of the others that the zoo test builds it with.
    knob_context: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: This name's defaults of knobs whose builder default is another name's (one `resnext` builder
    #: serves 32×4d and 64×4d: ``cardinality`` stays a knob of both, with each name's default).
    knob_defaults: dict[str, Any] = field(default_factory=dict)

    def knobs(self) -> dict[str, Any]:
        """Knob name -> default value (builder arguments that are neither common nor fixed)."""
        sig = inspect.signature(self.builder)
        return {
            n: self.knob_defaults.get(n, p.default)
            for n, p in sig.parameters.items()
            if n not in COMMON_ARGS and n not in self.fixed and p.kind == p.KEYWORD_ONLY
        }


_REGISTRY: dict[str, ModelSpec] = {}


def register_model(name: str, builder: Callable[..., keras.Model], **spec: Any) -> None:
    """Register ``name`` -> ``builder(**spec['fixed'], **kwargs)``."""
    if name in _REGISTRY:
        raise ValueError(f"model {name!r} is registered twice")
    _REGISTRY[name] = ModelSpec(name=name, builder=builder, **spec)


def _ensure_families_loaded() -> None:
    import src.models.families  # noqa: F401  (registers every family on import)


def list_models(pattern: str = "*") -> list[str]:
    """Registered names matching a glob pattern, sorted."""
    _ensure_families_loaded()
    return sorted(n for n in _REGISTRY if fnmatch.fnmatch(n, pattern))


def get_spec(name: str) -> ModelSpec:
    _ensure_families_loaded()
    if name not in _REGISTRY:
        raise ConfigError(
            f"Unknown model {name!r}.{did_you_mean(name, _REGISTRY)} "
            f"Registered models: {', '.join(sorted(_REGISTRY))}."
        )
    return _REGISTRY[name]


def build_model(name: str, **kwargs: Any) -> keras.Model:
    """Build a registered network, e.g. ``build_model("resnet20", input_shape=(28, 28, 1), classes=10)``."""
    spec = get_spec(name)
    knobs = spec.knobs()
    valid = set(knobs) | set(COMMON_ARGS)
    for key in kwargs:
        if key not in valid:
            raise ConfigError(
                f"Model {name!r} has no knob {key!r}.{did_you_mean(key, valid)} "
                f"Its knobs: {', '.join(f'{k}={v!r}' for k, v in knobs.items()) or 'none'}; "
                f"common arguments: {', '.join(COMMON_ARGS)}."
            )
    kwargs.setdefault("name", name)
    # Keras walks the functional graph recursively: ResNet-1202 (~3,600 layers) overflows Python's
    # default limit of 1,000 frames.
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 20_000))
    return spec.builder(**spec.fixed, **{**spec.knob_defaults, **kwargs})
