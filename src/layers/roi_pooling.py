"""RoI pooling operators of Deformable ConvNets (Dai et al., ICCV 2017, arXiv:1703.06211, §2.2) and
R-FCN (Dai et al., NIPS 2016, arXiv:1605.06409, §2): bilinear RoI pooling, deformable RoI pooling,
position-sensitive (PS) RoI pooling and deformable PS RoI pooling, given feature maps and boxes.

A RoI of size w×h is divided into k×k bins; bin (i, j) is the mean of the features sampled at an S×S
grid of points inside it (S = ``sampling_ratio``), read by bilinear interpolation (DCN eq. (3)–(4);
the released DCN code samples ``sample_per_part`` points per bin the same way). Deformable pooling
shifts every point of bin (i, j) by one offset Δp_ij (DCN eq. (5)). The offsets are learned as
normalised offsets Δp̂_ij, from the plainly pooled features through an fc layer (RoI pooling) or by
PS-pooling a conv branch's offset fields (PS RoI pooling), and scaled by the RoI's size:
Δp_ij = γ · Δp̂_ij ∘ (h, w), γ = 0.1 (§2.2). The fc starts at zero, so training starts from plain pooling.
PS RoI pooling (R-FCN eq. (1)) reads bin (i, j) of class c from its own score map: of k²·C channels,
channel ``(c·k + i)·k + j`` (class-major, as in R-FCN's and DCN's released code); the per-class vote
(the mean over the bins) is left to the caller.

Geometry (written down because implementations differ): boxes are (y1, x1, y2, x2) in input-image
pixels, with the box's image given by ``box_indices``; ``spatial_scale`` maps them onto the feature map
(1/16 at output stride 16), and feature pixel (r, c) sits at image point ((r + 0.5)/scale, (c + 0.5)/scale)
(Detectron2's ``aligned=True``). Neighbours outside the feature map read zero, as in `DeformableConv2D`,
and every bin averages all of its S² samples (the released MXNet code skips samples outside the map and
averages the rest; both agree inside it). Offsets are in feature-map pixels.

``keras.ops`` only (TensorFlow and JAX): the map is zero-padded by one pixel and flattened, and each
sample's four neighbours are read with one ``take`` each (as in `DeformableConv2D`). Not exported to
TFLite: these are training-graph operators of detectors, which the suite does not build.
"""

from __future__ import annotations

import keras
from keras import ops

from src.errors import ConfigError

#: DCN §2.2: "γ is a pre-defined scalar to modulate the magnitude of the offsets. It is empirically set to γ = 0.1."
OFFSET_GAMMA = 0.1


def _check(output_size, sampling_ratio, spatial_scale, where: str) -> None:
    if not isinstance(output_size, int) or output_size < 1:
        raise ConfigError(f"{where}: output_size (bins per side, k) must be a positive integer, got {output_size!r}.")
    if not isinstance(sampling_ratio, int) or sampling_ratio < 1:
        raise ConfigError(f"{where}: sampling_ratio (samples per bin side) must be a positive integer, got {sampling_ratio!r}.")
    if not isinstance(spatial_scale, (int, float)) or not spatial_scale > 0:
        raise ConfigError(f"{where}: spatial_scale must be a positive number (feature size / image size), got {spatial_scale!r}.")


def roi_box_size(boxes, spatial_scale: float = 1.0):
    """(height, width) of each box on the feature map, (R, 2)."""
    boxes = ops.convert_to_tensor(boxes)
    return ops.stack([boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]], axis=-1) * spatial_scale


