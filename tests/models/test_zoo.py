"""Checks every registered network must pass (timm's pattern: a new model is tested by registering it).

Each zoo-wide property is checked here once, at the network's documented small-input variant
(``spec.small_input_shape`` with ``spec.small_knobs``, the narrowest width where there is a width knob):

- every network: forward shape and finite logits, independent initial kernels, layer names in the
  name scheme and an exact ``.keras`` round trip (under ``KERAS_BACKEND=jax`` the forward pass only,
  of one network per family);
- every network: builtins-only TFLite agreement in LiteRT (marked ``zoo_export``), by default for one
  network per family except the families whose conversion takes minutes on 2 cores
  (tests/helpers/zoo.py ``SLOW_EXPORT_FAMILIES``), the rest under ``-m slow``;
- one network per family (tests/helpers/zoo.py ``REPRESENTATIVES``; the others under ``-m slow``), as
  these build it many times: softmax by default and features without the top pooled as asked, at
  Fashion-MNIST's 28×28×1, with the same names in every build; every knob choice changing the graph;
- every network's knobs declared with their choices, and a Hydra ``conf/model/<name>.yaml`` with
  exactly the knobs and their defaults.

The paper-size (ImageNet) figures are checked once, in tests/models/test_reference_figures.py (slow).
"""

from __future__ import annotations

import re

import keras
import numpy as np
import pytest
from omegaconf import OmegaConf

from src.errors import ConfigError
from src.models import build_model, get_spec, list_models
from tests.helpers.config import CONF
from tests.helpers.zoo import (
    CLASSES,
    SLOW_EXPORT_FAMILIES,
    graph_signature,
    narrowest,
    random_images,
    representative,
    small_model,
)


def _every(name: str):
    """Every registered network; ResNet-1202's ~3,600 layers take minutes to convert to TFLite: slow.
    CI's second pass under JAX (marker ``jax``) runs the forward pass of one network per family."""
    marks = [pytest.mark.slow] if name == "resnet1202" else []
    if representative(name):
        marks.append(pytest.mark.jax)
    return pytest.param(name, marks=marks)


EVERY = [_every(n) for n in list_models()]


def _exported(name: str):
    slow = name == "resnet1202" or not representative(name) or get_spec(name).family in SLOW_EXPORT_FAMILIES
    return pytest.param(name, marks=[pytest.mark.slow] if slow else [])


EXPORTED = [_exported(n) for n in list_models()]
#: One network per family by default, the others under ``-m slow``.
PER_FAMILY = [n if representative(n) else pytest.param(n, marks=pytest.mark.slow) for n in list_models()]
#: Lower-case words and numbers joined by underscores (``stage2_block1_1_conv``, ``fire3_expand3x3``,
#: ``mixed5b``), never a Keras auto name (``conv2d_7``: a layer built without ``name=``, which would
#: change with what was built before it).
NAME = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)*")


def _auto_name(layer: keras.layers.Layer) -> bool:
    """Whether the name is the one Keras gives a layer built without ``name=`` (keras.src.utils.naming):
    its class in snake case and, from the second such layer in the session on, a counter."""
    auto = re.sub(r"\W+", "", type(layer).__name__)
    auto = re.sub("([a-z])([A-Z])", r"\1_\2", re.sub("(.)([A-Z][a-z]+)", r"\1_\2", auto)).lower()
    return bool(re.fullmatch(rf"{re.escape(auto)}_\d+", layer.name))


def _names_outside_the_scheme(model: keras.Model) -> list[str]:
    return [layer.name for layer in model.layers if not NAME.fullmatch(layer.name) or _auto_name(layer)]


def test_the_name_check_catches_keras_auto_names_and_other_spellings():
    keras.backend.clear_session()
    inputs = keras.Input((8, 8, 3), name="input")
    x = keras.layers.Conv2D(4, 3, name="stem_conv")(inputs)
    x = keras.layers.BatchNormalization()(keras.layers.Conv2D(4, 3)(x))
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.GlobalAveragePooling2D(name="Head-Pool")(x)
    # The first unnamed layer of a class in a session ("conv2d") is indistinguishable from a chosen name;
    # the second gets a counter. Every network repeats its blocks, so a block without names is caught.
    assert _names_outside_the_scheme(keras.Model(inputs, x)) == ["batch_normalization_1", "Head-Pool"]


