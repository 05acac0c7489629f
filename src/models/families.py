"""Imports every family module so that each registers its names."""

from src.models import resnet  # noqa: F401
