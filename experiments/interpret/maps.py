"""Shared map utilities: upsampling, a [0, 1] normalisation that never divides by zero, and a
context that lets a method run a model without leaving a trace on it."""
from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F


def normalize_maps(maps: torch.Tensor) -> torch.Tensor:
    """Min-max scale each map of (N, H, W) to [0, 1]; a constant (or all-zero) map becomes all zeros."""
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


@contextlib.contextmanager
def inspecting(model: torch.nn.Module):
    """Eval mode and frozen parameters for the block (gradients flow to the input only, so no
    parameter's .grad is touched); the previous mode and requires_grad flags come back after."""
    was_training = model.training
    flags = [p.requires_grad for p in model.parameters()]
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    try:
        yield model
    finally:
        for p, flag in zip(model.parameters(), flags):
            p.requires_grad_(flag)
        model.train(was_training)


@torch.no_grad()
def probabilities(model, images: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """Softmax outputs (N, classes) in float32, eval mode (restored afterwards)."""
    with inspecting(model):
        return torch.cat([model(images[i:i + batch_size]).float().softmax(1)
                          for i in range(0, len(images), batch_size)])
