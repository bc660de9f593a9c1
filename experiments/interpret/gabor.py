"""Problem 3: are the first-layer filters Gabor-like? Measured, not eyeballed.

Each filter (its colour channel with the most energy) is fitted by a 2-D Gabor,
  g(x, y) = A exp(-(x'^2 + g^2 y'^2) / (2 s^2)) cos(2 pi f x' + phi) + c,
  x' = (x - x0) cos t + (y - y0) sin t,  y' = -(x - x0) sin t + (y - y0) cos t,
by least squares from several starts; goodness of fit is R^2. The same fit on random filters
of the same shape is the null: a 9-parameter Gabor fits a 3x3 kernel (9 pixels) perfectly, and
fits much of any 5x5 kernel, so only a fraction clearly above the null says "Gabor-like".
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import least_squares

R2_THRESHOLD = 0.7


def gabor(p: np.ndarray, size_h: int, size_w: int) -> np.ndarray:
    amp, theta, freq, phase, sigma, gamma, x0, y0, offset = p
    y, x = np.mgrid[0:size_h, 0:size_w].astype(float)
    x, y = x - (size_w - 1) / 2 - x0, y - (size_h - 1) / 2 - y0
    xr = x * np.cos(theta) + y * np.sin(theta)
    yr = -x * np.sin(theta) + y * np.cos(theta)
    return amp * np.exp(-(xr ** 2 + gamma ** 2 * yr ** 2) / (2 * sigma ** 2)) * np.cos(2 * np.pi * freq * xr + phase) + offset


def fit_gabor(kernel: np.ndarray) -> tuple[float, np.ndarray]:
    """(R^2, fitted kernel) of the best of several least-squares starts."""
    h, w = kernel.shape
    sst = float(((kernel - kernel.mean()) ** 2).sum())
    if sst == 0:
        return 0.0, np.full_like(kernel, kernel.mean())
    scale = float(np.abs(kernel).max())
    lower = [-4 * scale, -np.pi, 0.0, -np.pi, 0.3, 0.2, -w / 2, -h / 2, -scale]
    upper = [4 * scale, np.pi, 0.5, np.pi, max(h, w), 5.0, w / 2, h / 2, scale]
    best = (np.inf, None)
    for theta in np.linspace(0, np.pi, 4, endpoint=False):  # 8 starts: orientations x phases
        for phase in (0.0, np.pi / 2):
            start = [scale, theta, 0.2, phase, max(h, w) / 3, 1.0, 0.0, 0.0, 0.0]
            res = least_squares(lambda p: (gabor(p, h, w) - kernel).ravel(), start,
                                bounds=(lower, upper), max_nfev=60)
            if res.cost < best[0]:
                best = (res.cost, res.x)
    fitted = gabor(best[1], h, w)
    return float(1 - ((fitted - kernel) ** 2).sum() / sst), fitted


def strongest_channel(filters: np.ndarray) -> np.ndarray:
    """(C_out, C_in, k, k) -> (C_out, k, k): each filter's input channel with the largest L2 norm."""
    energy = (filters ** 2).sum(axis=(2, 3))
    return filters[np.arange(len(filters)), energy.argmax(1)]


def gabor_test(filters: np.ndarray, seed: int = 0) -> dict:
    """R^2 of each first-layer filter and of norm-matched random filters, with the verdict."""
    kernels = strongest_channel(filters)
    fits = [fit_gabor(k) for k in kernels]
    r2 = np.array([f[0] for f in fits])
    rng = np.random.default_rng(seed)
    null = rng.standard_normal(kernels.shape)
    null *= np.linalg.norm(kernels.reshape(len(kernels), -1), axis=1).reshape(-1, 1, 1) / \
        np.linalg.norm(null.reshape(len(null), -1), axis=1).reshape(-1, 1, 1)
    null_r2 = np.array([fit_gabor(k)[0] for k in null])
    order = np.argsort(-r2)
    result = {"kernel_size": list(kernels.shape[1:]), "n_filters": int(len(r2)), "threshold": R2_THRESHOLD,
              "channel_rule": "each filter's colour channel with the largest L2 norm",
              "r2": r2.round(4).tolist(), "median_r2": float(np.median(r2)),
              "fraction": float((r2 >= R2_THRESHOLD).mean()),
              "null_median_r2": float(np.median(null_r2)), "null_fraction": float((null_r2 >= R2_THRESHOLD).mean()),
              "best": [int(i) for i in order[:4]], "worst": [int(i) for i in order[-4:][::-1]]}
    result["interpretation"] = describe_gabor(result)
    return result, kernels, [f[1] for f in fits]


def describe_gabor(r: dict) -> str:
    """The answer to "does the network learn Gabor-like filters?", in the measurement's terms."""
    k = "x".join(map(str, r["kernel_size"]))
    head = (f"{100 * r['fraction']:.0f}% of the {r['n_filters']} first-layer {k} filters reach R² ≥ {r['threshold']} "
            f"(median R² {r['median_r2']:.2f}); norm-matched random filters reach it {100 * r['null_fraction']:.0f}% "
            f"of the time (median {r['null_median_r2']:.2f}).")
    if min(r["kernel_size"]) <= 3:
        return head + (f" With {k} kernels a 9-parameter Gabor fits almost anything, so the test cannot tell: "
                       "the honest answer for this layer is inconclusive.")
    margin = r["fraction"] - r["null_fraction"]
    if margin >= 0.2 and r["fraction"] >= 0.5:
        return head + " The trained filters fit Gabors clearly better than chance: yes, most are Gabor-like."
    if margin >= 0.1:
        return head + " Some trained filters fit Gabors better than chance: partly Gabor-like."
    return head + (" The trained filters fit Gabors no better than random ones: no evidence of Gabor-like "
                   "filters at this kernel size and training budget.")
