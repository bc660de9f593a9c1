"""Problem 1: a 2-D convolution layer (no bias) in NumPy, forward and backward.

Vectorised with im2col, in a channels-first batch layout (C, N, H, W) ("CNHW") kept through every
stage. The input is copied once, transposed, into a zero-padded buffer; a strided window view of
it is copied once into `cols`, shape (C_in*kh*kw, N*H_out*W_out), whose rows are ordered like the
weights (c, i, j). Then one BLAS product W (C_out, C_in*kh*kw) @ cols gives every output of every
image as (C_out, N*H_out*W_out), which is one block transpose (runs of H_out*W_out values) from
NCHW. The backward pass reuses `cols`: dL/dW = G @ cols^T is already in W's (C_out, C_in, kh, kw)
order. dL/dA is, for stride 1, the full correlation of G with the flipped kernel (one more im2col
and product), and for larger strides the column gradient W^T @ G scattered back with one strided
slice-add per kernel offset (col2im). No Python loop runs over batch, channels or positions, and
the large buffers are reused between calls (a fresh one costs a page fault per 4 KiB).
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


def im2col(X: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int],
           out: np.ndarray | None = None) -> np.ndarray:
    """Padded (C, N, H, W) -> (C * kh * kw, N * H_out * W_out): one column per output position.

    Rows run over (c, i, j) for kernel offset (i, j), as W's axes do; columns over (n, y, x).
    `out`, if it has the right shape and dtype, is filled instead of allocating.
    """
    (kh, kw), (sh, sw) = kernel, stride
    c, n = X.shape[:2]
    windows = sliding_window_view(X, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    windows = windows.transpose(0, 4, 5, 1, 2, 3)  # (C, kh, kw, N, H_out, W_out), still a view
    shape = (c * kh * kw, n * windows.shape[4] * windows.shape[5])
    if out is None or out.shape != shape or out.dtype != X.dtype:
        out = np.empty(shape, X.dtype)
    np.copyto(out.reshape(windows.shape), windows)  # the one copy; inner runs along x
    return out


class _Buffers:
    """Named scratch arrays reused while their shape and dtype repeat (page faults, not arithmetic,
    dominate a fresh 100 MiB array). A buffer made with zero=True only ever gets its interior
    written, so its border stays zero."""

    def __init__(self):
        self._arrays: dict[str, np.ndarray] = {}

    def get(self, name: str, shape: tuple, dtype, zero: bool = False) -> np.ndarray:
        """The buffer called `name`, made afresh (uninitialised, or zeros) if its shape or dtype changed."""
        arr = self._arrays.get(name)
        if arr is None or arr.shape != tuple(shape) or arr.dtype != dtype:
            arr = self._arrays[name] = (np.zeros if zero else np.empty)(shape, dtype)
        return arr

    def padded(self, name: str, X: np.ndarray, padding: tuple[int, int], dtype) -> np.ndarray:
        """X (C, N, H, W), any strides -> contiguous, zero-padded by `padding` (negative crops)."""
        (ph, pw), (h, w) = padding, X.shape[2:]
        X = X[:, :, max(-ph, 0):h - max(-ph, 0), max(-pw, 0):w - max(-pw, 0)]
        ph, pw = max(ph, 0), max(pw, 0)
        (c, n, h, w) = X.shape
        buf = self.get(name, (c, n, h + 2 * ph, w + 2 * pw), dtype, zero=True)
        np.copyto(buf[:, :, ph:ph + h, pw:pw + w], X, casting="unsafe")
        return buf


def _to_nchw(X_cnhw: np.ndarray) -> np.ndarray:
    """(C, N, H, W) view -> a new C-contiguous (N, C, H, W): a copy of whole H*W planes."""
    return np.ascontiguousarray(X_cnhw.transpose(1, 0, 2, 3))


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
        self._buffers = _Buffers()  # scratch arrays reused across calls
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
        padded = self._buffers.padded("A", A.transpose(1, 0, 2, 3), self.padding, A.dtype)
        k_rows = self.in_channels * self.kernel_size[0] * self.kernel_size[1]
        # refill last call's columns in place; the product's own buffer too
        cols = im2col(padded, self.kernel_size, self.stride,
                      out=self._buffers.get("cols", (k_rows, n * h_out * w_out), A.dtype))
        Z = self._buffers.get("Z", (c_out, cols.shape[1]), A.dtype)
        np.matmul(self.W.astype(A.dtype, copy=False).reshape(c_out, -1), cols, out=Z)
        self._A_shape, self._cols, self._dtype = A.shape, cols, A.dtype
        return _to_nchw(Z.reshape(c_out, n, h_out, w_out))

    def backward(self, dLdZ: np.ndarray) -> np.ndarray:
        """dLdZ: shape of the last Z -> dLdA, shape and dtype of the last A; sets self.dLdW (shape of W)."""
        if self._A_shape is None:
            raise ValueError("backward called before forward")
        dLdZ = np.asarray(dLdZ)
        expected = self.output_shape(self._A_shape)
        if dLdZ.shape != expected:
            raise ValueError(f"dLdZ has shape {dLdZ.shape}, but the last forward produced {expected}")
        n, c_out, h_out, w_out = expected
        # G as (C_out, N, H_out, W_out), contiguous: the layout of the forward product's output
        G = self._buffers.get("G", (c_out, n, h_out, w_out), self._dtype)
        np.copyto(G, dLdZ.transpose(1, 0, 2, 3), casting="unsafe")
        G_rows = G.reshape(c_out, -1)
        # dW (C_out, C_in*kh*kw), rows of cols ordered like W's axes: a reshape, no transpose.
        # cols @ G^T, not G @ cols^T: OpenBLAS runs the latter (small M, huge K) ~8x slower
        self.dLdW = np.ascontiguousarray((self._cols @ G_rows.T).T).reshape(self.W.shape)
        if self.stride == (1, 1):
            dA = self._input_gradient_stride1(G)
        else:
            dA = self._input_gradient_col2im(G_rows)
        return _to_nchw(dA)

    def _input_gradient_stride1(self, G: np.ndarray) -> np.ndarray:
        """G: (C_out, N, H_out, W_out) -> dLdA as (C_in, N, H, W), for stride 1 only.

        With stride 1, dL/dA is G correlated with the flipped kernel, padded by k - 1 - p: one
        im2col and one product, cheaper than kh*kw read-modify-write passes of col2im.
        """
        (kh, kw), (ph, pw) = self.kernel_size, self.padding
        padded = self._buffers.padded("G padded", G, (kh - 1 - ph, kw - 1 - pw), self._dtype)
        n, _, h, w = self._A_shape
        cols = im2col(padded, (kh, kw), (1, 1),
                      out=self._buffers.get("dA cols", (G.shape[0] * kh * kw, n * h * w), self._dtype))
        # flipped kernel, in/out channels swapped: (C_in, C_out*kh*kw), rows ordered like cols
        W_t = self.W.astype(self._dtype, copy=False)[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)
        dA = self._buffers.get("dA", (self.in_channels, n, h, w), self._dtype)
        np.matmul(np.ascontiguousarray(W_t).reshape(self.in_channels, -1), cols,
                  out=dA.reshape(self.in_channels, -1))
        return dA

    def _input_gradient_col2im(self, G_rows: np.ndarray) -> np.ndarray:
        """G_rows: (C_out, N*H_out*W_out) -> dLdA as (C_in, N, H, W) view, any stride (col2im)."""
        n, _, h, w = self._A_shape
        _, _, h_out, w_out = self.output_shape(self._A_shape)
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        W_rows = self.W.astype(self._dtype, copy=False).reshape(self.out_channels, -1)
        dcols = self._buffers.get("dA cols", (W_rows.shape[1], G_rows.shape[1]), self._dtype)
        np.matmul(W_rows.T, G_rows, out=dcols)
        dcols = dcols.reshape(self.in_channels, kh, kw, n, h_out, w_out)
        dpadded = self._buffers.get("dA padded", (self.in_channels, n, h + 2 * ph, w + 2 * pw),
                                    self._dtype)
        dpadded.fill(0)
        for i in range(kh):  # a loop over kernel offsets only: each is one strided slice-add
            for j in range(kw):
                dpadded[:, :, i:i + sh * h_out:sh, j:j + sw * w_out:sw] += dcols[:, i, j]
        return dpadded[:, :, ph:ph + h, pw:pw + w]
