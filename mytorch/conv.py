"""Problem 1: a 2-D convolution layer (no bias) in NumPy, forward and backward.

Vectorised with im2col: the padded input is viewed as windows (no copy) and one matrix product
computes every output position of every image; the backward pass uses the same product
transposed and scatters the column gradient back with one slice-add per kernel offset
(kh * kw of them), never a loop over batch, channels or output positions. Internally the data is
channels-last so that those copies move contiguous runs of channels.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def _pair(value, name: str) -> tuple[int, int]:
    pair = (value, value) if np.isscalar(value) else tuple(value)
    if len(pair) != 2 or not all(float(v).is_integer() for v in pair):
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
    return int(pair[0]), int(pair[1])


class Conv2D:
    """Z = conv2d(A, W) with zero padding and stride; W has shape (C_out, C_in, kh, kw)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 weight_init_fn: Callable[[tuple], np.ndarray] | None = None):
        if in_channels < 1 or out_channels < 1:
            raise ValueError(f"channels must be positive, got in={in_channels}, out={out_channels}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.stride = _pair(stride, "stride")
        self.padding = _pair(padding, "padding")
        if min(self.kernel_size) < 1:
            raise ValueError(f"kernel_size must be positive, got {self.kernel_size}")
        if min(self.stride) < 1:
            raise ValueError(f"stride must be positive, got {self.stride}")
        if min(self.padding) < 0:
            raise ValueError(f"padding must be non-negative, got {self.padding}")
        shape = (out_channels, in_channels, *self.kernel_size)
        if weight_init_fn is None:
            # torch.nn.Conv2d's default: kaiming_uniform(a=sqrt(5)) == U(-1/sqrt(fan_in), 1/sqrt(fan_in))
            bound = 1.0 / math.sqrt(in_channels * self.kernel_size[0] * self.kernel_size[1])
            self.W = np.random.uniform(-bound, bound, size=shape)
        else:
            self.W = np.asarray(weight_init_fn(shape))
            if self.W.shape != shape:
                raise ValueError(f"weight_init_fn returned shape {self.W.shape}, expected {shape}")
        self.dLdW = np.zeros_like(self.W)
        self._A_shape = None
        self._cols = None

    def output_shape(self, A_shape: tuple) -> tuple[int, int, int, int]:
        """(N, C_out, H_out, W_out) for an input of shape A_shape, validating it."""
        if len(A_shape) != 4:
            raise ValueError(f"input must be 4-D (N, C_in, H, W), got shape {tuple(A_shape)}")
        n, c, h, w = A_shape
        if c != self.in_channels:
            raise ValueError(f"input has {c} channels (shape {tuple(A_shape)}), layer expects {self.in_channels}")
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        if kh > h + 2 * ph or kw > w + 2 * pw:
            raise ValueError(f"kernel {kh}x{kw} is larger than the padded input "
                             f"{h + 2 * ph}x{w + 2 * pw} (input shape {tuple(A_shape)}, padding {self.padding})")
        return n, self.out_channels, (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1

    def forward(self, A: np.ndarray) -> np.ndarray:
        """A: (N, C_in, H, W) -> Z: (N, C_out, H_out, W_out), in A's dtype."""
        A = np.asarray(A)
        n, c_out, h_out, w_out = self.output_shape(A.shape)
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        # Work channels-last: every copy below moves runs of C contiguous values, not single ones.
        padded = np.pad(A.transpose(0, 2, 3, 1), ((0, 0), (ph, ph), (pw, pw), (0, 0)))
        windows = sliding_window_view(padded, (kh, kw), axis=(1, 2))[:, ::sh, ::sw]
        # cols: one row per output position, (kh, kw, C_in) in each row
        cols = windows.transpose(0, 1, 2, 4, 5, 3).reshape(n * h_out * w_out, -1)
        Z = cols @ self._weight_matrix(A.dtype).T  # (N*H_out*W_out, C_out)
        self._A_shape, self._cols, self._dtype = A.shape, cols, A.dtype
        return np.ascontiguousarray(Z.reshape(n, h_out, w_out, c_out).transpose(0, 3, 1, 2))

    def _weight_matrix(self, dtype) -> np.ndarray:
        """W as (C_out, kh*kw*C_in), matching the column layout of `cols`."""
        return self.W.astype(dtype, copy=False).transpose(0, 2, 3, 1).reshape(self.out_channels, -1)

    def backward(self, dLdZ: np.ndarray) -> np.ndarray:
        """dLdZ: shape of the last Z -> dLdA (shape of the last A); sets self.dLdW."""
        if self._A_shape is None:
            raise ValueError("backward called before forward")
        dLdZ = np.asarray(dLdZ)
        expected = self.output_shape(self._A_shape)
        if dLdZ.shape != expected:
            raise ValueError(f"dLdZ has shape {dLdZ.shape}, but the last forward produced {expected}")
        n, c_out, h_out, w_out = expected
        c_in = self.in_channels
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        G = dLdZ.astype(self._dtype, copy=False).transpose(0, 2, 3, 1).reshape(-1, c_out)
        dW = (G.T @ self._cols).reshape(c_out, kh, kw, c_in)
        self.dLdW = np.ascontiguousarray(dW.transpose(0, 3, 1, 2))
        # dLdA: each kernel offset's (C_out x C_in) slice maps G back onto a shifted input grid.
        # One small product per offset avoids a (positions x kh*kw*C_in) temporary.
        # (kh, kw, C_out, C_in), contiguous: BLAS needs unit stride (else NumPy loops slowly)
        W_offsets = np.ascontiguousarray(self.W.astype(self._dtype, copy=False).transpose(2, 3, 0, 1))
        _, _, h, w = self._A_shape
        dpadded = np.zeros((n, h + 2 * ph, w + 2 * pw, c_in), dtype=self._dtype)
        for i in range(kh):
            for j in range(kw):
                contribution = (G @ W_offsets[i, j]).reshape(n, h_out, w_out, c_in)
                dpadded[:, i:i + sh * h_out:sh, j:j + sw * w_out:sw] += contribution
        return np.ascontiguousarray(dpadded[:, ph:ph + h, pw:pw + w].transpose(0, 3, 1, 2))