def roi_pool(features, boxes, box_indices, output_size: int = 7, sampling_ratio: int = 2,
             spatial_scale: float = 1.0, offsets=None, position_sensitive: bool = False):
    """Bilinear RoI pooling of ``features`` (N, H, W, C) over ``boxes`` (R, 4) of images ``box_indices``
    (R,): (R, k, k, C), or (R, k, k, C / k²) when ``position_sensitive``. ``offsets`` (R, k, k, 2), in
    feature pixels as (Δy, Δx), shift every sample of a bin (deformable pooling); None pools plainly."""
    _check(output_size, sampling_ratio, spatial_scale, "roi_pool")
    k, s = output_size, sampling_ratio
    dtype = features.dtype
    shape = ops.shape(features)
    h, w, c = shape[1], shape[2], features.shape[-1]
    if position_sensitive and c % (k * k):
        raise ConfigError(f"PS RoI pooling with k={k} needs k²·C = a multiple of {k * k} channels, got {c}.")
    boxes = ops.cast(boxes, dtype) * spatial_scale - 0.5
    y1, x1 = boxes[:, 0], boxes[:, 1]
    bin_h = (boxes[:, 2] - y1) / k
    bin_w = (boxes[:, 3] - x1) / k
    # Sample positions in bin units, (k, S): bin i's S points at i + (s + 0.5)/S.
    grid = ops.reshape(ops.arange(k, dtype=dtype), (k, 1)) + (ops.arange(s, dtype=dtype) + 0.5) / s
    py = ops.reshape(y1, (-1, 1, 1, 1, 1)) + ops.reshape(grid, (1, k, 1, s, 1)) * ops.reshape(bin_h, (-1, 1, 1, 1, 1))
    px = ops.reshape(x1, (-1, 1, 1, 1, 1)) + ops.reshape(grid, (1, 1, k, 1, s)) * ops.reshape(bin_w, (-1, 1, 1, 1, 1))
    if offsets is not None:
        offsets = ops.cast(offsets, dtype)
        py = py + ops.reshape(offsets[..., 0], (-1, k, k, 1, 1))
        px = px + ops.reshape(offsets[..., 1], (-1, k, k, 1, 1))
    py = py + ops.zeros_like(px)  # both (R, k, k, S, S)
    px = px + ops.zeros_like(py)
    y0 = ops.stop_gradient(ops.floor(py))  # the gradient reaches the offsets through the weights
    x0 = ops.stop_gradient(ops.floor(px))
    wy1, wx1 = py - y0, px - x0
    wy0, wx0 = 1.0 - wy1, 1.0 - wx1
    hp, wp = h + 2, w + 2
    padded = ops.pad(features, ((0, 0), (1, 1), (1, 1), (0, 0)))
    if position_sensitive:  # (k²·N·Hp·Wp, C'): bin g = i·k + j's own map first, then image, row, column
        out_c = c // (k * k)
        padded = ops.transpose(ops.reshape(padded, (-1, hp, wp, out_c, k * k)), (4, 0, 1, 2, 3))
        flat = ops.reshape(padded, (-1, out_c))
        maps = ops.shape(features)[0] * hp * wp
        bins = ops.reshape(ops.arange(k * k, dtype="int32"), (1, k, k, 1, 1))
        first = ops.reshape(ops.cast(box_indices, "int32"), (-1, 1, 1, 1, 1)) * (hp * wp) + bins * maps
    else:
        out_c = c
        flat = ops.reshape(padded, (-1, c))
        first = ops.reshape(ops.cast(box_indices, "int32"), (-1, 1, 1, 1, 1)) * (hp * wp)
    y0i, x0i = ops.cast(y0, "int32"), ops.cast(x0, "int32")
    # Clipping a neighbour to [-1, H] reads the zero border for every neighbour outside the map.
    rows0, rows1 = ops.clip(y0i, -1, h) + 1, ops.clip(y0i + 1, -1, h) + 1
    cols0, cols1 = ops.clip(x0i, -1, w) + 1, ops.clip(x0i + 1, -1, w) + 1

    def read(rows, cols, weight):
        values = ops.take(flat, ops.reshape(first + rows * wp + cols, (-1,)), axis=0)
        return values * ops.reshape(weight, (-1, 1))

    samples = (read(rows0, cols0, wy0 * wx0) + read(rows0, cols1, wy0 * wx1)
               + read(rows1, cols0, wy1 * wx0) + read(rows1, cols1, wy1 * wx1))
    return ops.mean(ops.reshape(samples, (-1, k, k, s * s, out_c)), axis=3)


def _check_layer(layer, output_size, sampling_ratio, spatial_scale, offset_gamma) -> None:
    where = f"{type(layer).__name__} {layer.name!r}"
    _check(output_size, sampling_ratio, spatial_scale, where)
    if not isinstance(offset_gamma, (int, float)) or offset_gamma < 0:
        raise ConfigError(f"{where}: offset_gamma must be a number ≥ 0 (DCN's γ, 0.1), got {offset_gamma!r}.")


