"""Problem 1: a 2-D convolution layer (no bias) in NumPy, forward and backward.

Vectorised with im2col: the padded input is viewed as windows (no copy), copied once into a
matrix `cols` with one row per output position, and one BLAS matrix product computes every
output of every image. The backward pass reuses `cols` for dL/dW and gets dL/dA either as a
transposed convolution (stride 1: one more im2col + product) or by scattering the column
gradient back with one slice-add per kernel offset (col2im). No Python loop runs over batch,
channels or output positions. Internally the data is channels-last (N, H, W, C) so every copy
moves runs of C contiguous values.
"""
from __future__ import annotations

import math
import operator
from typing import Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def _pair(value, name: str) -> tuple[int, int]:
    """An int or an (h, w) pair of ints -> (h, w); anything else is a ValueError."""
    pair = (value, value) if np.ndim(value) == 0 else tuple(value)
    try:
        if len(pair) != 2:
            raise TypeError
        return operator.index(pair[0]), operator.index(pair[1])
    except TypeError:
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}") from None


def im2col(A_nhwc: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int],
           padding: tuple[int, int], out: np.ndarray | None = None) -> np.ndarray:
    """(N, H, W, C) -> (N * H_out * W_out, kh * kw * C): one row per output position.

    Rows run over (n, y, x), columns over (i, j, c) for kernel offset (i, j). A negative padding
    crops instead (the transposed convolution needs that when padding > kernel - 1). `out`, if
    it has the right shape and dtype, is filled instead of allocating.
    """
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    n, h, w, c = A_nhwc.shape
    crop = A_nhwc[:, max(-ph, 0):h - max(-ph, 0), max(-pw, 0):w - max(-pw, 0)]
    padded = np.pad(crop, ((0, 0), (max(ph, 0),) * 2, (max(pw, 0),) * 2, (0, 0)))
    windows = sliding_window_view(padded, (kh, kw), axis=(1, 2))[:, ::sh, ::sw]
    h_out, w_out = windows.shape[1:3]
    windows = windows.transpose(0, 1, 2, 4, 5, 3)  # (N, H_out, W_out, kh, kw, C)
    shape = (n * h_out * w_out, kh * kw * c)
    if out is None or out.shape != shape or out.dtype != A_nhwc.dtype:
        return windows.reshape(shape)  # the reshape of this non-contiguous view is the copy
    np.copyto(out.reshape(windows.shape), windows)
    return out


class Conv2D:
    """Z = conv2d(A, W) (cross-correlation, as in torch) with zero padding and stride, no bias.

    W: (C_out, C_in, kh, kw). Default init is torch.nn.Conv2d's, U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    """

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
        self._A_shape = None  # set by forward; backward needs it and the cached columns
        self._cols = None
        self._dtype = None

    def output_shape(self, A_shape: tuple) -> tuple[int, int, int, int]:
        """(N, C_out, H_out, W_out) for an input of shape A_shape; ValueError if A_shape is invalid."""
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
        """A: (N, C_in, H, W) -> Z: (N, C_out, H_out, W_out), C-contiguous, in A's float dtype.

        Integer input is computed in float64. Caches the im2col matrix for backward.
        """
        A = np.asarray(A)
        if not np.issubdtype(A.dtype, np.floating):
            A = A.astype(np.float64)
        n, c_out, h_out, w_out = self.output_shape(A.shape)
        # refill last call's columns in place: a fresh buffer this large costs a page fault per 4 KiB
        cols = im2col(A.transpose(0, 2, 3, 1), self.kernel_size, self.stride, self.padding,
                      out=self._cols)
        Z = cols @ self._weight_matrix(A.dtype).T  # (N*H_out*W_out, C_out)
        self._A_shape, self._cols, self._dtype = A.shape, cols, A.dtype
        return np.ascontiguousarray(Z.reshape(n, h_out, w_out, c_out).transpose(0, 3, 1, 2))

    def backward(self, dLdZ: np.ndarray) -> np.ndarray:
        """dLdZ: shape of the last Z -> dLdA, shape and dtype of the last A; sets self.dLdW (shape of W)."""
        if self._A_shape is None:
            raise ValueError("backward called before forward")
        dLdZ = np.asarray(dLdZ)
        expected = self.output_shape(self._A_shape)
        if dLdZ.shape != expected:
            raise ValueError(f"dLdZ has shape {dLdZ.shape}, but the last forward produced {expected}")
        # channels-last, contiguous, (N, H_out, W_out, C_out): BLAS needs unit stride
        G = np.ascontiguousarray(dLdZ.astype(self._dtype, copy=False).transpose(0, 2, 3, 1))
        G_rows = G.reshape(-1, self.out_channels)
        # cols.T @ G, not G.T @ cols: OpenBLAS threads the latter (small M, huge K) very badly
        dW = (self._cols.T @ G_rows).T  # (C_out, kh*kw*C_in)
        self.dLdW = np.ascontiguousarray(
            dW.reshape(self.out_channels, *self.kernel_size, self.in_channels).transpose(0, 3, 1, 2))
        if self.stride == (1, 1):
            dA = self._input_gradient_stride1(G)
        else:
            dA = self._input_gradient_col2im(G_rows)
        return np.ascontiguousarray(dA.transpose(0, 3, 1, 2))

    def _weight_matrix(self, dtype) -> np.ndarray:
        """W as (C_out, kh*kw*C_in), matching im2col's column order (i, j, c)."""
        return self.W.astype(dtype, copy=False).transpose(0, 2, 3, 1).reshape(self.out_channels, -1)

    def _input_gradient_stride1(self, G: np.ndarray) -> np.ndarray:
        """G: (N, H_out, W_out, C_out) -> dLdA (N, H, W, C_in), for stride 1 only.

        With stride 1, dL/dA is G correlated with the flipped kernel, padded by k - 1 - p: one
        im2col and one product, cheaper than nine read-modify-write passes of col2im.
        """
        (kh, kw), (ph, pw) = self.kernel_size, self.padding
        cols = im2col(G, (kh, kw), (1, 1), (kh - 1 - ph, kw - 1 - pw))
        # flipped kernel, in/out channels swapped: (C_in, kh*kw*C_out)
        W_t = self.W.astype(self._dtype, copy=False)[:, :, ::-1, ::-1].transpose(1, 2, 3, 0)
        dA = cols @ W_t.reshape(self.in_channels, -1).T
        n, _, h, w = self._A_shape
        return dA.reshape(n, h, w, self.in_channels)

    def _input_gradient_col2im(self, G_rows: np.ndarray) -> np.ndarray:
        """G_rows: (N*H_out*W_out, C_out) -> dLdA (N, H, W, C_in), any stride (col2im)."""
        n, _, h, w = self._A_shape
        _, _, h_out, w_out = self.output_shape(self._A_shape)
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        dcols = (G_rows @ self._weight_matrix(self._dtype)).reshape(n, h_out, w_out, kh, kw, -1)
        dpadded = np.zeros((n, h + 2 * ph, w + 2 * pw, self.in_channels), dtype=self._dtype)
        for i in range(kh):  # a loop over kernel offsets only: each is one strided slice-add
            for j in range(kw):
                dpadded[:, i:i + sh * h_out:sh, j:j + sw * w_out:sw] += dcols[:, :, :, i, j]
        return dpadded[:, ph:ph + h, pw:pw + w]
