"""RoI pooling operators (DCN §2.2, R-FCN §2; src/layers/roi_pooling.py) against a loop-by-loop NumPy
reference of the papers' equations, TensorFlow's crop_and_resize, hand-built maps and finite differences."""

from __future__ import annotations

import re

import keras
import numpy as np
import pytest

from src.errors import ConfigError
from src.layers import roi_pooling
from src.layers.roi_pooling import OFFSET_GAMMA, DeformableRoIPooling, PSRoIPooling, roi_pool

pytestmark = pytest.mark.jax


def _np(t) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(t))


def _bilinear(image: np.ndarray, y: float, x: float) -> np.ndarray:
    """DCN eq. (4) at (y, x) in pixel-index coordinates, neighbours outside the map reading zero."""
    h, w, _ = image.shape
    y0, x0 = int(np.floor(y)), int(np.floor(x))
    value = np.zeros(image.shape[-1])
    for qy in (y0, y0 + 1):
        for qx in (x0, x0 + 1):
            if 0 <= qy < h and 0 <= qx < w:
                value += max(0.0, 1 - abs(qy - y)) * max(0.0, 1 - abs(qx - x)) * image[qy, qx]
    return value


def reference(features, boxes, box_indices, k, s, scale=1.0, offsets=None, ps=False) -> np.ndarray:
    """Bin (i, j) of RoI r: the mean over its S×S sample points (shifted by offsets[r, i, j]) of the map
    (for PS pooling, channels c·k² + i·k + j only), one loop per index."""
    c = features.shape[-1] // (k * k) if ps else features.shape[-1]
    out = np.zeros((len(boxes), k, k, c))
    for r, (box, n) in enumerate(zip(boxes, box_indices)):
        y1, x1, y2, x2 = np.asarray(box, float) * scale - 0.5
        bh, bw = (y2 - y1) / k, (x2 - x1) / k
        for i in range(k):
            for j in range(k):
                dy, dx = (0.0, 0.0) if offsets is None else offsets[r, i, j]
                image = features[n][..., [ch * k * k + i * k + j for ch in range(c)]] if ps else features[n]
                total = np.zeros(c)
                for a in range(s):
                    for b in range(s):
                        total += _bilinear(image, y1 + (i + (a + 0.5) / s) * bh + dy, x1 + (j + (b + 0.5) / s) * bw + dx)
                out[r, i, j] = total / (s * s)
    return out


@pytest.fixture
def maps():
    rng = np.random.default_rng(0)
    return rng.normal(size=(2, 9, 11, 3)).astype("float32")


# Boxes in image pixels at spatial_scale 0.5 (a 18×22 image over a 9×11 map): inside, on the border,
# partly and wholly outside the map, degenerate (zero height), and one of each image.
BOXES = np.array([[2, 3, 12, 16], [0, 0, 18, 22], [-6, 14, 8, 30], [30, 30, 40, 44], [5, 5, 5, 13]], "float32")
INDICES = np.array([0, 1, 1, 0, 1], "int32")


@pytest.mark.parametrize("k, s", [(1, 1), (2, 2), (3, 1), (3, 4)])
def test_plain_pooling_matches_the_reference(maps, k, s):
    got = _np(roi_pool(maps, BOXES, INDICES, k, s, spatial_scale=0.5))
    np.testing.assert_allclose(got, reference(maps, BOXES, INDICES, k, s, 0.5), atol=1e-5)
    assert np.all(got[3] == 0)  # wholly outside the map: every neighbour reads the zero border


def test_plain_pooling_equals_crop_and_resize_then_average_inside_the_map(maps):
    """TensorFlow's crop_and_resize samples crop_size points from the box's first to its last corner;
    a box chosen so that they fall on our S×S sample points per bin, averaged per bin, is RoIAlign."""
    if keras.backend.backend() != "tensorflow":
        pytest.skip("compares with tf.image.crop_and_resize")
    import tensorflow as tf

    k, s, scale = 3, 2, 0.5
    boxes = np.array([[2, 3, 12, 16], [4, 2, 15, 20], [3, 3, 9, 7]], "float32")
    indices = np.array([0, 1, 0], "int32")
    h, w = maps.shape[1:3]
    n = k * s
    y1, x1, y2, x2 = (boxes * scale - 0.5).T
    step_y, step_x = (y2 - y1) / n, (x2 - x1) / n
    first_y, first_x = y1 + step_y / 2, x1 + step_x / 2  # the first and last sample points, in pixels
    last_y, last_x = y2 - step_y / 2, x2 - step_x / 2
    normalised = np.stack([first_y / (h - 1), first_x / (w - 1), last_y / (h - 1), last_x / (w - 1)], 1)
    crops = tf.image.crop_and_resize(maps, normalised, indices, (n, n)).numpy()
    expected = crops.reshape(len(boxes), k, s, k, s, -1).mean(axis=(2, 4))
    np.testing.assert_allclose(_np(roi_pool(maps, boxes, indices, k, s, spatial_scale=scale)), expected, atol=1e-5)


