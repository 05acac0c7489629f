"""Imports every family module so that each registers its names (one module per paper)."""

import importlib

FAMILY_MODULES = (
    "resnet",
    "alexnet",
    "vgg",
    "googlenet",
    "inception_v2",
    "inception_v3",
    "inception_v4",
    "inception_resnet",
    "xception",
    "densenet",
    "squeezenet",
    "mobilenet_v1",
    "mobilenet_v2",
    "mobilenet_v3",
    "shufflenet_v1",
    "shufflenet_v2",
    "igc",
    "lenet",
    "nasnet",
)

for _module in FAMILY_MODULES:
    importlib.import_module(f"src.models.{_module}")