@keras.saving.register_keras_serializable(package="cnnzoo")
class DeformableRoIPooling(keras.layers.Layer):
    """Deformable RoI pooling (DCN §2.2, Fig. 3): plain bilinear RoI pooling → fc → normalised offsets
    Δp̂ (R, k, k, 2) → Δp = γ·Δp̂∘(h, w) → RoI pooling at the shifted bins. Called on
    ``(features, boxes, box_indices)``; returns (R, k, k, C). The fc (``offset_fc``: k²·C → 2k²) starts
    at zero, so an untrained layer equals `roi_pool` without offsets; ``deformable=False`` has no fc."""

    def __init__(self, *, output_size: int = 7, sampling_ratio: int = 2, spatial_scale: float = 1.0,
                 offset_gamma: float = OFFSET_GAMMA, deformable: bool = True, **kwargs):
        super().__init__(**kwargs)
        _check_layer(self, output_size, sampling_ratio, spatial_scale, offset_gamma)
        self.output_size, self.sampling_ratio = output_size, sampling_ratio
        self.spatial_scale, self.offset_gamma, self.deformable = float(spatial_scale), float(offset_gamma), bool(deformable)

    def build(self, features_shape, boxes_shape=None, box_indices_shape=None) -> None:
        channels = features_shape[-1]
        if channels is None:
            raise ConfigError(f"DeformableRoIPooling {self.name!r}: the feature channel dimension must be known.")
        if self.deformable:
            k = self.output_size
            self.offset_fc = keras.layers.Dense(2 * k * k, kernel_initializer="zeros", name="offset_fc", dtype=self.dtype_policy)
            self.offset_fc.build((None, k * k * channels))

    def offsets(self, features, boxes, box_indices, pooled=None):
        """Δp (R, k, k, 2) in feature pixels, from the plainly pooled features."""
        k = self.output_size
        if pooled is None:
            pooled = roi_pool(features, boxes, box_indices, k, self.sampling_ratio, self.spatial_scale)
        normalised = ops.reshape(self.offset_fc(ops.reshape(pooled, (-1, k * k * pooled.shape[-1]))), (-1, k, k, 2))
        size = roi_box_size(ops.cast(boxes, normalised.dtype), self.spatial_scale)
        return self.offset_gamma * normalised * ops.reshape(size, (-1, 1, 1, 2))

    def call(self, features, boxes, box_indices):
        args = (features, boxes, box_indices, self.output_size, self.sampling_ratio, self.spatial_scale)
        pooled = roi_pool(*args)
        if not self.deformable:
            return pooled
        return roi_pool(*args, offsets=self.offsets(features, boxes, box_indices, pooled))

    def compute_output_shape(self, features_shape, boxes_shape=None, box_indices_shape=None):
        k = self.output_size
        return (None if boxes_shape is None else boxes_shape[0], k, k, features_shape[-1])

    def get_config(self) -> dict:
        return {**super().get_config(), "output_size": self.output_size, "sampling_ratio": self.sampling_ratio,
                "spatial_scale": self.spatial_scale, "offset_gamma": self.offset_gamma, "deformable": self.deformable}


@keras.saving.register_keras_serializable(package="cnnzoo")
class PSRoIPooling(keras.layers.Layer):
    """(Deformable) position-sensitive RoI pooling (R-FCN §2 eq. (1); DCN §2.2). Called on
    ``(score_maps, boxes, box_indices)`` or, deformable, ``(score_maps, boxes, box_indices,
    offset_fields)``: score maps (N, H, W, k²·C) give (R, k, k, C). The offset fields (N, H, W, 2k²), the
    output of the sibling conv branch (class-agnostic, as in DCN's released R-FCN), are PS-pooled into the
    normalised offsets Δp̂ (channels ``(c·k + i)·k + j``, c = 0 for Δy, 1 for Δx) and scaled by γ·(h, w)."""

    def __init__(self, *, output_size: int = 7, sampling_ratio: int = 2, spatial_scale: float = 1.0,
                 offset_gamma: float = OFFSET_GAMMA, deformable: bool = False, **kwargs):
        super().__init__(**kwargs)
        _check_layer(self, output_size, sampling_ratio, spatial_scale, offset_gamma)
        self.output_size, self.sampling_ratio = output_size, sampling_ratio
        self.spatial_scale, self.offset_gamma, self.deformable = float(spatial_scale), float(offset_gamma), bool(deformable)

    def offsets(self, offset_fields, boxes, box_indices):
        """Δp (R, k, k, 2) in feature pixels, PS-pooled from the offset fields."""
        k = self.output_size
        if offset_fields.shape[-1] != 2 * k * k:
            raise ConfigError(f"PSRoIPooling {self.name!r}: the offset fields need 2·k² = {2 * k * k} channels, "
                              f"got {offset_fields.shape[-1]}.")
        normalised = roi_pool(offset_fields, boxes, box_indices, k, self.sampling_ratio, self.spatial_scale,
                              position_sensitive=True)
        size = roi_box_size(ops.cast(boxes, normalised.dtype), self.spatial_scale)
        return self.offset_gamma * normalised * ops.reshape(size, (-1, 1, 1, 2))

    def call(self, score_maps, boxes, box_indices, offset_fields=None):
        if self.deformable and offset_fields is None:
            raise ConfigError(f"PSRoIPooling {self.name!r} is deformable: call it on (score_maps, boxes, box_indices, "
                              "offset_fields).")
        offsets = self.offsets(offset_fields, boxes, box_indices) if self.deformable else None
        return roi_pool(score_maps, boxes, box_indices, self.output_size, self.sampling_ratio, self.spatial_scale,
                        offsets=offsets, position_sensitive=True)

    def compute_output_shape(self, score_maps_shape, boxes_shape=None, box_indices_shape=None, offset_fields_shape=None):
        k = self.output_size
        return (None if boxes_shape is None else boxes_shape[0], k, k, score_maps_shape[-1] // (k * k))

    def get_config(self) -> dict:
        return {**super().get_config(), "output_size": self.output_size, "sampling_ratio": self.sampling_ratio,
                "spatial_scale": self.spatial_scale, "offset_gamma": self.offset_gamma, "deformable": self.deformable}
