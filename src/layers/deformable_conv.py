"""Deformable convolution v1 (Dai et al., "Deformable Convolutional Networks", ICCV 2017,
arXiv:1703.06211, §2.1 eqs. (1)–(4), Fig. 2).

A regular k×k convolution samples the input at ``p0 + pn`` (pn on the dilated kernel grid). A
deformable one samples at ``p0 + pn + Δpn``: a separate convolution over the same input (same kernel
size, stride, padding and dilation as the main one, 2·k·k output channels) predicts one (Δy, Δx) per
kernel position and output pixel. Samples fall between pixels, so the input is read by bilinear
interpolation, ``x(p) = Σ_q max(0, 1 − |qy − py|) · max(0, 1 − |qx − px|) · x(q)`` (eqs. (3)–(4)),
with zeros outside the image (as zero padding). The main kernel is then applied to the sampled k·k
patches. The offset convolution starts at zero (weights and bias), so training starts from a regular
convolution (paper §2.1: "initialized with zero").

Implementation (``keras.ops`` only, so it runs on TensorFlow and JAX, and converts to TFLite
builtins): the input is zero-padded by one pixel and flattened to (N·(H+2)·(W+2), C); each sample's
four neighbours are read with one ``take`` (GATHER) each, their integer coordinates clipped to the
padded border, so that any neighbour outside the image reads a zero; the four reads are weighted and
summed into patches (N, Ho, Wo, k·k·C), and the kernel (stored in Conv2D's (kh, kw, C_in, filters)
layout) is applied to them as one matrix product (a 1×1 convolution; the matmul trains faster under XLA
on CPU, src/bench/deformable_conv.py). Every tensor is rank ≤ 4.

Offset layout: channel ``2·i`` is Δy and ``2·i + 1`` is Δx of kernel position ``i = ky·kw + kx``
(row-major), as in torchvision's ``deform_conv2d``. Offsets are in input pixels.

Multiply-adds (`count_macs`, read by src.profiling.count_macs): per output pixel the main conv
k·k·C_in·C_out, the offset conv k·k·C_in·2·k·k, and bilinear sampling 4 per sampled value
(4·k·k·C_in); the coordinate arithmetic (a few operations per sample position, not per channel) is
not counted.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import ops

from src.errors import ConfigError

PADDINGS = ("same", "valid")


def _pair(value: int | Sequence[int], field: str, where: str) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) and v >= 1 for v in pair):
        raise ConfigError(f"{where}: {field} must be a positive integer or a pair of them, got {value!r}.")
    return (int(pair[0]), int(pair[1]))


def _nonneg(value):
    """max(value, 0) for a Python int or a (dynamic) scalar tensor."""
    return max(value, 0) if isinstance(value, int) else ops.maximum(value, 0)


@keras.saving.register_keras_serializable(package="cnnzoo")
class DeformableConv2D(keras.layers.Layer):
    """2-D deformable convolution (v1): a k×k conv whose sampling grid is shifted per output pixel
    and kernel position by offsets learned from the input (channels-last only).

    Weights: ``kernel`` (kh, kw, C_in, filters) and optional ``bias`` as Conv2D; ``offset_kernel``
    (kh, kw, C_in, 2·kh·kw) and ``offset_bias`` (2·kh·kw) of the offset convolution, zero-initialised.
    With zero offsets the output equals ``Conv2D`` with the same kernel, strides, padding, dilation.
    """

    def __init__(
        self,
        filters: int,
        kernel_size: int | Sequence[int] = 3,
        strides: int | Sequence[int] = 1,
        padding: str = "same",
        dilation_rate: int | Sequence[int] = 1,
        use_bias: bool = True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        offset_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        where = f"DeformableConv2D {self.name!r}"
        if not isinstance(filters, int) or filters < 1:
            raise ConfigError(f"{where}: filters must be a positive integer, got {filters!r}.")
        if padding not in PADDINGS:
            raise ConfigError(f"{where}: padding={padding!r}; choose one of {list(PADDINGS)}.")
        self.filters = filters
        self.kernel_size = _pair(kernel_size, "kernel_size", where)
        self.strides = _pair(strides, "strides", where)
        self.dilation_rate = _pair(dilation_rate, "dilation_rate", where)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ConfigError(
                f"{where}: strides={self.strides} with dilation_rate={self.dilation_rate}: the offset convolution "
                "(like Conv2D) cannot combine a stride > 1 with a dilation > 1."
            )
        self.padding = padding
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.offset_initializer = keras.initializers.get(offset_initializer)

    @property
    def kernel_positions(self) -> int:
        return self.kernel_size[0] * self.kernel_size[1]

    def build(self, input_shape) -> None:
        channels = input_shape[-1]
        if channels is None:
            raise ConfigError(f"DeformableConv2D {self.name!r}: the input channel dimension must be known.")
        kh, kw = self.kernel_size
        self.kernel = self.add_weight(name="kernel", shape=(kh, kw, channels, self.filters), initializer=self.kernel_initializer)
        self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer=self.bias_initializer) if self.use_bias else None
        offsets = 2 * self.kernel_positions
        self.offset_kernel = self.add_weight(name="offset_kernel", shape=(kh, kw, channels, offsets), initializer=self.offset_initializer)
        self.offset_bias = self.add_weight(name="offset_bias", shape=(offsets,), initializer="zeros")

    # -- geometry ---------------------------------------------------------------------------------
    def _out_size_and_pad(self, size, axis: int):
        """Output size and the leading pad of one spatial axis (TensorFlow's 'same' / 'valid')."""
        k, s, d = self.kernel_size[axis], self.strides[axis], self.dilation_rate[axis]
        span = (k - 1) * d + 1
        if self.padding == "valid":
            return (size - span) // s + 1, 0
        out = (size + s - 1) // s
        return out, _nonneg((out - 1) * s + span - size) // 2

    def offsets(self, x):
        """The offset field (N, Ho, Wo, 2·kh·kw) the layer predicts for ``x``."""
        off = ops.conv(x, self.offset_kernel, strides=self.strides, padding=self.padding, dilation_rate=self.dilation_rate)
        return off + self.offset_bias

    def sample(self, x, offsets):
        """Bilinearly sampled patches (N, Ho, Wo, kh·kw·C) at the kernel grid shifted by ``offsets``."""
        dtype = x.dtype
        shape = ops.shape(x)
        h, w, c = shape[1], shape[2], x.shape[-1]
        kh, kw = self.kernel_size
        k = self.kernel_positions
        ho, pad_top = self._out_size_and_pad(h, 0)
        wo, pad_left = self._out_size_and_pad(w, 1)
        # Regular sampling positions p0 + pn, (1, Ho, 1, K) for y and (1, 1, Wo, K) for x.
        ky = ops.repeat(ops.arange(kh, dtype=dtype) * self.dilation_rate[0], kw)  # ky of position i
        kx = ops.tile(ops.arange(kw, dtype=dtype) * self.dilation_rate[1], kh)  # kx of position i
        oy = ops.cast(ops.arange(ho) * self.strides[0] - pad_top, dtype)
        ox = ops.cast(ops.arange(wo) * self.strides[1] - pad_left, dtype)
        base_y = ops.reshape(oy, (1, -1, 1, 1)) + ops.reshape(ky, (1, 1, 1, k))
        base_x = ops.reshape(ox, (1, 1, -1, 1)) + ops.reshape(kx, (1, 1, 1, k))
        py = base_y + offsets[..., 0::2]  # (N, Ho, Wo, K)
        px = base_x + offsets[..., 1::2]
        # Integer neighbours; the weights carry the gradient to the offsets (floor's is zero).
        y0 = ops.stop_gradient(ops.floor(py))
        x0 = ops.stop_gradient(ops.floor(px))
        wy1, wx1 = py - y0, px - x0
        wy0, wx0 = 1.0 - wy1, 1.0 - wx1
        # Zero-pad by one pixel; clipping a neighbour's coordinate to [-1, H] then reads a zero for
        # every neighbour outside the image, so no validity masks are needed.
        hp, wp = h + 2, w + 2
        flat = ops.reshape(ops.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0))), (-1, c))
        y0i = ops.cast(y0, "int32")
        x0i = ops.cast(x0, "int32")
        rows0 = ops.clip(y0i, -1, h) + 1
        rows1 = ops.clip(y0i + 1, -1, h) + 1
        cols0 = ops.clip(x0i, -1, w) + 1
        cols1 = ops.clip(x0i + 1, -1, w) + 1
        # Index of image n's first padded pixel, (N, 1, 1, 1). The batch index is a cumulative sum of
        # ones computed from the data (rows0 ≥ 0, so min(rows0, 0) + 1 = 1), two per image: a TFLite
        # converter folds anything shape-derived (ones_like, arange of the batch size) into a constant
        # of the export batch and drops a cumulative sum over a length-1 axis, and a file resized to
        # another batch would then read every image's samples from image 0.
        one = ops.minimum(rows0[:, :1, :1, :1], 0) + 1
        count = ops.cumsum(ops.reshape(ops.concatenate([one, one], axis=-1), (-1,)), axis=0)  # 1, 2, ..., 2N
        image = (ops.reshape(count, (-1, 1, 1, 2))[..., :1] - 1) // 2
        first = image * (hp * wp)

        def read(rows, cols, weight):
            index = ops.reshape(first + rows * wp + cols, (-1,))
            values = ops.take(flat, index, axis=0)  # (N·Ho·Wo·K, C)
            return values * ops.reshape(weight, (-1, 1))

        patches = (
            read(rows0, cols0, wy0 * wx0)
            + read(rows0, cols1, wy0 * wx1)
            + read(rows1, cols0, wy1 * wx0)
            + read(rows1, cols1, wy1 * wx1)
        )
        return ops.reshape(patches, (-1, ho, wo, k * c))

    def call(self, x):
        patches = self.sample(x, self.offsets(x))
        kernel = ops.reshape(self.kernel, (-1, self.filters))  # (ky, kx, c) order = patches' order
        # A matrix product, not a 1×1 conv: same maths, but XLA's CPU backward pass of a 1×1 conv with
        # k·k·C input channels took ~1.8× longer (whole training step, 8×14×14×256, jit_compile=True).
        y = ops.matmul(patches, kernel)
        if self.bias is not None:
            y = y + self.bias
        return y

    def compute_output_shape(self, input_shape):
        sizes = []
        for axis, size in enumerate(input_shape[1:3]):
            sizes.append(None if size is None else int(self._out_size_and_pad(int(size), axis)[0]))
        return (input_shape[0], *sizes, self.filters)

    def count_macs(self, input_shape, output_shape) -> int:
        """Main conv + offset conv + bilinear sampling (4 multiply-adds per sampled value), batch 1."""
        positions = int(output_shape[1]) * int(output_shape[2])
        sampled = self.kernel_positions * int(input_shape[-1])
        return positions * sampled * (self.filters + 2 * self.kernel_positions + 4)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "dilation_rate": self.dilation_rate,
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "offset_initializer": keras.initializers.serialize(self.offset_initializer),
        }
