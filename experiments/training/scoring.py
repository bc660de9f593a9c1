"""Feeding images to a model and scoring it: uint8 arrays to tensors, float batches, predictions
with or without test-time augmentation, accuracy and loss."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from experiments.engine.devices import autocast
from experiments.training.recipe import tta_views


def to_tensor_images(x_uint8: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 (N, 32, 32, 3) -> uint8 (N, 3, 32, 32) tensor on device (converted per batch)."""
    return torch.from_numpy(np.ascontiguousarray(x_uint8.transpose(0, 3, 1, 2))).to(device)


def as_float(batch_uint8: torch.Tensor) -> torch.Tensor:
    return (batch_uint8.float() / 255.0).contiguous(memory_format=torch.channels_last)


def spread(n: int, k: int) -> np.ndarray:
    """k (at most n) evenly spaced indices into n items: splits are stored sorted by class, so a
    prefix would be one or two classes."""
    return np.linspace(0, n - 1, min(k, n)).round().astype(int)


# ---------------------------------------------------------------- evaluation

@torch.no_grad()
def predict(model: torch.nn.Module, images: torch.Tensor, device: torch.device,
            batch_size: int = 1000, tta: bool | str = False) -> torch.Tensor:
    """float32 logits (N, 10) for uint8 images (N, 3, 32, 32); `tta` names the views averaged
    (recipe.tta_views: "flip" or "flip-translate"; True means "flip")."""
    return predict_views(model, images, device, batch_size, tta)[0]


@torch.no_grad()
def predict_views(model: torch.nn.Module, images: torch.Tensor, device: torch.device,
                  batch_size: int = 1000, tta: bool | str = False) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits with `tta`, logits of the plain image), from one pass: the plain logits are the
    TTA's identity view."""
    was_training = model.training
    model.eval()
    out, plain = [], []
    try:
        for i in range(0, len(images), batch_size):
            x = as_float(images[i:i + batch_size].to(device))
            with autocast(device):
                if tta:
                    logits, identity = tta_views(model, x, "flip" if tta is True else tta)
                else:
                    logits = identity = model(x).float()
            out.append(logits.cpu())
            plain.append(identity.cpu())
    finally:
        model.train(was_training)
    empty = torch.empty(0, 10)
    return (torch.cat(out) if out else empty), (torch.cat(plain) if plain else empty)


def score(logits: torch.Tensor, labels: torch.Tensor) -> dict:
    return {"loss": float(F.cross_entropy(logits, labels)),
            "acc": float((logits.argmax(1) == labels).float().mean())}
