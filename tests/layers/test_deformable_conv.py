"""DeformableConv2D (Dai et al., ICCV 2017, arXiv:1703.06211, §2.1 eqs. (1)–(4)) against numpy
references of the paper's equations, keras Conv2D, finite differences and LiteRT (tiny inputs)."""

from __future__ import annotations

import ast
import inspect
import itertools
import re

import keras
import numpy as np
import pytest

from src.errors import ConfigError
from src.layers import deformable_conv
from src.layers.deformable_conv import DeformableConv2D
from src.profiling import count_macs

# (strides, dilation_rate, padding): strides 1/2 × dilation 1/2 × same/valid (stride 2 with dilation 2
# is refused, as by Conv2D / tf.nn.convolution).
GEOMETRIES = [
    (s, d, p) for s, d, p in itertools.product((1, 2), (1, 2), ("same", "valid")) if not (s > 1 and d > 1)
]


def _np(t) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(t))


def _geometry(size: int, k: int, s: int, d: int, padding: str) -> tuple[int, int]:
    """Output size and leading pad of one axis, as TensorFlow defines 'same' / 'valid'."""
    span = (k - 1) * d + 1
    if padding == "valid":
        return (size - span) // s + 1, 0
    out = -(-size // s)
    return out, max((out - 1) * s + span - size, 0) // 2


def _bilinear(image: np.ndarray, py: float, px: float) -> np.ndarray:
    """Eqs. (3)–(4) literally: x(p) = Σ_q g(qy, py) g(qx, px) x(q), g(a, b) = max(0, 1 − |a − b|),
    q over every pixel of the image (nothing outside it, i.e. zero there)."""
    h, w, _ = image.shape
    gy = np.maximum(0.0, 1.0 - np.abs(np.arange(h) - py))
    gx = np.maximum(0.0, 1.0 - np.abs(np.arange(w) - px))
    return np.einsum("h,w,hwc->c", gy, gx, image)


def _deformable_reference(x, kernel, bias, offsets, strides, dilation, padding):
    """Eq. (2): y(p0) = Σ_n w(pn) · x(p0 + pn + Δpn), offsets (N, Ho, Wo, 2·K) as (Δy, Δx) per n."""
    n, h, w, _ = x.shape
    kh, kw, _, filters = kernel.shape
    ho, top = _geometry(h, kh, strides, dilation, padding)
    wo, left = _geometry(w, kw, strides, dilation, padding)
    y = np.zeros((n, ho, wo, filters))
    for b, i, j, ky, kx in itertools.product(range(n), range(ho), range(wo), range(kh), range(kw)):
        k = ky * kw + kx
        py = i * strides - top + ky * dilation + offsets[b, i, j, 2 * k]
        px = j * strides - left + kx * dilation + offsets[b, i, j, 2 * k + 1]
        y[b, i, j] += _bilinear(x[b], py, px) @ kernel[ky, kx]
    return y + bias


def _shifted_conv_reference(x, kernel, bias, shifts, strides, dilation, padding):
    """A regular conv whose kernel tap n reads pixel p0 + pn + (dy_n, dx_n) for integer shifts,
    by plain indexing into a wide zero border (no interpolation involved)."""
    n, h, w, _ = x.shape
    kh, kw, _, filters = kernel.shape
    ho, top = _geometry(h, kh, strides, dilation, padding)
    wo, left = _geometry(w, kw, strides, dilation, padding)
    m = 16
    xp = np.pad(x, ((0, 0), (m, m), (m, m), (0, 0)))
    y = np.zeros((n, ho, wo, filters))
    for i, j, ky, kx in itertools.product(range(ho), range(wo), range(kh), range(kw)):
        dy, dx = shifts[ky * kw + kx]
        r = i * strides - top + ky * dilation + dy + m
        c = j * strides - left + kx * dilation + dx + m
        y[:, i, j] += xp[:, r, c] @ kernel[ky, kx]
    return y + bias


def _built(layer: DeformableConv2D, x: np.ndarray) -> DeformableConv2D:
    layer(x)
    return layer


def _randomise_offsets(layer: DeformableConv2D, rng, kernel_scale=0.3, bias_scale=1.5) -> None:
    layer.offset_kernel.assign(rng.normal(scale=kernel_scale, size=layer.offset_kernel.shape).astype(layer.offset_kernel.dtype))
    layer.offset_bias.assign(rng.normal(scale=bias_scale, size=layer.offset_bias.shape).astype(layer.offset_bias.dtype))


@pytest.fixture
def x() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(2, 7, 6, 3)).astype("float32")


