"""The model zoo: `build_model(name, **kwargs)` and `list_models(pattern)`."""

from src.models.registry import build_model, get_spec, list_models, register_model
from src.models.saving import load_model

__all__ = ["build_model", "get_spec", "list_models", "load_model", "register_model"]
