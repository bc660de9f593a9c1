"""What the maps show about a network, measured over many images (the interpretation of Problems 4-5).

Each function takes maps (N, H, W) in [0, 1], as the methods return them, or a model and images, and
returns per-image numbers; the report's verdicts (experiments/writeup/verdicts.py) turn those into means
with intervals. A blank map (max <= 0: no location raises the class score) has no mass, no ranking
and no shape, so a per-image measure gives None for it instead of a number that would read as a finding.

- `centre_mass`, `region_mass`, `mass_centre`: where the maps put their mass, against the share of the
  area of a region (the central square, the border ring, the four corner squares), and to which side
  of the image it leans.
- `layout_correlations`: how much a map looks like the same network's maps of other images (its
  rank correlation with their mean): a network that favours some locations whatever the image has
  maps alike across images.
- `cross_class_partners`: each image paired with an image of another class (the baseline of the
  agreement between two networks' maps).
- `peak_places`: where each map is strongest, named by the third of the image it falls in.
- `paired_rank_correlations`: the same place? Two families' maps of one image, or one method's maps
  of one image for two classes (class sensitivity).
- `smoothness`, `smooth_random_maps`, `matching_resolution`: random maps as smooth as a method's own,
  so a deletion test compares orderings rather than their grain (deleting scattered pixels destroys
  an image faster than deleting a smooth region, whatever the order).
- `faithfulness`: per-image deletion and insertion AUCs of the maps and of such random maps.
"""
from __future__ import annotations

import numpy as np
import torch

from experiments.interpret.faithfulness import curves, image_aucs
from experiments.interpret.maps import normalize_maps, upsample
from experiments.interpret.sanity import rank_correlations

CENTRE_SIDE = 0.5     # the central square spans half of each side: a quarter of the area
BORDER_WIDTH = 0.125  # the border ring: the outer eighth of each side (4 px of 32), 44% of the area
CORNER_SIDE = 0.25    # each corner square spans a quarter of each side (8 px of 32); the four cover 25%


def blank_maps(maps: torch.Tensor) -> list[bool]:
    """Per map of (N, H, W): True where no value is positive (the rule of the sanity check)."""
    return (maps.flatten(1).amax(1) <= 0).tolist()


def centre_region(size: int, side: float = CENTRE_SIDE) -> torch.Tensor:
    """(size, size) bool: the centred square of round(side * size) pixels a side."""
    k = round(side * size)
    lo = (size - k) // 2
    region = torch.zeros(size, size, dtype=torch.bool)
    region[lo:lo + k, lo:lo + k] = True
    return region


def border_region(size: int, width: float = BORDER_WIDTH) -> torch.Tensor:
    """(size, size) bool: the ring of round(width * size) pixels along every edge."""
    k = round(width * size)
    region = torch.ones(size, size, dtype=torch.bool)
    region[k:size - k, k:size - k] = False
    return region


def corner_region(size: int, side: float = CORNER_SIDE) -> torch.Tensor:
    """(size, size) bool: the four corner squares of round(side * size) pixels a side."""
    k = round(side * size)
    region = torch.zeros(size, size, dtype=torch.bool)
    for rows in (slice(0, k), slice(size - k, size)):
        for cols in (slice(0, k), slice(size - k, size)):
            region[rows, cols] = True
    return region


def region_mass(maps: torch.Tensor, region: torch.Tensor) -> tuple[list[float | None], float]:
    """Per map, the fraction of its mass (values below 0 count as 0) inside `region` (H, W) bool, None
    for a blank map; and the region's share of the area, which is what a uniform map gives."""
    mass = maps.float().clamp_min(0)
    total = mass.flatten(1).sum(1)
    inside = mass[:, region].sum(1)
    fractions = [float(i / t) if t > 0 else None for i, t in zip(inside, total)]
    return fractions, float(region.float().mean())


def centre_mass(maps: torch.Tensor, side: float = CENTRE_SIDE) -> tuple[list[float | None], float]:
    """`region_mass` of the central square."""
    return region_mass(maps, centre_region(maps.shape[-1], side))


def mass_centre(maps: torch.Tensor) -> list[tuple[float, float] | None]:
    """Per map, where the centre of its mass (values below 0 count as 0) lies relative to the image's
    centre, in pixels: (right, down), so (0, 0) for a map symmetric about the centre; None if blank."""
    mass = maps.float().clamp_min(0)
    size = maps.shape[-1]
    pos = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    total = mass.flatten(1).sum(1)
    right = (mass.sum(1) * pos).sum(1)  # mass per column, weighed by its offset
    down = (mass.sum(2) * pos).sum(1)
    return [(float(x / t), float(y / t)) if t > 0 else None for x, y, t in zip(right, down, total)]


ROWS = ("top", "middle", "bottom")
COLUMNS = ("left", "centre", "right")


