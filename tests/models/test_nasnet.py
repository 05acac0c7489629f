"""NASNet-A (4 @ 1056) (Zoph et al. 2018, arXiv:1707.07012) against keras.applications' NASNetMobile and Table 2."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from src.errors import ConfigError
from src.models import build_model
from src.models.nasnet import NORMAL_CELL, REDUCTION_CELL, cell_plan
from src.profiling import count_macs, count_params

# keras.applications NASNetMobile(weights=None) at 224 (paper_tables §3.2 [C]): trainable, non-trainable.
KERAS_PARAMS = (5_289_978, 36_738)


@pytest.fixture(scope="module")
def nasnet():
    keras.backend.clear_session()
    return build_model("nasnet_mobile")


def test_params_equal_keras_applications_and_macs_match_table_2(nasnet):
    params = count_params(nasnet)
    assert (params.trainable, params.non_trainable) == KERAS_PARAMS
    assert params.total == 5_326_716
    macs = count_macs(nasnet).total
    assert 563.5e6 <= macs < 564.5e6, f"{macs / 1e6:.1f} M multiply-adds; Table 2 prints 564 M"  # 563.6 M


def test_cells_halve_the_map_and_end_at_7x7x1056(nasnet):
    # 224 → 111 (3×3/2 valid stem) → 56 → 28 (stem cells) → 28, 14, 7 (stages); normal 6F, reduction 4F wide.
    expect = {"stem_reduce1": (56, 44), "stem_reduce2": (28, 88), "stage1_normal4": (28, 264),
              "stage2_reduce": (14, 352), "stage2_normal1": (14, 528), "stage3_reduce": (7, 704),
              "stage3_normal4": (7, 1056)}
    for cell, (size, width) in expect.items():
        assert nasnet.get_layer(f"{cell}_concat").output.shape[1:] == (size, size, width), cell


def test_one_builder_loop_reads_the_cell_tables(nasnet):
    plan = cell_plan(4, 1056, "imagenet")
    assert [c.kind for _, c, _ in plan] == ["reduce"] * 2 + ["normal"] * 4 + (["reduce"] + ["normal"] * 4) * 2
    # Every block of every cell has its add, named from its table position.
    for cell_name, cell, _ in plan:
        for b in range(1, len(cell.blocks) + 1):
            nasnet.get_layer(f"{cell_name}_block{b}_add")
    # Reduction ops on the cell inputs are strided, on earlier blocks not (Fig. 4 right).
    assert nasnet.get_layer("stage2_reduce_block1_left_sep1").strides == (2, 2)
    assert nasnet.get_layer("stage2_reduce_block5_left_sep1").strides == (1, 1)  # sep3x3 on b1
    assert nasnet.get_layer("stage2_reduce_block2_left_maxpool").strides == (2, 2)
    assert len(NORMAL_CELL.blocks) == len(REDUCTION_CELL.blocks) == 5


def test_layer_names_are_deterministic():
    small = {"input_shape": (32, 32, 3), "classes": 10, "stem": "small"}
    keras.backend.clear_session()
    first = [layer.name for layer in build_model("nasnet_mobile", **small).layers]
    keras.backend.clear_session()
    assert first == [layer.name for layer in build_model("nasnet_mobile", **small).layers]
    assert "stage1_normal1_block1_left_sep2_bn" in first and "stage3_normal4_concat" in first


def test_small_variant_keeps_7x7_maps_at_fashion_mnist_size():
    keras.backend.clear_session()
    model = build_model("nasnet_mobile", input_shape=(28, 28, 1), classes=10, stem="small")
    assert model.get_layer("stage3_normal4_concat").output.shape[1:] == (7, 7, 1056)
    # The first cell's prev is the 32-wide stem: its identity (block 3) projects it to F = 44 (TF-slim's rule).
    assert model.get_layer("stage1_normal1_block3_right_proj_conv").filters == 44


@pytest.mark.parametrize("knob, value", [("normal_cells", 0), ("penultimate_filters", 1000),
                                         ("penultimate_filters", 1056.0), ("stem", "tiny")])
def test_bad_knob_values_raise_config_error_naming_the_knob(knob, value):
    with pytest.raises(ConfigError, match=knob):
        build_model("nasnet_mobile", **{knob: value})


@pytest.mark.slow
def test_same_weights_and_outputs_as_keras_applications():
    """keras.applications' NASNetMobile built here (weights=None, no download): the same weights in the same
    order, and with its weights copied in (and its BN epsilon 1e-3), the same logits."""
    keras.backend.clear_session()
    theirs = keras.applications.NASNetMobile(weights=None)
    ours = build_model("nasnet_mobile")
    assert count_params(ours) == count_params(theirs)
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    assert count_macs(ours).total == count_macs(theirs).total

    shape = (64, 64, 3)  # any size ≥ 32 px: the same structure, a cheaper forward pass
    keras.backend.clear_session()
    theirs = keras.applications.NASNetMobile(weights=None, input_shape=shape, classes=10, classifier_activation=None)
    ours = build_model("nasnet_mobile", input_shape=shape, classes=10, classifier_activation=None)
    rng = np.random.default_rng(0)
    weights = []
    for w in theirs.weights:
        value = rng.normal(scale=0.1, size=w.shape).astype("float32")
        weights.append(np.abs(value) + 0.5 if w.path.endswith(("gamma", "moving_variance")) else value)
    theirs.set_weights(weights)
    ours.set_weights(weights)
    for layer in ours.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.epsilon = 1e-3
    x = rng.normal(size=(2, *shape)).astype("float32")
    expected = keras.ops.convert_to_numpy(theirs(x, training=False))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(ours(x, training=False)), expected, rtol=1e-5, atol=1e-5)
