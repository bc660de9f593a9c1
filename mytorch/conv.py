"""Problem 1: a 2-D convolution layer (no bias) in NumPy, forward and backward.

Vectorised with im2col, in a channels-first batch layout (C, N, H, W) ("CNHW") kept through every
stage. The input is copied once, transposed, into a zero-padded buffer; a strided window view of
it is copied once into `cols`, shape (C_in*kh*kw, N*H_out*W_out), whose rows are ordered like the
weights (c, i, j). Then one BLAS product W (C_out, C_in*kh*kw) @ cols gives every output of every
image as (C_out, N*H_out*W_out), which is one block transpose (runs of H_out*W_out values) from
NCHW. The backward pass reuses `cols`: dL/dW = G @ cols^T is already in W's (C_out, C_in, kh, kw)
order. dL/dA is computed by phase: the input rows whose padded index is r modulo the stride get
gradient only through kernel rows r, r + s, ... (likewise columns), so each phase is a stride-1
correlation of G with that flipped sub-kernel (one im2col and one product) written into the
phase's rows and columns of dL/dA. Stride 1 has one phase, the whole flipped kernel; stride 2 has
four, and no product multiplies a zero nor does any sum overlap (col2im would scatter a product's
columns back with one strided slice-add per kernel offset).

No Python loop runs over channels or positions. A large batch is split into one part per BLAS
thread, each part run on its own thread with single-threaded BLAS: the copies (padding, im2col,
layout) then run on every core too, where with one caller they ran on one while OpenBLAS's idle
worker spun on the other. Buffers are reused between calls (a fresh one costs a page fault per
4 KiB).
"""
from __future__ import annotations

import functools
import math
import operator
from typing import Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from mytorch.parallel import blas_threads, in_parallel

