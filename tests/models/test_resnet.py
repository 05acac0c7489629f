"""ResNet family against the paper (He et al. 2016) and torchvision / keras.applications figures
. The default-input parameter and multiply-add counts of every
ResNet are in the one golden table (src/models/reference_figures.py, tests/models/test_reference_figures.py);
forward pass, round trip, pooling, names and knobs: tests/models/test_zoo.py."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from src.models import build_model
from src.models.reference_figures import REFERENCE
from src.profiling import count_macs, count_params

#: torchvision 0.29.1's "GFLOPS" (multiply-adds) of ResNet v1.5 (stride on the 3×3) [R].
TORCHVISION_V1_5_MACS = {"resnet50": 4.089e9, "resnet101": 7.801e9, "resnet152": 11.514e9}


@pytest.mark.slow  # paper-size builds
@pytest.mark.parametrize("name", list(TORCHVISION_V1_5_MACS))
def test_v1_5_stride_on_3x3_matches_torchvision_macs(name):
    keras.backend.clear_session()
    model = build_model(name, downsample_in="3x3")
    assert count_params(model).trainable == REFERENCE[name].params
    assert abs(count_macs(model).total / TORCHVISION_V1_5_MACS[name] - 1) < 0.005


@pytest.mark.slow  # two paper-size ResNet-50 builds
def test_keras_applications_resnet50_differs_exactly_by_conv_biases():
    keras.backend.clear_session()
    ours = count_params(build_model("resnet50")).trainable
    theirs_model = keras.applications.ResNet50(weights=None)
    theirs = count_params(theirs_model).trainable
    assert theirs == 25_583_592
    conv_biases = sum(
        int(np.prod(layer.bias.shape))
        for layer in theirs_model.layers
        if isinstance(layer, keras.layers.Conv2D) and layer.use_bias
    )
    assert theirs - ours == conv_biases == 26_560


def test_option_b_adds_projection_parameters():
    a = count_params(build_model("resnet20", shortcut="A")).trainable
    b = count_params(build_model("resnet20", shortcut="B")).trainable
    assert b - a == (16 * 32 + 2 * 32) + (32 * 64 + 2 * 64)  # two 1x1 convs + their BN


def test_cifar_stem_keeps_small_maps_large_enough():
    model = build_model("resnet18", input_shape=(32, 32, 3), stem="small", classes=10)
    assert model.get_layer("stage4_block2_out").output.shape[1:3] == (4, 4)
    assert count_params(model).trainable == REFERENCE["resnet18"].params - 7 * 7 * 3 * 64 + 3 * 3 * 3 * 64 - 513 * 990
