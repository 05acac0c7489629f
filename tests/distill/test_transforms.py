"""Multi-transform inference's transforms keep the image size and move content as their names say."""

from __future__ import annotations

import numpy as np
import pytest

from src.distill.transforms import Transform, parse_transform, parse_transforms
from src.errors import ConfigError


def _dot(size: int, row: int, col: int) -> np.ndarray:
    image = np.zeros((1, size, size, 1), np.uint8)
    image[0, row, col, 0] = 255
    return image


def _centroid(image: np.ndarray) -> tuple[float, float]:
    weights = image[0, :, :, 0].astype(np.float64)
    rows, cols = np.indices(weights.shape)
    return float((rows * weights).sum() / weights.sum()), float((cols * weights).sum() / weights.sum())


def test_flip_is_its_own_inverse_and_mirrors_columns():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (3, 28, 28, 1), dtype=np.uint8)
    flip = parse_transform("hflip")
    np.testing.assert_array_equal(flip.apply(flip.apply(images)), images)
    moved = flip.apply(_dot(28, 5, 3))
    assert moved[0, 5, 24, 0] == 255 and moved.sum() == 255


def test_shift_moves_content_and_its_opposite_undoes_it_inside():
    moved = parse_transform("shift:2:-3").apply(_dot(10, 4, 5))
    assert moved[0, 6, 2, 0] == 255 and moved.sum() == 255
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (2, 10, 10, 1), dtype=np.uint8)
    back = parse_transform("shift:-2:3").apply(parse_transform("shift:2:-3").apply(images))
    np.testing.assert_array_equal(back[:, :8, 3:], images[:, :8, 3:])  # all but the pixels pushed out of frame


def test_identity_returns_the_images_unchanged():
    images = np.arange(2 * 8 * 8, dtype=np.uint8).reshape(2, 8, 8, 1)
    np.testing.assert_array_equal(parse_transform("identity").apply(images), images)


@pytest.mark.parametrize("scale", [0.8, 1.25])
def test_rescale_keeps_size_and_scales_offsets_from_the_centre(scale):
    size, centre = 28, 13.5
    image = np.zeros((1, size, size, 1), np.uint8)
    image[0, 17:20, 19:22, 0] = 255  # a 3x3 blob centred at (18, 20)
    out = Transform(scale=scale).apply(image)
    assert out.shape == image.shape and out.dtype == np.uint8
    row, col = _centroid(out)
    assert row - centre == pytest.approx(scale * (18 - centre), abs=0.35)
    assert col - centre == pytest.approx(scale * (20 - centre), abs=0.35)


def test_rescale_then_inverse_rescale_recovers_a_smooth_image():
    rows, cols = np.indices((28, 28))
    image = (255 * np.exp(-((rows - 13.5) ** 2 + (cols - 13.5) ** 2) / 60.0)).astype(np.uint8)[None, ..., None]
    there_and_back = Transform(scale=1 / 1.25).apply(Transform(scale=1.25).apply(image))
    inner = slice(4, 24)  # what the 1.25x zoom kept in frame (offsets up to 13.5 / 1.25 from the centre)
    error = np.abs(there_and_back.astype(int) - image.astype(int))[0, inner, inner, 0]
    assert error.max() <= 3  # bilinear twice, rounded to uint8 twice


def test_combinations_parse_and_name_canonically():
    t = parse_transform("scale:1.1+hflip")
    assert t == Transform(1.1, True) and t.name == "hflip+scale:1.1"
    assert parse_transform("shift:0:-1+hflip").name == "hflip+shift:0:-1"
    names = [t.name for t in parse_transforms(["identity", "hflip", "scale:0.9", "hflip+scale:0.9"])]
    assert names == ["identity", "hflip", "scale:0.9", "hflip+scale:0.9"]


@pytest.mark.parametrize("specs", [["rotate:10"], ["scale:9"], [], ["hflip", "hflip"], ["scale:abc"]])
def test_bad_transform_sets_are_config_errors(specs):
    with pytest.raises(ConfigError):
        parse_transforms(specs)
