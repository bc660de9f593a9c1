"""Deletion and insertion (Petsiuk et al. 2018, RISE): is what a map highlights what the model uses?

Pixels are ranked by the map. Deletion replaces the top-ranked pixels, a growing fraction at a
time, by the image's per-channel mean; insertion starts from the all-mean image and puts the
top-ranked pixels back. The area under the class-probability curve (x = fraction of pixels, 0..1)
is compared with the same curves for random maps of the method's own smoothness
(experiments/interpret/measures.py): a faithful map has a lower deletion AUC and a higher
insertion AUC than random orderings.
"""
from __future__ import annotations

import numpy as np
import torch

from experiments.interpret.maps import probabilities

FAITHFUL_MARGIN = 0.02  # AUC difference from random maps needed to call a map more faithful than random
REMOVAL = "pixels set to the image's per-channel mean"


def curves(model, images: torch.Tensor, maps: torch.Tensor, classes: torch.Tensor, steps: int,
           insertion: bool) -> np.ndarray:
    """(N, steps + 1) probabilities of `classes` after deleting (inserting) the top-ranked
    0, 1/steps, ..., all pixels; ties in a map are broken by pixel position."""
    n, _, h, w = images.shape
    order = maps.reshape(n, -1).argsort(dim=1, descending=True, stable=True)
    ranks = order.argsort(dim=1)  # rank of every pixel, 0 = most important
    counts = torch.from_numpy(np.linspace(0, h * w, steps + 1).round().astype(np.int64))
    chosen = (ranks[:, None, :] < counts[None, :, None]).view(n, steps + 1, 1, h, w)
    baseline = images.mean(dim=(2, 3), keepdim=True)[:, None]  # (N, 1, 3, 1, 1)
    original = images[:, None]
    variants = torch.where(chosen, original, baseline) if insertion else torch.where(chosen, baseline, original)
    probs = probabilities(model, variants.reshape(-1, *images.shape[1:])).view(n, steps + 1, -1)
    return probs.gather(2, classes.view(n, 1, 1).expand(n, steps + 1, 1)).squeeze(2).numpy()


def image_aucs(curve: np.ndarray) -> np.ndarray:
    """Per image, the trapezoidal area under (N, steps + 1) curves on [0, 1]: shape (N,)."""
    return np.trapezoid(curve, np.linspace(0, 1, curve.shape[1]), axis=1)


def auc(curve: np.ndarray) -> float:
    """Mean over images of `image_aucs`."""
    return float(np.mean(image_aucs(curve)))