@pytest.mark.parametrize("strides, dilation, padding", GEOMETRIES)
def test_zero_offsets_equal_conv2d_with_the_same_kernel(strides, dilation, padding, x):
    layer = _built(DeformableConv2D(4, 3, strides=strides, padding=padding, dilation_rate=dilation), x)
    layer.bias.assign(np.random.default_rng(1).normal(size=4).astype("float32"))
    conv = keras.layers.Conv2D(4, 3, strides=strides, padding=padding, dilation_rate=dilation)
    conv.build(x.shape)
    conv.set_weights([_np(layer.kernel), _np(layer.bias)])
    y = _np(layer(x))
    assert y.shape == tuple(conv.compute_output_shape(x.shape)) == tuple(layer.compute_output_shape(x.shape))
    np.testing.assert_allclose(y, _np(conv(x)), atol=1e-5)


def test_offset_conv_is_zero_initialised(x):
    layer = _built(DeformableConv2D(4, 3, kernel_initializer="he_normal", bias_initializer="ones"), x)
    assert layer.offset_kernel.shape == (3, 3, 3, 18) and layer.offset_bias.shape == (18,)
    assert not np.any(_np(layer.offset_kernel)) and not np.any(_np(layer.offset_bias))
    assert np.any(_np(layer.kernel)) and np.all(_np(layer.bias) == 1)
    assert not np.any(_np(layer.offsets(x)))


@pytest.mark.parametrize("strides, dilation, padding", GEOMETRIES)
def test_integer_offsets_equal_a_shifted_conv(strides, dilation, padding, x):
    layer = _built(DeformableConv2D(4, 3, strides=strides, padding=padding, dilation_rate=dilation), x)
    # A different integer shift per kernel tap, some reading outside the image (zeros there).
    shifts = np.random.default_rng(2).integers(-2, 3, size=(9, 2))
    layer.offset_bias.assign(shifts.reshape(-1).astype("float32"))
    expected = _shifted_conv_reference(x, _np(layer.kernel), _np(layer.bias), shifts, strides, dilation, padding)
    np.testing.assert_allclose(_np(layer(x)), expected, atol=1e-5)


def test_uniform_integer_shift_equals_conv_of_the_shifted_image():
    # A valid 3x3 conv of an image shifted by (1, -2) inside its interior.
    rng = np.random.default_rng(3)
    x = rng.normal(size=(1, 9, 9, 2)).astype("float32")
    layer = _built(DeformableConv2D(3, 3, padding="valid"), x)
    layer.offset_bias.assign(np.tile([1.0, -2.0], 9).astype("float32"))
    conv = keras.layers.Conv2D(3, 3, padding="valid")
    conv.build(x.shape)
    conv.set_weights([_np(layer.kernel), _np(layer.bias)])
    shifted = np.zeros_like(x)
    shifted[:, :-1, 2:] = x[:, 1:, :-2]  # shifted[i, j] = x[i + 1, j - 2]
    y = _np(layer(x))
    np.testing.assert_allclose(y[:, :5, 1:], _np(conv(shifted))[:, :5, 1:], atol=1e-5)


