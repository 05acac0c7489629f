"""Checks every registered network must pass (timm's pattern: a new model is tested by registering it).

Per model, at its documented small-input variant (``spec.small_input_shape`` with ``spec.small_knobs``):
forward shape and finite outputs, also at Fashion-MNIST's 28×28×1; every knob declared with its
choices and each choice changing the graph; a Hydra ``conf/model/<name>.yaml`` per name with exactly
the knobs and their defaults. The slow part (``.keras`` round trip and builtins-only TFLite agreement
in LiteRT) is marked ``zoo_export``. The default run builds one or two networks per family
(``DEFAULT_BUILDS``); ``-m slow`` builds the rest.
"""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
from omegaconf import OmegaConf

from src.models import build_model, get_spec, list_models
from tests.conftest import CONF

#: Too deep to build for every test run (3,600 layers, ~30 s); tests/models/test_resnet.py covers it.
HEAVY = {"resnet1202"}
#: The networks of a family the default run builds (the builds cost 10–60 s per network on 2 cores);
#: the others run under ``-m slow``. A family missing here is built in full by default, so a new family
#: is always tested. Families that share a module with a default-built one are slow-only (an empty set):
#: SE-ResNet and the bottleneck ResNets share resnet.py with ResNet-18 (whose knob test builds its SE
#: placements), DenseNet-121 shares densenet.py with DenseNet-BC-100, SE-Inception the Inception
#: modules; Inception-v4 / -ResNet's small variants cost 6–9 G multiply-adds.
DEFAULT_BUILDS: dict[str, set[str]] = {
    "resnet": {"resnet18"},
    "resnet_cifar": {"resnet20"},
    "se_resnet": set(),
    "vgg": {"vgg11_bn"},
    "densenet": set(),
    "inception": {"googlenet"},
    "inception_v4": set(),
    "inception_resnet": set(),
    "se_inception": set(),
    "igc": {"igc"},
    "squeezenet": {"squeezenet1_1"},
    "mobilenet_v3": {"mobilenet_v3_small"},
    "resnext": {"resnext50_32x4d"},
}


def _built_by_default(name: str) -> bool:
    family = get_spec(name).family
    return family not in DEFAULT_BUILDS or name in DEFAULT_BUILDS[family]


MODELS = [
    n if _built_by_default(n) else pytest.param(n, marks=pytest.mark.slow) for n in list_models() if n not in HEAVY
]
CLASSES = 10


def small_model(name: str, input_shape=None, **knobs) -> keras.Model:
    spec = get_spec(name)
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


@pytest.mark.jax
@pytest.mark.parametrize("name", MODELS)
def test_small_variant_builds_runs_and_is_finite(name):
    spec = get_spec(name)
    # Under JAX (CI's second pass, which checks the ops' portability) one input size is enough, and one
    # compiled forward pass is 3x cheaper than op-by-op dispatch, which compiles every op for its shapes.
    on_jax = keras.backend.backend() == "jax"
    for shape in (spec.small_input_shape,) if on_jax else (spec.small_input_shape, (28, 28, 1)):
        model = small_model(name, shape)
        images = random_images(shape)
        logits = keras.ops.convert_to_numpy(model.predict_on_batch(images) if on_jax else model(images, training=False))
        assert logits.shape == (2, CLASSES), (name, shape)
        assert np.isfinite(logits).all(), (name, shape)


@pytest.mark.parametrize("name", MODELS)
def test_no_two_kernels_start_identical(name):
    # A shared unseeded Keras 3 initializer instance repeats its values: same-shape layers would start equal.
    seen: dict[bytes, str] = {}
    for weight in small_model(name).trainable_weights:
        if len(weight.shape) < 2 or int(np.prod(weight.shape)) < 16:
            continue
        key = keras.ops.convert_to_numpy(weight).tobytes()
        assert key not in seen, f"{name}: {weight.path} starts equal to {seen[key]}"
        seen[key] = weight.path


def test_every_registered_name_has_a_paper_and_a_family():
    for name in list_models():
        spec = get_spec(name)
        assert spec.paper and spec.family, name