def test_offsets_shift_each_bin_as_the_reference(maps):
    rng = np.random.default_rng(1)
    offsets = rng.uniform(-3, 3, size=(len(BOXES), 2, 2, 2)).astype("float32")
    got = _np(roi_pool(maps, BOXES, INDICES, 2, 2, spatial_scale=0.5, offsets=offsets))
    np.testing.assert_allclose(got, reference(maps, BOXES, INDICES, 2, 2, 0.5, offsets), atol=1e-5)


def test_an_integer_offset_moves_a_one_pixel_bin_by_whole_pixels():
    features = np.arange(5 * 6, dtype="float32").reshape(1, 5, 6, 1)
    boxes = np.array([[1, 1, 2, 2]], "float32")  # exactly pixel (1, 1): one bin, one sample at its centre
    plain = _np(roi_pool(features, boxes, [0], 1, 1))
    moved = _np(roi_pool(features, boxes, [0], 1, 1, offsets=np.array([[[[2.0, 3.0]]]], "float32")))
    assert plain.item() == features[0, 1, 1, 0] and moved.item() == features[0, 3, 4, 0]


def test_deformable_roi_pooling_starts_as_plain_pooling(maps):
    layer = DeformableRoIPooling(output_size=3, sampling_ratio=2, spatial_scale=0.5)
    got = _np(layer(maps, BOXES, INDICES))
    assert np.all(_np(layer.offset_fc.kernel) == 0)
    np.testing.assert_allclose(got, reference(maps, BOXES, INDICES, 3, 2, 0.5), atol=1e-5)


