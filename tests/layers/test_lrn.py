"""LocalResponseNormalization: Krizhevsky et al. 2012 §3.3 formula, TensorFlow's LRN, serialisation, TFLite builtins."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from src.errors import ConfigError
from src.layers.lrn import LocalResponseNormalization
from src.profiling import count_macs

# Large activations so that the normalisation actually bites (alpha * sum a^2 ~ k).
X = (np.random.default_rng(0).normal(size=(2, 5, 4, 11)) * 60).astype("float32")


def paper_formula(x: np.ndarray, n: int, alpha: float, beta: float, k: float) -> np.ndarray:
    """b_i = a_i / (k + alpha * sum_{j=max(0, i-n/2)}^{min(N-1, i+n/2)} a_j^2)^beta, channel by channel."""
    out = np.empty_like(x, dtype=np.float64)
    channels = x.shape[-1]
    for i in range(channels):
        lo, hi = max(0, i - n // 2), min(channels - 1, i + n // 2)
        s = (x[..., lo : hi + 1].astype(np.float64) ** 2).sum(-1)
        out[..., i] = x[..., i] / (k + alpha * s) ** beta
    return out


@pytest.mark.parametrize("size, alpha, beta, k", [(5, 1e-4, 0.75, 2.0), (3, 1e-3, 0.5, 1.0), (1, 1e-4, 0.75, 2.0), (11, 2e-5, 0.75, 1.0)])
def test_matches_the_paper_formula_and_tensorflow_lrn(size, alpha, beta, k):
    y = keras.ops.convert_to_numpy(LocalResponseNormalization(size, alpha, beta, k)(X))
    np.testing.assert_allclose(y, paper_formula(X, size, alpha, beta, k), rtol=1e-5, atol=1e-5)
    # TF's depth_radius = n // 2 and alpha NOT divided by n: the paper's formula exactly.
    ref = tf.nn.local_response_normalization(X, depth_radius=size // 2, bias=k, alpha=alpha, beta=beta).numpy()
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)
    assert abs(y).max() < abs(X).max() * 0.8  # the test really exercises the denominator


def test_paper_defaults():
    layer = LocalResponseNormalization()
    assert (layer.size, layer.alpha, layer.beta, layer.k) == (5, 1e-4, 0.75, 2.0)


def test_gradient_matches_tensorflow_lrn():
    x = tf.constant(X[:1])
    grads = []
    for fn in (LocalResponseNormalization(), lambda t: tf.nn.local_response_normalization(t, 2, 2.0, 1e-4, 0.75)):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(fn(x) * tf.range(11, dtype=tf.float32))
        grads.append(tape.gradient(loss, x).numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-4, atol=1e-6)


def test_no_weights_no_macs():
    # The config / .keras round trip: tests/layers/test_serialization.py, as for every custom layer.
    inputs = keras.Input((5, 4, 11))
    model = keras.Model(inputs, LocalResponseNormalization(3, 1e-3, 0.5, 1.5, name="lrn")(inputs))
    assert model.count_params() == 0 and count_macs(model).total == 0


@pytest.mark.parametrize("kwargs", [{"size": 4}, {"size": 0}, {"size": 2.5}, {"alpha": -1.0}, {"k": 0.0}])
def test_bad_arguments_raise(kwargs):
    with pytest.raises(ConfigError):
        LocalResponseNormalization(**kwargs)


def test_rank_3_input_raises():
    with pytest.raises(ConfigError, match="height, width, channels"):
        LocalResponseNormalization()(keras.Input((4, 11)))


def test_converts_to_builtin_tflite_ops_and_agrees(tmp_path):
    from src.export import convert_to_tflite, verify_tflite

    inputs = keras.Input((5, 4, 11))
    x = keras.layers.Conv2D(8, 3, padding="same")(inputs)
    x = LocalResponseNormalization()(keras.layers.ReLU()(x) * 40.0)
    model = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Flatten()(x)))
    report = verify_tflite(convert_to_tflite(model, tmp_path / "lrn.tflite"), model, X[..., :11])
    assert not any(op.startswith("Flex") or op == "CUSTOM" for op in report.ops), report.ops
    assert "LOCAL_RESPONSE_NORMALIZATION" not in report.ops  # keras.ops has no way to emit it; we do not need it
    assert report.max_abs_logit_diff <= 1e-4
