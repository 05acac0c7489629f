"""The model zoo: `build_model(name, **kwargs)` and `list_models(pattern)`.

The names below load on first use (PEP 562), so that Keras-free modules of this package
(`src.models.knob_table`, read by the command-line checks) import in milliseconds, not seconds."""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {"build_model": "registry", "get_spec": "registry", "list_models": "registry",
            "register_model": "registry", "load_model": "saving"}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"src.models.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'src.models' has no attribute {name!r}")