def _logits(model: keras.Model, images: np.ndarray) -> np.ndarray:
    return keras.ops.convert_to_numpy(model(images, training=False))


@pytest.mark.parametrize("name", EVERY)
def test_small_variant_runs_and_round_trips(name, tmp_path):
    model = small_model(name, **narrowest(name))
    images = random_images(model.input_shape[1:], 4)
    if keras.backend.backend() == "jax":
        # CI's second pass checks the ops' portability: one compiled forward pass (3x cheaper than
        # op-by-op dispatch, which compiles every op for its shapes); no TFLite under JAX.
        logits = keras.ops.convert_to_numpy(model.predict_on_batch(images))
        assert logits.shape == (4, CLASSES) and np.isfinite(logits).all(), name
        return
    expected = _logits(model, images)
    assert expected.shape == (4, CLASSES) and np.isfinite(expected).all(), name

    bad = _names_outside_the_scheme(model)
    assert not bad, f"{name}: layer names outside the scheme: {bad[:10]}"

    # A shared unseeded Keras 3 initializer instance repeats its values: same-shape layers would start equal.
    seen: dict[bytes, str] = {}
    for weight in model.trainable_weights:
        if len(weight.shape) < 2 or int(np.prod(weight.shape)) < 16:
            continue
        key = keras.ops.convert_to_numpy(weight).tobytes()
        assert key not in seen, f"{name}: {weight.path} starts equal to {seen[key]}"
        seen[key] = weight.path

    model.save(tmp_path / "m.keras")
    reloaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    np.testing.assert_array_equal(_logits(reloaded, images), expected)


@pytest.mark.zoo_export
@pytest.mark.parametrize("name", EXPORTED)
def test_small_variant_exports_to_builtins_only_tflite(name, tmp_path):
    if keras.backend.backend() != "tensorflow":
        pytest.skip("the TFLite converter needs the TensorFlow backend")
    from src.export.tflite import convert_to_tflite, verify_tflite

    model = small_model(name, **narrowest(name))
    images = random_images(model.input_shape[1:], 4)
    expected = _logits(model, images)
    report = verify_tflite(convert_to_tflite(model, tmp_path / "m.tflite"), model, images)
    # Untrained deep nets (BN statistics still 0/1) have logits up to ~1e14 (ResNet-152): the 1e-4
    # bound is on logits of unit scale, relative above it.
    scale = max(1.0, float(np.abs(expected).max()))
    assert report.max_abs_logit_diff <= 1e-4 * scale, (name, report.max_abs_logit_diff, scale)
    assert report.top1_agreement == 1.0, name


@pytest.mark.parametrize("name", PER_FAMILY)
def test_at_fashion_mnist_size_softmax_by_default_and_features_pooled_as_asked(name):
    """At 28×28×1: softmax probabilities by default (keras.applications); include_top=False gives the
    feature map (pooling=None), its global average ("avg") or maximum ("max") over the positions, with
    the same layer names in every build (no auto names that depend on what the session built before)."""
    shape = (28, 28, 1)
    images = random_images(shape)
    keras.backend.clear_session()
    probabilities = _logits(build_model(name, input_shape=shape, classes=CLASSES, **get_spec(name).small_knobs), images)
    assert probabilities.shape == (2, CLASSES) and np.isfinite(probabilities).all(), name
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, rtol=1e-5)
    features_model = small_model(name, shape, include_top=False)
    if get_spec(name).family == "lenet":  # no spatial features at the top: pooling is refused by name
        assert features_model.output.shape == (None, features_model.output.shape[-1])
        with pytest.raises(ConfigError, match="pooling='avg' does not apply"):
            small_model(name, shape, include_top=False, pooling="avg")
        return
    features = _logits(features_model, images)
    assert features.ndim == 4 and np.isfinite(features).all(), (name, features.shape)
    names = [layer.name for layer in features_model.layers]
    for pooling, reduce in (("avg", np.mean), ("max", np.max)):
        pooled_model = small_model(name, shape, clear=False, include_top=False, pooling=pooling)
        assert [layer.name for layer in pooled_model.layers][: len(names)] == names, f"{name}: names changed"
        pooled_model.set_weights(features_model.get_weights())
        np.testing.assert_allclose(_logits(pooled_model, images), reduce(features, axis=(1, 2)), rtol=1e-5, atol=1e-6)


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


@pytest.mark.parametrize("name", PER_FAMILY)
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