def test_deformable_roi_pooling_scales_the_fc_offsets_by_gamma_and_the_roi_size(maps):
    k, s, scale = 2, 2, 0.5
    layer = DeformableRoIPooling(output_size=k, sampling_ratio=s, spatial_scale=scale)
    layer(maps, BOXES, INDICES)
    rng = np.random.default_rng(2)
    kernel = rng.normal(scale=0.5, size=layer.offset_fc.kernel.shape).astype("float32")
    bias = rng.normal(size=layer.offset_fc.bias.shape).astype("float32")
    layer.offset_fc.kernel.assign(kernel)
    layer.offset_fc.bias.assign(bias)
    plain = reference(maps, BOXES, INDICES, k, s, scale)
    normalised = (plain.reshape(len(BOXES), -1) @ kernel + bias).reshape(-1, k, k, 2)
    size = np.stack([BOXES[:, 2] - BOXES[:, 0], BOXES[:, 3] - BOXES[:, 1]], 1) * scale
    offsets = OFFSET_GAMMA * normalised * size[:, None, None, :]
    np.testing.assert_allclose(_np(layer.offsets(maps, BOXES, INDICES)), offsets, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(_np(layer(maps, BOXES, INDICES)), reference(maps, BOXES, INDICES, k, s, scale, offsets), atol=1e-4)
    assert np.abs(offsets).max() > 0.5  # the test moves samples across pixels


def test_ps_pooling_reads_each_bin_from_its_own_class_major_map():
    k, classes = 3, 2
    # Channel c·k² + g holds the constant 100·c + g: bin g = i·k + j of class c must read exactly that.
    values = np.array([100 * c + g for c in range(classes) for g in range(k * k)], "float32")
    maps = np.broadcast_to(values, (1, 12, 12, classes * k * k)).copy()
    got = _np(PSRoIPooling(output_size=k)(maps, np.array([[2, 2, 10, 11]], "float32"), np.array([0], "int32")))
    expected = np.array([[[100 * c + i * k + j for c in range(classes)] for j in range(k)] for i in range(k)])
    np.testing.assert_allclose(got[0], expected, atol=1e-4)


@pytest.mark.parametrize("k, s", [(2, 1), (3, 2)])
def test_ps_pooling_matches_the_reference(k, s):
    rng = np.random.default_rng(3)
    maps = rng.normal(size=(2, 9, 11, 2 * k * k)).astype("float32")
    got = _np(PSRoIPooling(output_size=k, sampling_ratio=s, spatial_scale=0.5)(maps, BOXES, INDICES))
    np.testing.assert_allclose(got, reference(maps, BOXES, INDICES, k, s, 0.5, ps=True), atol=1e-5)


def test_deformable_ps_pooling_takes_its_offsets_from_ps_pooled_offset_fields():
    k, s, scale = 2, 2, 0.5
    rng = np.random.default_rng(4)
    maps = rng.normal(size=(2, 9, 11, 3 * k * k)).astype("float32")
    fields = rng.normal(size=(2, 9, 11, 2 * k * k)).astype("float32")
    layer = PSRoIPooling(output_size=k, sampling_ratio=s, spatial_scale=scale, deformable=True)
    size = np.stack([BOXES[:, 2] - BOXES[:, 0], BOXES[:, 3] - BOXES[:, 1]], 1) * scale
    offsets = OFFSET_GAMMA * reference(fields, BOXES, INDICES, k, s, scale, ps=True) * size[:, None, None, :]
    np.testing.assert_allclose(_np(layer.offsets(fields, BOXES, INDICES)), offsets, atol=1e-5)
    got = _np(layer(maps, BOXES, INDICES, fields))
    np.testing.assert_allclose(got, reference(maps, BOXES, INDICES, k, s, scale, offsets, ps=True), atol=1e-4)
    # Zero offset fields: deformable PS pooling is PS pooling.
    plain = _np(PSRoIPooling(output_size=k, sampling_ratio=s, spatial_scale=scale)(maps, BOXES, INDICES))
    np.testing.assert_allclose(_np(layer(maps, BOXES, INDICES, np.zeros_like(fields))), plain, atol=1e-6)


def _gradient(fn, *args):
    """d sum(fn(*args)) / d args, on the running backend."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        tensors = [tf.constant(a) for a in args]
        with tf.GradientTape() as tape:
            tape.watch(tensors)
            value = fn(*tensors)
        return [np.asarray(g) for g in tape.gradient(value, tensors)]
    if backend == "jax":
        import jax

        return [np.asarray(g) for g in jax.grad(fn, argnums=tuple(range(len(args))))(*args)]
    pytest.skip(f"no gradient helper for the {backend} backend")


def test_gradients_to_features_and_offsets_match_finite_differences_of_the_reference():
    rng = np.random.default_rng(5)
    k, s, scale = 2, 2, 0.5
    features = rng.normal(size=(2, 5, 6, 2))
    boxes = np.array([[1, 2, 8, 10], [-2, 0, 6, 9]], "float64")
    indices = np.array([1, 0], "int32")
    weights = rng.normal(size=(2, k, k, 2))
    # Offsets whose samples stay away from integer coordinates (where bilinear sampling has kinks).
    offsets = rng.uniform(0.3, 0.45, size=(2, k, k, 2)) + rng.integers(-1, 2, size=(2, k, k, 2))

    def loss(f, o):
        return keras.ops.sum(roi_pool(f, boxes, indices, k, s, scale, offsets=o) * weights)

    grad_f, grad_o = _gradient(loss, features, offsets)
    eps = 1e-6

    def numeric(array, index, other, first):
        up, down = array.copy(), array.copy()
        up[index] += eps
        down[index] -= eps
        pair = ((up, other), (down, other)) if first else ((other, up), (other, down))
        values = [np.sum(reference(f, boxes, indices, k, s, scale, o) * weights) for f, o in pair]
        return (values[0] - values[1]) / (2 * eps)

    for index in [tuple(i) for i in rng.integers(0, [2, 5, 6, 2], size=(12, 4))]:
        assert abs(numeric(features, index, offsets, True) - grad_f[index]) < 1e-6
    for index in np.ndindex(offsets.shape):
        assert abs(numeric(offsets, index, features, False) - grad_o[index]) < 1e-6
    assert np.abs(grad_o).max() > 1e-2  # the offsets do learn


def test_round_trip_keeps_config_and_outputs(maps):
    for layer in (DeformableRoIPooling(output_size=2, spatial_scale=0.5, name="droi"),
                  PSRoIPooling(output_size=1, spatial_scale=0.5, name="psroi")):
        layer(maps, BOXES, INDICES)
        if isinstance(layer, DeformableRoIPooling):
            layer.offset_fc.kernel.assign(np.full(layer.offset_fc.kernel.shape, 0.01, "float32"))
        clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
        clone(maps, BOXES, INDICES)
        clone.set_weights(layer.get_weights())
        assert clone.get_config() == layer.get_config()
        np.testing.assert_array_equal(_np(clone(maps, BOXES, INDICES)), _np(layer(maps, BOXES, INDICES)))


@pytest.mark.parametrize("kwargs, message", [
    ({"output_size": 0}, "output_size"), ({"sampling_ratio": 1.5}, "sampling_ratio"),
    ({"spatial_scale": 0}, "spatial_scale"), ({"offset_gamma": -1}, "offset_gamma"),
])
def test_bad_arguments_raise_config_error(kwargs, message):
    for cls in (DeformableRoIPooling, PSRoIPooling):
        with pytest.raises(ConfigError, match=message):
            cls(**kwargs)


def test_ps_pooling_refuses_channels_that_are_not_k_squared_groups(maps):
    with pytest.raises(ConfigError, match="multiple of 4"):
        PSRoIPooling(output_size=2)(maps, BOXES, INDICES)
    with pytest.raises(ConfigError, match="offset_fields"):
        PSRoIPooling(output_size=1, deformable=True)(maps, BOXES, INDICES)


def test_source_uses_keras_ops_only():
    source = open(roi_pooling.__file__).read()
    for forbidden in (r"\btf\.", r"\bnp\.", r"\bjnp\.", r"\bjax\.", r"\btorch\.", r"keras\.src"):
        assert not re.search(forbidden, source), forbidden