@pytest.mark.parametrize("strides, dilation, padding", GEOMETRIES)
def test_fractional_offsets_match_the_papers_bilinear_sampling(strides, dilation, padding, x):
    rng = np.random.default_rng(4)
    layer = _built(DeformableConv2D(4, 3, strides=strides, padding=padding, dilation_rate=dilation), x)
    _randomise_offsets(layer, rng)
    offsets = _np(layer.offsets(x))
    # The offset field is a plain conv of the input (same geometry, 2·k·k channels), eq. (2)'s Δpn.
    offset_conv = keras.layers.Conv2D(18, 3, strides=strides, padding=padding, dilation_rate=dilation)
    offset_conv.build(x.shape)
    offset_conv.set_weights([_np(layer.offset_kernel), _np(layer.offset_bias)])
    np.testing.assert_allclose(offsets, _np(offset_conv(x)), atol=1e-5)
    assert np.abs(offsets).max() > 2  # some samples land outside the image
    assert np.any(np.abs(offsets - np.round(offsets)) > 0.1)
    expected = _deformable_reference(x, _np(layer.kernel), _np(layer.bias), offsets, strides, dilation, padding)
    np.testing.assert_allclose(_np(layer(x)), expected, atol=2e-5)


def test_bilinear_weights_by_hand_with_zero_outside_the_image():
    # 1x1 kernel of weight 1, offset (-0.5, +0.25): y[i, j] = Σ of the four neighbours of (i − 0.5, j + 0.25)
    # with weights (0.5 · 0.75, 0.5 · 0.25) per row, and zero for rows/columns outside the image.
    x = np.arange(1, 13, dtype="float32").reshape(1, 3, 4, 1)
    layer = _built(DeformableConv2D(1, 1, use_bias=False), x)
    layer.kernel.assign(np.ones((1, 1, 1, 1), "float32"))
    layer.offset_bias.assign(np.array([-0.5, 0.25], "float32"))
    xp = np.pad(x[0, :, :, 0], ((1, 1), (1, 1)))  # index + 1
    expected = np.zeros((3, 4))
    for i, j in itertools.product(range(3), range(4)):
        expected[i, j] = sum(
            wy * wx * xp[i + di + 1, j + dj + 1] for di, wy in ((-1, 0.5), (0, 0.5)) for dj, wx in ((0, 0.75), (1, 0.25))
        )
    np.testing.assert_allclose(_np(layer(x))[0, :, :, 0], expected, rtol=1e-6)
    # Sampling entirely outside the image reads zeros: only the bias is left.
    far = _built(DeformableConv2D(2, 3, bias_initializer="ones"), x)
    far.offset_bias.assign(np.full(18, 50.0, "float32"))
    np.testing.assert_array_equal(_np(far(x)), np.ones((1, 3, 4, 2), "float32"))


def test_gradients_match_finite_differences_in_float64():
    if keras.backend.backend() != "tensorflow":
        pytest.skip("uses tf.GradientTape")
    import tensorflow as tf

    rng = np.random.default_rng(5)
    x = rng.normal(size=(1, 5, 4, 2))
    layer = DeformableConv2D(2, 3, dtype="float64")
    layer(x)
    assert layer.kernel.dtype == "float64"
    # Offsets kept away from integers (where bilinear sampling has kinks) by construction of the bias.
    # Offsets away from integers (where bilinear sampling has kinks): fractional parts near 1/2.
    layer.offset_kernel.assign(rng.normal(scale=0.03, size=layer.offset_kernel.shape))
    layer.offset_bias.assign(rng.uniform(0.3, 0.7, size=18) + rng.integers(-2, 2, size=18))
    frac = _np(layer.offsets(x)) % 1
    assert 1e-3 < frac.min() and frac.max() < 1 - 1e-3  # ≫ the finite-difference step's effect
    weights_out = rng.normal(size=(1, 5, 4, 2))

    compiled = tf.function(lambda: tf.reduce_sum(layer(x) * weights_out))  # reads the variables each call

    def loss() -> float:
        return float(compiled())

    with tf.GradientTape() as tape:
        value = tf.reduce_sum(layer(x) * weights_out)
    grads = dict(zip(("kernel", "offset_kernel", "offset_bias"), tape.gradient(value, [layer.kernel, layer.offset_kernel, layer.offset_bias])))
    eps = 1e-6
    for name, count in (("offset_bias", 18), ("offset_kernel", 24), ("kernel", 12)):
        variable = getattr(layer, name)
        base = _np(variable).copy()
        analytic = np.asarray(tf.convert_to_tensor(grads[name])).reshape(-1)
        for flat in rng.choice(base.size, size=min(count, base.size), replace=False):
            bumped = base.copy().reshape(-1)
            bumped[flat] += eps
            variable.assign(bumped.reshape(base.shape))
            up = loss()
            bumped[flat] -= 2 * eps
            variable.assign(bumped.reshape(base.shape))
            down = loss()
            variable.assign(base)
            numeric = (up - down) / (2 * eps)
            assert abs(numeric - analytic[flat]) <= 1e-6 * max(1.0, abs(numeric)), (name, flat, numeric, analytic[flat])
    assert np.abs(np.asarray(grads["offset_bias"])).max() > 1e-3  # the offsets do learn