# a part smaller than this (elements of its im2col matrix) costs more in hand-off than it saves;
# parts sized to stay in cache (more parts than cores) measured no faster
PART_MIN_ELEMENTS = 1 << 20


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
    dominate a fresh 100 MiB array). A padded buffer only ever gets its interior written, so its
    border stays zero while its padding repeats."""

    def __init__(self):
        self._arrays: dict[str, np.ndarray] = {}
        self._paddings: dict[str, tuple] = {}

    def get(self, name: str, shape: tuple, dtype, zero: bool = False) -> np.ndarray:
        """The buffer called `name`, made afresh (uninitialised, or zeros) if its shape or dtype changed."""
        arr = self._arrays.get(name)
        if arr is None or arr.shape != tuple(shape) or arr.dtype != dtype:
            arr = self._arrays[name] = (np.zeros if zero else np.empty)(shape, dtype)
        return arr

    def __getitem__(self, name: str) -> np.ndarray:
        """The buffer called `name` as it was last made or filled."""
        return self._arrays[name]

    def padded(self, name: str, X: np.ndarray, padding: tuple, dtype) -> np.ndarray:
        """X (C, N, H, W), any strides -> contiguous, zero-padded (negative crops).

        padding: ((top, bottom), (left, right)).
        """
        (top, bottom), (left, right) = padding
        h, w = X.shape[2:]
        X = X[:, :, max(-top, 0):h - max(-bottom, 0), max(-left, 0):w - max(-right, 0)]
        top, bottom, left, right = (max(p, 0) for p in (top, bottom, left, right))
        (c, n, h, w) = X.shape
        buf = self.get(name, (c, n, top + h + bottom, left + w + right), dtype, zero=True)
        if self._paddings.setdefault(name, (top, bottom, left, right)) != (top, bottom, left, right):
            buf.fill(0)  # same shape, another interior: the old one would show in the new border
            self._paddings[name] = (top, bottom, left, right)
        np.copyto(buf[:, :, top:top + h, left:left + w], X, casting="unsafe")
        return buf


def _phase(r: int, kernel: int, stride: int, pad: int, size_in: int, size_out: int) -> tuple:
    """Along one axis, the input positions y with (y + pad) % stride == r, for dL/dA by phase.

    They get gradient from kernel offsets r, r + stride, ... (`taps` of them) only. Returns (taps,
    first, count, before, after): the positions are first, first + stride, ... (count of them),
    and G padded by `before` and `after` (negative crops) then correlated at stride 1 with the
    flipped taps gives exactly their gradient: y = first + stride*t takes G[u0 + t - a] for tap a,
    with u0 = (first + pad) // stride.
    """
    taps = len(range(r, kernel, stride))
    first = (r - pad) % stride
    count = len(range(first, size_in, stride))
    before = taps - 1 - (first + pad) // stride
    return taps, first, count, before, count + taps - 1 - before - size_out


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
        self._A_shape = None  # set by forward; backward needs it and each part's cached columns
        self._dtype = None
        self._parts: list[tuple[slice, _Buffers]] = []  # batch slices, their scratch arrays

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
        shape = self.output_shape(A.shape)
        self._A_shape = None  # until every part's columns are in place: backward refuses a failed forward
        self._split_batch(shape)
        Z = np.empty(shape, A.dtype)
        in_parallel(self._forward_part, [(buffers, A[part], Z[part]) for part, buffers in self._parts])
        self._A_shape, self._dtype = A.shape, A.dtype
        return Z

    def _split_batch(self, out_shape: tuple) -> None:
        """One part (whole images) per BLAS thread, each of at least PART_MIN_ELEMENTS im2col
        elements; the buffers of earlier parts are kept."""
        n, _, h_out, w_out = out_shape
        columns = self.in_channels * self.kernel_size[0] * self.kernel_size[1] * h_out * w_out
        count = max(1, min(blas_threads(), n, n * columns // PART_MIN_ELEMENTS))
        edges = [n * k // count for k in range(count + 1)]
        old = [buffers for _, buffers in self._parts]
        self._parts = [(slice(a, b), old[k] if k < len(old) else _Buffers())
                       for k, (a, b) in enumerate(zip(edges[:-1], edges[1:]))]

    def _forward_part(self, buffers: _Buffers, A: np.ndarray, Z: np.ndarray) -> None:
        """Z[...] = conv(A) for one batch part; its columns stay in `buffers` for backward."""
        n, c_out, h_out, w_out = Z.shape
        (ph, pw) = self.padding
        padded = buffers.padded("A", A.transpose(1, 0, 2, 3), ((ph, ph), (pw, pw)), A.dtype)
        k_rows = self.in_channels * self.kernel_size[0] * self.kernel_size[1]
        # refill last call's columns in place; the product's own buffer too
        cols = im2col(padded, self.kernel_size, self.stride,
                      out=buffers.get("cols", (k_rows, n * h_out * w_out), A.dtype))
        Z_rows = buffers.get("Z", (c_out, cols.shape[1]), A.dtype)
        np.matmul(self.W.astype(A.dtype, copy=False).reshape(c_out, -1), cols, out=Z_rows)
        np.copyto(Z, Z_rows.reshape(c_out, n, h_out, w_out).transpose(1, 0, 2, 3))

    def backward(self, dLdZ: np.ndarray) -> np.ndarray:
        """dLdZ: shape of the last Z -> dLdA, shape and dtype of the last A; sets self.dLdW (shape of W)."""
        if self._A_shape is None:
            raise ValueError("backward called before forward")
        dLdZ = np.asarray(dLdZ)
        expected = self.output_shape(self._A_shape)
        if dLdZ.shape != expected:
            raise ValueError(f"dLdZ has shape {dLdZ.shape}, but the last forward produced {expected}")
        dLdA = np.empty(self._A_shape, self._dtype)
        dW_parts = in_parallel(self._backward_part,
                               [(buffers, dLdZ[part], dLdA[part]) for part, buffers in self._parts])
        self.dLdW = functools.reduce(np.add, dW_parts).reshape(self.W.shape)
        return dLdA

    def _backward_part(self, buffers: _Buffers, dLdZ: np.ndarray, dLdA: np.ndarray) -> np.ndarray:
        """dLdA[...] for one batch part; returns its share of dL/dW as (C_out, C_in*kh*kw)."""
        c_out, (n, _, h_out, w_out) = self.out_channels, dLdZ.shape
        # G as (C_out, N, H_out, W_out), contiguous: the layout of the forward product's output
        G = buffers.get("G", (c_out, n, h_out, w_out), self._dtype)
        np.copyto(G, dLdZ.transpose(1, 0, 2, 3), casting="unsafe")
        cols = buffers["cols"]  # the forward's
        # rows of cols are ordered like W's axes: a reshape, no transpose. cols @ G^T, not
        # G @ cols^T: OpenBLAS runs the latter (small M, huge K) ~8x slower
        dW = np.ascontiguousarray((cols @ G.reshape(c_out, -1).T).T)
        self._input_gradient(buffers, G, dLdA)
        return dW

    def _input_gradient(self, buffers: _Buffers, G: np.ndarray, dLdA: np.ndarray) -> None:
        """dLdA (N, C_in, H, W) from G (C_out, N, H_out, W_out): one stride-1 correlation per phase."""
        n, _, h, w = dLdA.shape
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        rows = [_phase(r, kh, sh, ph, h, G.shape[2]) for r in range(sh)]
        columns = [_phase(q, kw, sw, pw, w, G.shape[3]) for q in range(sw)]
        if not all(r[0] and r[2] for r in rows) or not all(q[0] and q[2] for q in columns):
            dLdA.fill(0)  # positions no kernel offset reaches (stride > kernel) get zero gradient
        # one padded G serves every phase: each takes its own window of it
        top, left = (max(0, *(p[3] for p in axis)) for axis in (rows, columns))
        bottom, right = (max(0, *(p[4] for p in axis)) for axis in (rows, columns))
        padded = buffers.padded("G padded", G, ((top, bottom), (left, right)), self._dtype)
        W = self.W.astype(self._dtype, copy=False)
        dA = dLdA.transpose(1, 0, 2, 3)  # a (C_in, N, H, W) view: the phases write into it
        for r, (taps_h, y0, count_h, before_h, _) in enumerate(rows):
            for q, (taps_w, x0, count_w, before_w, _) in enumerate(columns):
                if not (taps_h and taps_w and count_h and count_w):
                    continue
                window = padded[:, :, top - before_h:top - before_h + count_h + taps_h - 1,
                                left - before_w:left - before_w + count_w + taps_w - 1]
                cols = im2col(window, (taps_h, taps_w), (1, 1), out=buffers.get(
                    f"cols {r},{q}", (G.shape[0] * taps_h * taps_w, n * count_h * count_w), self._dtype))
                # the phase's taps, flipped, in/out channels swapped: (C_in, C_out*taps), rows like cols
                W_t = W[:, :, r::sh, q::sw][:, :, ::-1, ::-1].transpose(1, 0, 2, 3)
                dA_phase = buffers.get(f"dA {r},{q}", (self.in_channels, cols.shape[1]), self._dtype)
                np.matmul(np.ascontiguousarray(W_t).reshape(self.in_channels, -1), cols, out=dA_phase)
                np.copyto(dA[:, :, y0::sh, x0::sw], dA_phase.reshape(self.in_channels, n, count_h, count_w))
