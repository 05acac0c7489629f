"""LeNet-300-100 and LeNet-5 as Deep Compression counts them (Tables 2-3: 266 K and 431 K weights)."""

from __future__ import annotations

import pytest

from src.errors import ConfigError
from src.models import build_model
from src.profiling import count_params


def test_lenet_300_100_layers_and_exact_parameters():
    model = build_model("lenet_300_100")
    assert [tuple(w.shape) for w in model.trainable_weights] == [(784, 300), (300,), (300, 100), (100,), (100, 10), (10,)]
    assert count_params(model).trainable == 266_610


def test_lenet5_layers_and_exact_parameters():
    model = build_model("lenet5")
    shapes = [tuple(w.shape) for w in model.trainable_weights]
    assert shapes == [(5, 5, 1, 20), (20,), (5, 5, 20, 50), (50,), (800, 500), (500,), (500, 10), (10,)]
    assert count_params(model).trainable == 431_080
    assert build_model("lenet5", include_top=False).output_shape == (None, 500)


def test_lenet_refuses_what_does_not_apply():
    with pytest.raises(ConfigError, match="pooling='avg' does not apply"):
        build_model("lenet5", include_top=False, pooling="avg")
    with pytest.raises(ConfigError, match="smaller than the network's minimum"):
        build_model("lenet5", input_shape=(8, 8, 1))