def peak_places(maps: torch.Tensor) -> list[str | None]:
    """Per map, the third of the image (3 x 3 parts) holding its strongest pixel: 'centre', 'top
    left', 'middle right', ...; None for a blank map. Ties go to the first in reading order."""
    size = maps.shape[-1]
    places = []
    for m, blank in zip(maps.float(), blank_maps(maps)):
        if blank:
            places.append(None)
            continue
        row, col = divmod(int(m.flatten().argmax()), size)
        r, c = ROWS[min(2, 3 * row // size)], COLUMNS[min(2, 3 * col // size)]
        places.append("centre" if (r, c) == ("middle", "centre") else f"{r} {c}")
    return places


def paired_rank_correlations(a: torch.Tensor, b: torch.Tensor) -> list[float | None]:
    """Spearman correlation of each pair of maps in two (N, H, W) stacks; None where either is blank."""
    rho = rank_correlations(a, b)
    return [None if x or y else r for r, x, y in zip(rho, blank_maps(a), blank_maps(b))]


def mean_of_others(maps: torch.Tensor) -> torch.Tensor | None:
    """Per map of (N, H, W), the mean of the network's other non-blank maps (leave one out): where its
    evidence usually lies, whatever the image. None when fewer than two maps are non-blank."""
    blank = torch.tensor(blank_maps(maps), dtype=torch.bool)
    kept = maps.float() * ~blank.view(-1, 1, 1)
    n = int((~blank).sum())
    if n < 2:
        return None
    # a blank map adds nothing to the total, so its "others" are all n non-blank maps
    return (kept.sum(0).unsqueeze(0) - kept) / (n - (~blank).float().view(-1, 1, 1))


def layout_correlations(maps: torch.Tensor) -> list[float | None]:
    """Per map of (N, H, W), the Spearman correlation with the mean of the network's other non-blank
    maps (`mean_of_others`): near 1 when the maps share one layout whatever the image, near 0 when each
    image's map is its own. None for a blank map, or when no other map is non-blank."""
    others = mean_of_others(maps)
    if others is None:
        return [None] * len(maps)
    rho = rank_correlations(maps, others)
    return [None if b else r for r, b in zip(rho, blank_maps(maps))]


def cross_class_partners(labels, seed: int = 0) -> list[int | None]:
    """For each image, the position of another image of a different class: the images in a random order
    (seed), stably sorted by class, each paired with the one m places further round (m: the largest
    class's count), which never shares its class when m <= n / 2. None where it would."""
    labels = np.asarray(labels)
    n = len(labels)
    if n == 0:
        return []
    order = np.random.default_rng(seed).permutation(n)
    order = order[np.argsort(labels[order], kind="stable")]
    m = int(np.bincount(np.unique(labels, return_inverse=True)[1]).max())
    partner = np.empty(n, dtype=int)
    partner[order] = order[(np.arange(n) + m) % n]
    return [int(p) if labels[p] != labels[i] else None for i, p in enumerate(partner)]


def smoothness(maps: torch.Tensor) -> list[float | None]:
    """Per map, the correlation of each pixel with its right and lower neighbours (pooled): near 1 for
    a map that varies slowly, near 0 for pixel noise; None for a constant map."""
    m = maps.double()
    x = torch.cat([m[:, :, :-1].flatten(1), m[:, :-1, :].flatten(1)], 1)
    y = torch.cat([m[:, :, 1:].flatten(1), m[:, 1:, :].flatten(1)], 1)
    x, y = x - x.mean(1, keepdim=True), y - y.mean(1, keepdim=True)
    denom = (x.square().sum(1) * y.square().sum(1)).sqrt()
    return [float(c / d) if d > 0 else None for c, d in zip((x * y).sum(1), denom)]


def smooth_random_maps(n: int, resolution: int, size: int, generator: torch.Generator) -> torch.Tensor:
    """(n, size, size) random maps in [0, 1]: uniform noise at resolution x resolution, upsampled the
    way the methods' maps are (bilinear, `maps.upsample`) and min-max scaled."""
    return normalize_maps(upsample(torch.rand(n, resolution, resolution, generator=generator), size))


def matching_resolution(target: float, size: int, resolutions, seed: int = 0, n: int = 64) -> int:
    """Of `resolutions`, the one whose smooth random maps' mean `smoothness` is closest to `target`."""
    gen = torch.Generator().manual_seed(seed)
    gaps = [(abs(float(np.mean(smoothness(smooth_random_maps(n, r, size, gen)))) - target), r)
            for r in resolutions]
    return min(gaps)[1]


def faithfulness(model, images: torch.Tensor, maps: torch.Tensor, classes: torch.Tensor, steps: int,
                 n_random: int, resolution: int, seed: int = 0, batch: int = 100,
                 baseline: torch.Tensor | None = None) -> dict:
    """Per-image deletion and insertion AUCs (experiments.interpret.faithfulness.curves): "deletion"
    and "insertion", each (N,), for `maps`; "random_deletion" and "random_insertion", each
    (n_random, N), for n_random `smooth_random_maps` per image at `resolution` (fixed seed); and, given
    `baseline` maps (N, H, W), "baseline_deletion" and "baseline_insertion" for them."""
    if n_random < 1:
        raise ValueError("faithfulness needs at least one random map to compare with")
    classes = torch.as_tensor(classes, dtype=torch.long).view(-1)
    if len(images) == 0:
        return {"deletion": np.zeros(0), "insertion": np.zeros(0), "random_deletion": np.zeros((n_random, 0)),
                "random_insertion": np.zeros((n_random, 0))}
    gen = torch.Generator().manual_seed(seed)
    random_maps = [smooth_random_maps(len(images), resolution, images.shape[-1], gen) for _ in range(n_random)]

    def aucs(m: torch.Tensor, insertion: bool) -> np.ndarray:
        return np.concatenate([image_aucs(curves(model, images[i:i + batch], m[i:i + batch], classes[i:i + batch],
                                                 steps, insertion)) for i in range(0, len(images), batch)])
    out = {"deletion": aucs(maps, False), "insertion": aucs(maps, True),
           "random_deletion": np.stack([aucs(r, False) for r in random_maps]),
           "random_insertion": np.stack([aucs(r, True) for r in random_maps])}
    if baseline is not None:
        out.update(baseline_deletion=aucs(baseline, False), baseline_insertion=aucs(baseline, True))
    return out
