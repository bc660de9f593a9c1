"""Problem 3: feature maps of one image and the learned filters, for three conv layers (first,
middle, last). Maps are taken after the ReLU that follows each convolution. Every output channel,
and every filter, gets its own tile; `tile_layout` sizes each grid for the printed report (A4, 180 mm
of text width): half or full width, square tiles a small gap apart."""
from __future__ import annotations

import math
import textwrap
from typing import NamedTuple

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from matplotlib.collections import PatchCollection  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402
from torch import nn  # noqa: E402

from experiments.interpret.gabor import strongest_channel  # noqa: E402

# drawn sizes, in inches: save_figure adds 0.1 in of margin on each side, so a figure of these widths
# prints at about 1:1 across the report's text (7.09 in) or half of it, two figures to a row (3.44 in)
WIDTH_IN = {"full": 6.85, "half": 3.25}
SMALL_SIDE = 7      # maps or kernels this small stay legible at 1/32 of the page (5.5 mm, >= 0.8 mm a pixel)
MAX_HALF_ROWS = 8   # a grid that needs more rows at half width is drawn full width
GAP = 0.06          # space between tiles, as a fraction of a tile
FONT_PT = 7.5
INPUT_IN = 0.5      # the input image, drawn once in the header of a feature-map figure
FIGURE_DPI = 200    # 5.5 mm tiles get ~43 px: each pixel of a 7x7 map is a clear block
MAPS_SCALE_RULE = ("each channel is min-max scaled on its own colour scale (viridis), so a tile shows where its "
                   "channel responds, not how strongly compared with the others; a constant channel is drawn dark")


# a filter "changed in training" when it moved by more than this fraction of its size at initialisation
# (L2 norms): below it the grid still shows the initialisation, whatever training did elsewhere
CHANGED = 0.1


class TileLayout(NamedTuple):
    rows: int
    cols: int
    width: str  # "half" or "full": the share of the report's text width the figure is drawn for