def test_count_macs_counts_main_offset_conv_and_sampling():
    inputs = keras.Input((8, 8, 16))
    model = keras.Model(inputs, DeformableConv2D(32, 3, strides=2)(inputs))
    per_position = 9 * 16 * (32 + 18 + 4)
    assert count_macs(model).total == 4 * 4 * per_position


def test_source_uses_keras_ops_only():
    tree = ast.parse(inspect.getsource(deformable_conv))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module)
    assert imported <= {"__future__", "collections.abc", "keras", "src.errors"}, imported
    source = inspect.getsource(deformable_conv)
    for forbidden in (r"\btf\.", r"\bnp\.", r"\bjnp\.", r"\bjax\.", r"\btorch\.", r"keras\.src", r"\bbackend\."):
        assert not re.search(forbidden, source), forbidden


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"filters": 0}, "filters"),
        ({"filters": 2.5}, "filters"),
        ({"filters": 4, "kernel_size": (3, 3, 3)}, "kernel_size"),
        ({"filters": 4, "kernel_size": 0}, "kernel_size"),
        ({"filters": 4, "strides": (1, 0)}, "strides"),
        ({"filters": 4, "dilation_rate": -1}, "dilation_rate"),
        ({"filters": 4, "padding": "causal"}, "padding"),
        ({"filters": 4, "padding": "SAME"}, "padding"),
        ({"filters": 4, "strides": 2, "dilation_rate": 2}, "dilation"),
    ],
)
def test_bad_arguments_raise_config_error(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        DeformableConv2D(**kwargs)


def test_unknown_channel_dimension_raises_config_error():
    with pytest.raises(ConfigError, match="channel"):
        DeformableConv2D(4).build((None, 8, 8, None))


def test_builtins_only_tflite_agrees_with_keras(tmp_path):
    if keras.backend.backend() != "tensorflow":
        pytest.skip("TFLite conversion needs the TensorFlow backend")
    from src.export.tflite import convert_to_tflite, verify_tflite

    rng = np.random.default_rng(7)
    inputs = keras.Input((8, 8, 3))
    layer = DeformableConv2D(4, 3, strides=2, name="dcn")
    y = keras.layers.Flatten()(layer(inputs))
    model = keras.Model(inputs, y)
    _randomise_offsets(layer, rng, kernel_scale=0.5, bias_scale=1.0)
    path = convert_to_tflite(model, tmp_path / "dcn.tflite")
    # Three images through a file exported at batch 1 (resized): each image must read its own pixels.
    report = verify_tflite(path, model, rng.normal(size=(3, 8, 8, 3)).astype("float32"))
    assert {"GATHER", "CONV_2D"} <= set(report.ops)
    assert not any(op.startswith("Flex") or op == "CUSTOM" for op in report.ops)
    assert report.max_abs_logit_diff <= 1e-4
