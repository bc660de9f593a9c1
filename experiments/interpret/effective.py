"""Problem 3's filters as the network applies them to the pixels. A frozen stem (the patch whitening
of experiments/training/models.py) is not learned, and the first learned conv reads its channels, not
pixels; composing the two linear maps gives each learned filter as one RGB filter over the combined
receptive field (2x2 whitening then 3x3: 4x4), divided by the model's per-channel input std (it
normalises inside), so it acts on the [0, 1] image.

The ReLU between the stem and the learned conv is left out. The whitening filters come in pairs f, -f,
and relu(a) - relu(-a) = a, so the composition is (twice) the odd part of the real map: the part that
is linear in the image, exactly; the even part (|a|) is not a filter.
"""
from __future__ import annotations

import numpy as np
from torch import nn


def compose_convs(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Weights (J, C, a, b) of a stride-1 conv, then (K, J, c, d) of another -> (K, C, a + c - 1, b + d - 1):
    the one conv equal to the two in turn (biases and padding aside)."""
    k_out, j, c, d = second.shape
    if first.shape[0] != j:
        raise ValueError(f"the second conv reads {j} channels, the first makes {first.shape[0]}")
    _, channels, a, b = first.shape
    out = np.zeros((k_out, channels, a + c - 1, b + d - 1))
    for u in range(a):
        for v in range(b):
            out[:, :, u:u + c, v:v + d] += np.einsum("kjxy,jc->kcxy", second, first[:, :, u, v])
    return out


def effective_filters(model: nn.Module) -> tuple[np.ndarray, dict]:
    """The first learned conv of model.features composed with every frozen conv before it
    (`compose_convs`), in pixel units (divided by model.std per input channel when it has one).
    Returns the filters (K, 3, h, w) and what was composed: {"layer" (1-based number of the learned
    conv), "frozen_before", "kernel_size"}."""
    convs = [m for m in model.features.modules() if isinstance(m, nn.Conv2d)]
    number = next(i for i, c in enumerate(convs, 1) if getattr(c, "learned", True))
    chain = convs[:number]
    if any(c.stride != (1, 1) or c.dilation != (1, 1) or c.groups != 1 for c in chain):
        raise ValueError("effective filters need stride-1, undilated, ungrouped convs before the first learned one")
    weights = chain[0].weight.detach().double().numpy()
    for conv in chain[1:]:
        weights = compose_convs(weights, conv.weight.detach().double().numpy())
    std = getattr(model, "std", None)
    if std is not None:
        weights = weights / std.detach().double().numpy().reshape(1, -1, 1, 1)
    return weights, {"layer": number, "frozen_before": number - 1, "kernel_size": list(weights.shape[2:])}
