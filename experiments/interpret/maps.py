"""Shared map utilities: upsampling and a [0, 1] normalisation that never divides by zero."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def normalize_maps(maps: torch.Tensor) -> torch.Tensor:
    """Min-max scale each map of (N, H, W) to [0, 1]; a constant map becomes all zeros."""
    flat = maps.flatten(1)
    lo = flat.min(1, keepdim=True).values
    span = flat.max(1, keepdim=True).values - lo
    scaled = torch.where(span > 0, (flat - lo) / span.clamp_min(1e-12), torch.zeros_like(flat))
    return scaled.view_as(maps)


def upsample(maps: torch.Tensor, size: int = 32) -> torch.Tensor:
    """(N, h, w) -> (N, size, size), bilinear."""
    return F.interpolate(maps.unsqueeze(1), size=(size, size), mode="bilinear", align_corners=False).squeeze(1)


def to_float_images(x_uint8_nhwc) -> torch.Tensor:
    """uint8 (N, 32, 32, 3) numpy -> float (N, 3, 32, 32) in [0, 1]."""
    return torch.from_numpy(x_uint8_nhwc).permute(0, 3, 1, 2).float() / 255.0


@torch.no_grad()
def probabilities(model, images: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """Softmax outputs (N, 10) in float32, eval mode (restored afterwards)."""
    was_training = model.training
    model.eval()
    try:
        return torch.cat([model(images[i:i + batch_size]).float().softmax(1)
                          for i in range(0, len(images), batch_size)])
    finally:
        model.train(was_training)