@pytest.mark.parametrize("name", list_models())
def test_knob_choices_are_declared_for_every_knob(name):
    spec = get_spec(name)
    knobs = spec.knobs()
    assert set(spec.knob_choices) == set(knobs), f"{name}: declare choices for every knob, no more"
    for knob, choices in spec.knob_choices.items():
        assert len(choices) >= 2, f"{name}.{knob}: at least the default and one alternative"
        assert choices[0] == knobs[knob], f"{name}.{knob}: the first choice must be the default {knobs[knob]!r}"
    for knob in spec.small_knobs:
        assert knob in knobs, f"{name}: small_knobs names {knob!r}, which is not a knob"


@pytest.mark.parametrize("name", MODELS)
def test_every_knob_choice_changes_the_graph(name):
    spec = get_spec(name)
    base = spec.small_knobs
    reference = graph_signature(small_model(name))
    for knob, choices in spec.knob_choices.items():
        if knob in base:
            continue  # the small-input knobs themselves: below
        context = spec.knob_context.get(knob, {})  # e.g. se_reduction is built with an SE unit on
        before = graph_signature(small_model(name, **context)) if context else reference
        for value in choices[1:]:
            assert graph_signature(small_model(name, **context, **{knob: value})) != before, (
                f"{name}: {knob}={value!r} builds the same graph as {knob}={choices[0]!r} (with {context})"
            )
    # The small-input knobs' other values, at the small input where they fit, else (a paper-size stem
    # on a 32-pixel input is refused with a ConfigError) both values at the default input.
    from src.errors import ConfigError

    for knob, small_value in base.items():
        for value in spec.knob_choices[knob]:
            if value == small_value:
                continue
            try:
                changed = graph_signature(small_model(name, **{knob: value})) != reference
            except ConfigError:
                keras.backend.clear_session()
                at_default = build_model(name, **{**base, knob: value})
                keras.backend.clear_session()
                changed = graph_signature(at_default) != graph_signature(build_model(name, **base))
            assert changed, f"{name}: {knob}={value!r} builds the same graph as {knob}={small_value!r}"


def test_conf_model_files_match_the_registry_one_to_one():
    files = {p.stem for p in (CONF / "model").glob("*.yaml")}
    registered = set(list_models())
    assert files - registered == set(), "conf/model files without a registered model"
    assert registered - files == set(), "registered models without conf/model/<name>.yaml"


@pytest.mark.parametrize("name", list_models())
def test_conf_model_file_lists_exactly_the_knobs_with_their_defaults(name):
    cfg = OmegaConf.to_container(OmegaConf.load(CONF / "model" / f"{name}.yaml"), resolve=True)
    assert cfg.pop("name") == name
    knobs = get_spec(name).knobs()
    assert set(cfg) == set(knobs), name
    for key, value in cfg.items():
        default = knobs[key]
        same = list(default) == value if isinstance(default, tuple) else default == value
        assert same, f"{name}.{key}: yaml has {value!r}, the builder's default is {default!r}"


@pytest.mark.zoo_export
@pytest.mark.parametrize("name", MODELS)
def test_keras_round_trip_and_tflite_agree(name, tmp_path):
    from src.export.tflite import convert_to_tflite, verify_tflite

    model = small_model(name)
    images = random_images(model.input_shape[1:], 4)
    expected = keras.ops.convert_to_numpy(model(images, training=False))
    model.save(tmp_path / "m.keras")
    reloaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(reloaded(images, training=False)), expected)
    report = verify_tflite(convert_to_tflite(model, tmp_path / "m.tflite"), model, images)
    # Untrained deep nets (BN statistics still 0/1) have logits up to ~1e14 (ResNet-152): the 1e-4
    # bound is on logits of unit scale, relative above it.
    scale = max(1.0, float(np.abs(expected).max()))
    assert report.max_abs_logit_diff <= 1e-4 * scale, (name, report.max_abs_logit_diff, scale)
    assert report.top1_agreement == 1.0, name
