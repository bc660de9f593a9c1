"""Model-parameter randomisation test (Adebayo et al. 2018, "Sanity checks for saliency maps").

A map that barely changes when the learned weights are replaced by random ones cannot be
showing what the network learned. Measured as the Spearman rank correlation, per image,
between the maps of the trained model and of a copy with every conv and linear layer
re-initialised (BatchNorm statistics kept, eval mode), at several re-initialisations; judged by
the interval of the mean over the measured images (experiments/writeup/map_verdicts.py).
"""
from __future__ import annotations

import copy

import numpy as np
import torch
from scipy.stats import spearmanr

# The project's own threshold (Adebayo et al. compare by eye and give none): a mean rank correlation
# whose interval lies below it means the map depends on the learned weights.
SANITY_THRESHOLD = 0.5
SANITY_SEED = 2018  # the first re-initialisation's seed; not 0, which may have initialised the model itself


def randomized_copy(model: torch.nn.Module, seed: int = SANITY_SEED) -> torch.nn.Module:
    """A deep copy with every conv and linear layer re-initialised by torch's default init (BN kept,
    eval mode). The caller's random number stream is left as it was. (The default seed is not 0:
    a model itself initialised after manual_seed(0) would get its own weights back.)"""
    clone = copy.deepcopy(model)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for m in clone.modules():
            if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
                m.reset_parameters()
    return clone.eval()


def rank_correlations(a: torch.Tensor, b: torch.Tensor) -> list[float]:
    """Spearman correlation of each pair of maps in two (N, ...) stacks; a constant map (no
    ranking at all) counts as 0."""
    values = []
    for x, y in zip(a.flatten(1).double().numpy(), b.flatten(1).double().numpy()):
        values.append(0.0 if np.ptp(x) == 0 or np.ptp(y) == 0 else float(spearmanr(x, y).statistic))
    return values


def rank_correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean over images of `rank_correlations` (0 for an empty stack)."""
    values = rank_correlations(a, b)
    return float(np.mean(values)) if values else 0.0
