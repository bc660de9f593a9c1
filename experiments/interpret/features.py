"""Problem 3: feature maps of one image and the learned filters, for up to three conv layers
(early, middle, late). Maps are taken after the ReLU that follows each convolution; grids show at
most MAX_CHANNELS channels (the title says so when capped)."""
from __future__ import annotations

import math

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

MAX_CHANNELS = 64  # larger layers show their first 64 channels (said in the title)


def chosen_layers(model: nn.Module) -> list[tuple[int, nn.Conv2d, nn.Module]]:
    """(1-based conv number, conv, module whose output is shown) for the first, middle and last conv
    of model.features. The output shown is that of the first ReLU after the conv (after any
    pooling/BN in between) and before the next conv; a model without ReLU modules shows the conv."""
    leaves = [m for m in model.features.modules() if not list(m.children())]
    convs = [i for i, m in enumerate(leaves) if isinstance(m, nn.Conv2d)]
    picks = sorted({0, len(convs) // 2, len(convs) - 1})
    out = []
    for p in picks:
        start, stop = convs[p], convs[p + 1] if p + 1 < len(convs) else len(leaves)
        shown = next((m for m in leaves[start + 1:stop] if isinstance(m, nn.ReLU)), leaves[start])
        out.append((p + 1, leaves[start], shown))
    return out


@torch.no_grad()
def feature_maps(model: nn.Module, image: torch.Tensor) -> list[torch.Tensor]:
    """Activations (C, h, w) shown for each chosen layer (see `chosen_layers`), for one image (3, 32, 32)."""
    layers = chosen_layers(model)
    captured, hooks = {}, []

    def keep(number):
        def hook(module, inputs, output):  # returns None: the forward pass is not altered
            captured.setdefault(number, output[0].float().clone())
        return hook
    for number, _, shown in layers:
        hooks.append(shown.register_forward_hook(keep(number)))
    was_training = model.training
    model.eval()
    try:
        model(image.unsqueeze(0))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return [captured[number] for number, _, _ in layers]


def _grid(n: int) -> tuple[int, int]:
    cols = min(16, math.ceil(math.sqrt(n * 2)))
    return math.ceil(n / cols), cols


def plot_feature_maps(image: torch.Tensor, maps: torch.Tensor, title: str, after: str = "after ReLU"):
    """The image beside one panel per channel (each channel on its own colour scale)."""
    n = min(len(maps), MAX_CHANNELS)
    rows, cols = _grid(n)
    fig = plt.figure(figsize=(7.2, 0.45 * rows + 1.6))
    outer = fig.add_gridspec(1, 2, width_ratios=[1, 4], wspace=0.05)
    ax = fig.add_subplot(outer[0])
    ax.imshow(image.permute(1, 2, 0).numpy())
    ax.set_title("input", fontsize=8)
    ax.axis("off")
    inner = outer[1].subgridspec(rows, cols, wspace=0.05, hspace=0.05)
    for k in range(n):
        a = fig.add_subplot(inner[k // cols, k % cols])
        a.imshow(maps[k].numpy(), cmap="viridis")
        a.axis("off")
    shown = f"first {n} of {len(maps)} channels" if n < len(maps) else f"{n} channels"
    fig.suptitle(f"{title} ({shown}, {maps.shape[1]}x{maps.shape[2]}, {after}; each channel min-max scaled)",
                 fontsize=9)
    return fig


def filter_tiles(conv: nn.Conv2d, first: bool) -> tuple[np.ndarray, str]:
    """Tiles to draw and the rule: RGB for the first layer, else each filter's strongest input channel."""
    w = conv.weight.detach().float().numpy()
    if first:
        tiles = w.transpose(0, 2, 3, 1)
        rule = "RGB, each filter min-max scaled"
    else:
        energy = (w ** 2).sum(axis=(2, 3))
        tiles = w[np.arange(len(w)), energy.argmax(1)]
        rule = "per filter, the input channel with the largest L2 norm, min-max scaled"
    lo = tiles.reshape(len(tiles), -1).min(1).reshape((-1,) + (1,) * (tiles.ndim - 1))
    hi = tiles.reshape(len(tiles), -1).max(1).reshape((-1,) + (1,) * (tiles.ndim - 1))
    return (tiles - lo) / np.where(hi > lo, hi - lo, 1.0), rule


def plot_filters(conv: nn.Conv2d, first: bool, title: str):
    tiles, rule = filter_tiles(conv, first)
    n = min(len(tiles), MAX_CHANNELS)
    rows, cols = _grid(n)
    fig, axes = plt.subplots(rows, cols, figsize=(7.2, 0.45 * rows + 0.8), squeeze=False)
    for k, ax in enumerate(axes.flat):
        if k < n:
            ax.imshow(tiles[k], cmap=None if first else "gray", interpolation="nearest")
        ax.axis("off")
    shown = f"first {n} of {len(tiles)}" if n < len(tiles) else f"{n}"
    fig.suptitle(f"{title}: {shown} filters, {rule}", fontsize=9)
    return fig, rule


def plot_gabor_fits(kernels: np.ndarray, fitted: list, r2: list, best: list, worst: list, title: str):
    picks = [(i, "best") for i in best] + [(i, "worst") for i in worst]
    fig, axes = plt.subplots(2, len(picks), figsize=(7.2, 2.2), squeeze=False)
    for col, (i, tag) in enumerate(picks):
        lo, hi = float(kernels[i].min()), float(kernels[i].max())
        for row, img in enumerate((kernels[i], fitted[i])):  # fit drawn on its filter's grey scale
            ax = axes[row, col]
            ax.imshow(img, cmap="gray", interpolation="nearest", vmin=lo, vmax=hi)
            ax.set_xticks([]), ax.set_yticks([])
        axes[0, col].set_title(f"{tag} #{i}\nR²={r2[i]:.2f}", fontsize=7)
    axes[0, 0].set_ylabel("filter", fontsize=7)
    axes[1, 0].set_ylabel("Gabor fit", fontsize=7)
    fig.suptitle(title, fontsize=9, y=1.08)
    return fig
