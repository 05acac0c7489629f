"""The registered networks at their documented small-input variants, for the zoo-wide tests."""

from __future__ import annotations

import json

import keras
import numpy as np

from src.models import build_model, get_spec, list_models

CLASSES = 10

#: One network per family, the cheapest to build, for the tests that build a network many times (each
#: knob choice; the pooled features without the top). Every network is built, run, round-tripped and
#: exported by tests/models/test_zoo.py either way. A family missing here uses its first network.
REPRESENTATIVES: dict[str, str] = {
    "resnet": "resnet18",
    "resnet_cifar": "resnet20",
    "se_resnet": "se_resnet50",
    "vgg": "vgg11_bn",
    "densenet": "densenet121",
    "densenet_cifar": "densenet_bc_100_12",
    "inception": "googlenet",
    "inception_v4": "inception_v4",
    "inception_resnet": "inception_resnet_v1",
    "se_inception": "se_inception_v2",
    "igc": "igc",
    "squeezenet": "squeezenet1_1",
    "mobilenet_v3": "mobilenet_v3_small",
    "resnext": "resnext50_32x4d",
}


#: Families whose small variant takes minutes to convert to TFLite on 2 cores (hundreds of layers: 402 s for
#: DenseNet-121 under load): their TFLite export runs under ``-m slow``, as before issue 43; their networks
#: are still built, named and round-tripped by default.
SLOW_EXPORT_FAMILIES = frozenset({"se_resnet", "densenet", "inception_v4", "inception_resnet", "se_inception"})


def representative(name: str) -> bool:
    """Whether ``name`` is its family's representative (see ``REPRESENTATIVES``)."""
    family = get_spec(name).family
    first = next(n for n in list_models() if get_spec(n).family == family)
    return REPRESENTATIVES.get(family, first) == name


def narrowest(name: str) -> dict:
    """The narrowest declared ``width_multiplier`` where the network has one (cheaper to build and
    convert; the width is a knob like any other), else nothing."""
    choices = get_spec(name).knob_choices.get("width_multiplier")
    return {"width_multiplier": min(choices)} if choices else {}


def small_model(name: str, input_shape=None, *, clear: bool = True, **knobs) -> keras.Model:
    """``name`` at its small input (``spec.small_input_shape``) with ``spec.small_knobs``, 10 logits."""
    spec = get_spec(name)
    if clear:
        keras.backend.clear_session()
    return build_model(
        name, input_shape=input_shape or spec.small_input_shape, classes=CLASSES, classifier_activation=None,
        **{**spec.small_knobs, **knobs},
    )


def random_images(shape, n: int = 2) -> np.ndarray:
    return np.random.default_rng(0).normal(size=(n, *shape)).astype("float32")


def graph_signature(model: keras.Model) -> str:
    """The model's architecture (layer configs and connectivity) as canonical JSON."""
    return json.dumps(json.loads(model.to_json()), sort_keys=True)
