"""The papers' ImageNet input recipes on encoded images: uint8 (S, S, 3) out, normalised later.

* Training, "Inception crop" (Szegedy et al. 2015, §8; as the TensorFlow Model Garden and timm
  implement it): a box of area (0.08, 1) of the image and aspect (3/4, 4/3) from
  `stateless_sample_distorted_bounding_box` with 10 attempts, a centre crop when no attempt fits,
  only that window decoded (`decode_and_crop_jpeg`), resized to S×S, flipped at random.
* Evaluation: the centre ``crop_pct`` × short side (0.875 = 224/256), decoded the same fused way,
  resized to S×S.

Random draws are stateless, keyed by the caller's (seed, epoch, example) seed, so a resumed job sees
the crops an uninterrupted one would. Non-JPEG bytes (ImageNet's PNG named .JPEG) are routed by
`tf.io.is_jpeg` to a full `decode_image` and the same window.
"""

from __future__ import annotations

from dataclasses import dataclass

import tensorflow as tf

from src.errors import ConfigError, did_you_mean


@dataclass(frozen=True)
class Recipe:
    """A training crop: the box's area and aspect ranges, the attempts before the centre-crop fallback."""

    area: tuple[float, float]
    aspect: tuple[float, float]
    attempts: int


#: Named training crops (``data.recipe``). ``inception``: the Model Garden's / timm's default.
#: ``inception_light``: "less aggressive scale augmentation" for small models, which ShuffleNet v1 §4 and
#: MobileNet v1 §4 report without numbers; the 0.25 lower bound is this suite's choice, not the papers'.
#: ``center``: no random crop, the evaluation crop (with the flip, if on).
RECIPES = {
    "inception": Recipe(area=(0.08, 1.0), aspect=(3 / 4, 4 / 3), attempts=10),
    "inception_light": Recipe(area=(0.25, 1.0), aspect=(3 / 4, 4 / 3), attempts=10),
    "center": None,
}


def get_recipe(name: str) -> Recipe | None:
    if name not in RECIPES:
        raise ConfigError(f"data.recipe={name!r} is unknown; use one of {list(RECIPES)}.{did_you_mean(str(name), RECIPES)}")
    return RECIPES[name]


def _center_window(shape: tf.Tensor, crop_pct: float) -> tf.Tensor:
    """[y, x, h, w] of the centred square of side crop_pct × short side."""
    h, w = shape[0], shape[1]
    side = tf.cast(tf.cast(tf.minimum(h, w), tf.float32) * crop_pct, tf.int32)
    side = tf.maximum(side, 1)
    return tf.stack([(h - side + 1) // 2, (w - side + 1) // 2, side, side])


def _random_window(shape: tf.Tensor, seed: tf.Tensor, recipe: Recipe, crop_pct: float) -> tf.Tensor:
    begin, size, _ = tf.image.stateless_sample_distorted_bounding_box(
        shape, bounding_boxes=tf.constant([0.0, 0.0, 1.0, 1.0], tf.float32, [1, 1, 4]), seed=seed,
        min_object_covered=recipe.area[0], aspect_ratio_range=recipe.aspect, area_range=recipe.area,
        max_attempts=recipe.attempts, use_image_if_no_bounding_boxes=True,
    )
    window = tf.stack([begin[0], begin[1], size[0], size[1]])
    # No attempt fit: the op returns the whole image; the references take the centre crop instead.
    failed = tf.reduce_all(tf.equal(size[:2], shape[:2]))
    return tf.where(failed, _center_window(shape, crop_pct), window)


def _decode_window(encoded: tf.Tensor, window_of, jpeg_only: bool = False) -> tf.Tensor:
    """Decode only ``window_of(shape)`` of the image: fused for JPEG, full decode then crop otherwise.
    ``jpeg_only``: the source guarantees JPEG bytes, so the routing (a `tf.cond` per image) is skipped."""

    def jpeg() -> tf.Tensor:
        window = window_of(tf.io.extract_jpeg_shape(encoded))
        return tf.io.decode_and_crop_jpeg(encoded, window, channels=3)

    def other() -> tf.Tensor:
        image = tf.io.decode_image(encoded, channels=3, expand_animations=False)
        w = window_of(tf.shape(image))
        return image[w[0]: w[0] + w[2], w[1]: w[1] + w[3]]

    image = jpeg() if jpeg_only else tf.cond(tf.io.is_jpeg(encoded), jpeg, other)
    image.set_shape([None, None, 3])
    return image


def _finish(image: tf.Tensor, size: int, channels: int) -> tf.Tensor:
    image = tf.image.resize(image, (size, size), method="bilinear")  # within [0, 255]: no clipping needed
    image = tf.saturate_cast(image + 0.5, tf.uint8)  # rounded
    if channels == 1:
        image = tf.saturate_cast(tf.reduce_mean(tf.cast(image, tf.float32), -1, keepdims=True) + 0.5, tf.uint8)
    return image


def train_image(encoded: tf.Tensor, seed: tf.Tensor, size: int, channels: int, recipe: Recipe | None,
                crop_pct: float, flip: bool, jpeg_only: bool = False) -> tf.Tensor:
    """One training image: the recipe's random crop (or the centre crop), resize, optional flip."""
    if recipe is None:
        image = _decode_window(encoded, lambda shape: _center_window(shape, crop_pct), jpeg_only)
    else:
        image = _decode_window(encoded, lambda shape: _random_window(shape, seed, recipe, crop_pct), jpeg_only)
    image = _finish(image, size, channels)
    if flip:
        image = tf.image.stateless_random_flip_left_right(image, seed=tf.random.experimental.stateless_fold_in(seed, 1))
    return image


def eval_image(encoded: tf.Tensor, size: int, channels: int, crop_pct: float, jpeg_only: bool = False) -> tf.Tensor:
    """One evaluation image: the centre crop_pct × short side, resized to size × size."""
    return _finish(_decode_window(encoded, lambda shape: _center_window(shape, crop_pct), jpeg_only), size, channels)


def check_crop_pct(crop_pct: float) -> float:
    if isinstance(crop_pct, bool) or not isinstance(crop_pct, (int, float)) or not 0.0 < crop_pct <= 1.0:
        raise ConfigError(f"data.crop_pct must be in (0, 1] (0.875 = 224/256, the papers' centre crop), got {crop_pct!r}.")
    return float(crop_pct)
