"""Measurements behind the interpretation text.

- Sanity check (Adebayo et al. 2018, model-parameter randomisation): Spearman rank correlation
  between a method's maps for the trained model and for the same model with re-initialised
  weights. A map that barely changes does not depend on what the model learned.
- Faithfulness (Petsiuk et al. 2018): deletion and insertion curves. Pixels are removed (set to
  the image's per-channel mean) or inserted (into an all-mean image) in the order the map ranks
  them; the area under the class-probability curve is compared with random orderings.
"""
from __future__ import annotations

import copy

import numpy as np
import torch
from scipy.stats import spearmanr

from experiments.interpret.maps import probabilities


def randomized_copy(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """A deep copy with every conv and linear layer re-initialised (BN statistics kept)."""
    clone = copy.deepcopy(model)
    torch.manual_seed(seed)
    for m in clone.modules():
        if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
            m.reset_parameters()
    return clone.eval()


def rank_correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean over images of the Spearman correlation of two (N, H, W) map stacks; constant maps
    (no ranking at all) count as 0."""
    values = []
    for x, y in zip(a.flatten(1).numpy(), b.flatten(1).numpy()):
        if np.ptp(x) == 0 or np.ptp(y) == 0:
            values.append(0.0)
        else:
            values.append(float(spearmanr(x, y).statistic))
    return float(np.mean(values)) if values else 0.0


def _curves(model, images, maps, classes, steps: int, insertion: bool) -> np.ndarray:
    """(N, steps + 1) probabilities of `classes` as pixels are deleted or inserted by rank."""
    n, _, h, w = images.shape
    order = maps.flatten(1).argsort(dim=1, descending=True)  # most important first
    baseline = images.mean(dim=(2, 3), keepdim=True).expand_as(images)
    counts = np.linspace(0, h * w, steps + 1).round().astype(int)
    rows = []
    for i in range(n):
        ranks = torch.empty(h * w, dtype=torch.long)
        ranks[order[i]] = torch.arange(h * w)
        variants = []
        for k in counts:
            chosen = (ranks < k).view(1, h, w)  # the k top-ranked pixels
            if insertion:
                variants.append(torch.where(chosen, images[i], baseline[i]))
            else:
                variants.append(torch.where(chosen, baseline[i], images[i]))
        probs = probabilities(model, torch.stack(variants))[:, classes[i]]
        rows.append(probs.numpy())
    return np.array(rows)


def _auc(curves: np.ndarray) -> float:
    x = np.linspace(0, 1, curves.shape[1])
    return float(np.mean(np.trapezoid(curves, x, axis=1)))


def deletion_insertion(model, images, maps, classes, steps: int, random_baselines: int, seed: int = 0) -> dict:
    """AUCs for the method's maps and the mean AUCs for random maps (same images, classes)."""
    out = {"deletion_auc": _auc(_curves(model, images, maps, classes, steps, False)),
           "insertion_auc": _auc(_curves(model, images, maps, classes, steps, True))}
    gen = torch.Generator().manual_seed(seed)
    rand_del, rand_ins = [], []
    for _ in range(random_baselines):
        noise = torch.rand(maps.shape, generator=gen)
        rand_del.append(_auc(_curves(model, images, noise, classes, steps, False)))
        rand_ins.append(_auc(_curves(model, images, noise, classes, steps, True)))
    out["random_deletion_auc"] = float(np.mean(rand_del))
    out["random_insertion_auc"] = float(np.mean(rand_ins))
    out["steps"], out["random_baselines"] = steps, random_baselines
    out["removal"] = "pixels set to the image's per-channel mean"
    return out