def tile_layout(n: int, side: int) -> TileLayout:
    """Grid for n tiles of side x side pixels: 32 tiles across the page for small maps and kernels
    (<= SMALL_SIDE), else 16; half as many columns at half width, which is used when the grid fits
    in MAX_HALF_ROWS rows there."""
    across = 32 if side <= SMALL_SIDE else 16
    if n <= across // 2 * MAX_HALF_ROWS:
        cols = min(n, across // 2)
        return TileLayout(math.ceil(n / cols), cols, "half")
    return TileLayout(math.ceil(n / across), across, "full")


def effective_layout(n: int) -> TileLayout:
    """Problem 3's pixel-space filters, large enough to judge a Gabor shape by eye: 16 tiles across the
    full text width (11 mm a tile, under 3 mm a pixel of a 4x4 filter)."""
    cols = min(n, 16)
    return TileLayout(math.ceil(n / cols), cols, "full")


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


class Tile(NamedTuple):
    """One tile's place on the grid's axes, in inches from the grid's top left corner."""
    ax: object
    extent: tuple[float, float, float, float]  # left, right, bottom, top, as imshow takes them

    def imshow(self, data, **kwargs):
        return self.ax.imshow(data, extent=self.extent, **kwargs)


def _tile_figure(n: int, layout: TileLayout, title: str, header_min_in: float = 0.0):
    """A figure of layout's width: a header band (title at the right of `header_min_in` of free space)
    over n square tiles, GAP apart and with no empty rows. Returns the figure and the tiles in reading
    order. All tiles share one axes measured in inches: an axes per tile cost most of the features
    stage (17 ms each to make, 600 of them for an m-width network)."""
    width = WIDTH_IN[layout.width]
    text_in = width - header_min_in - (0.1 if header_min_in else 0.0)
    chars = int(text_in * 72 / (0.55 * FONT_PT))  # 0.55 em: DejaVu Sans' mean character width, rounded up
    title = textwrap.fill(title, chars)
    header = max(header_min_in, (title.count("\n") + 1) * 1.3 * FONT_PT / 72) + 0.08
    tile = width / (layout.cols + GAP * (layout.cols - 1))
    grid = tile * (layout.rows + GAP * (layout.rows - 1))
    fig = plt.figure(figsize=(width, header + grid))
    ax = fig.add_axes((0, 0, 1, grid / (header + grid)))
    ax.set_xlim(0, width)
    ax.set_ylim(grid, 0)  # rows run down the page
    ax.set_autoscale_on(False)
    ax.axis("off")
    step = tile * (1 + GAP)
    corners = [(k % layout.cols * step, k // layout.cols * step) for k in range(n)]
    # a thin grey frame keeps pale tiles apart from the white gaps
    ax.add_collection(PatchCollection([Rectangle(c, tile, tile) for c in corners], facecolor="none",
                                      edgecolor="0.6", linewidth=0.4, zorder=3))
    left = (header_min_in + 0.1) / width if header_min_in else 0.0
    fig.text(left, 1 - 0.04 / (header + grid), title, ha="left", va="top", fontsize=FONT_PT)
    return fig, [Tile(ax, (x, x + tile, y + tile, y)) for x, y in corners]


def filter_changes(trained: nn.Conv2d, initial: nn.Conv2d) -> dict:
    """How far training moved each filter from its initialisation: per filter, the L2 norm of the
    change over the initial filter's norm (over the layer's mean norm where a filter started at zero).
    Returns how many moved more than CHANGED, of how many, and the median fraction."""
    now, start = (c.weight.detach().double().flatten(1) for c in (trained, initial))
    size = start.norm(dim=1)
    size = torch.where(size > 0, size, size.mean().clamp_min(1e-12))
    moved = ((now - start).norm(dim=1) / size).numpy()
    return {"changed": int((moved > CHANGED).sum()), "of": len(moved), "median_change": float(np.median(moved)),
            "threshold": CHANGED}


def constant_channels(maps: torch.Tensor) -> int:
    """How many channels of maps (C, h, w) have one value everywhere (after a ReLU: zero everywhere)."""
    flat = maps.flatten(1)
    return int((flat.amax(1) == flat.amin(1)).sum())


def plot_feature_maps(image: torch.Tensor, maps: torch.Tensor, title: str, layout: TileLayout,
                      after: str = "after ReLU"):
    """One tile per channel of maps (C, h, w), each on its own colour scale (MAPS_SCALE_RULE), under
    a header with the input image (3, H, W) in [0, 1] and the title."""
    n, h, w = maps.shape
    constant = constant_channels(maps)
    words = (f"{title}: all {n} channels, {h}×{w}, {after}; each channel min-max scaled on its own"
             + (f" ({constant} constant, drawn dark)" if constant else ""))
    fig, tiles = _tile_figure(n, layout, words, header_min_in=INPUT_IN)
    height = fig.get_figheight()
    inset = fig.add_axes([0, 1 - (INPUT_IN + 0.04) / height, INPUT_IN / fig.get_figwidth(), INPUT_IN / height])
    inset.imshow(image.permute(1, 2, 0).numpy())
    inset.axis("off")
    for tile, channel in zip(tiles, maps.numpy()):
        tile.imshow(channel, cmap="viridis", vmin=channel.min(), vmax=channel.max())
    return fig


def filter_tiles(conv: nn.Conv2d | np.ndarray, first: bool) -> tuple[np.ndarray, str]:
    """Tiles to draw and the rule: RGB for the first layer (or RGB filters given as an array
    (K, 3, h, w)), else each filter's strongest input channel."""
    w = np.asarray(conv, dtype=np.float64) if isinstance(conv, np.ndarray) else conv.weight.detach().float().numpy()
    if first:
        tiles = w.transpose(0, 2, 3, 1)
        rule = "RGB, each filter min-max scaled"
    else:
        tiles = w[np.arange(len(w)), strongest_channel(w)]
        rule = "per filter, the input channel with the largest L2 norm, min-max scaled"
    lo = tiles.reshape(len(tiles), -1).min(1).reshape((-1,) + (1,) * (tiles.ndim - 1))
    hi = tiles.reshape(len(tiles), -1).max(1).reshape((-1,) + (1,) * (tiles.ndim - 1))
    return (tiles - lo) / np.where(hi > lo, hi - lo, 1.0), rule


def plot_filters(conv: nn.Conv2d, first: bool, title: str, layout: TileLayout):
    """One tile per filter of conv (see `filter_tiles`); returns the figure and the rule its tiles follow."""
    tiles, rule = filter_tiles(conv, first)
    k = "×".join(map(str, conv.kernel_size))
    fig, places = _tile_figure(len(tiles), layout, f"{title}: all {len(tiles)} filters ({k}), {rule}")
    for place, tile in zip(places, tiles):
        place.imshow(tile, cmap=None if first else "gray", vmin=0, vmax=1, interpolation="nearest")
    return fig, rule


def plot_effective_filters(weights: np.ndarray, title: str, layout: TileLayout):
    """One RGB tile per pixel-space filter (K, 3, h, w) (experiments/interpret/effective.py), each min-max
    scaled; returns the figure and the rule its tiles follow."""
    tiles, rule = filter_tiles(weights, True)
    k = "×".join(map(str, weights.shape[2:]))
    fig, places = _tile_figure(len(tiles), layout, f"{title}: all {len(tiles)} filters ({k}) in pixel space, {rule}")
    for place, tile in zip(places, tiles):
        place.imshow(tile, vmin=0, vmax=1, interpolation="nearest")
    return fig, rule


def plot_gabor_fits(kernels: np.ndarray, fitted: list, r2: list, best: list, worst: list, title: str):
    picks = [(i, "best") for i in best] + [(i, "worst") for i in worst]
    fig, axes = plt.subplots(2, len(picks), figsize=(6.4, 2.2), squeeze=False)  # prints near 1:1 (labels >= 7 pt)
    for col, (i, tag) in enumerate(picks):
        lo, hi = float(kernels[i].min()), float(kernels[i].max())
        for row, img in enumerate((kernels[i], fitted[i])):  # fit drawn on its filter's grey scale
            ax = axes[row, col]
            ax.imshow(img, cmap="gray", interpolation="nearest", vmin=lo, vmax=hi)
            ax.set_xticks([]), ax.set_yticks([])
        axes[0, col].set_title(f"{tag} #{i}\nR²={r2[i]:.2f}", fontsize=FONT_PT)
    axes[0, 0].set_ylabel("filter", fontsize=FONT_PT)
    axes[1, 0].set_ylabel("Gabor fit", fontsize=FONT_PT)
    # wrapped to the figure's width: a longer line would widen the saved figure and shrink it in print
    fig.suptitle(textwrap.fill(title, int(6.4 * 72 / (0.55 * 9))), fontsize=9, y=1.12)
    return fig
