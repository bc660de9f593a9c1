"""Problem 5: guided backpropagation (Springenberg et al. 2015).

Through each ReLU the backward pass lets a gradient through only where both the forward input
and the incoming gradient are positive. Works whether the model uses `nn.ReLU` modules
(in-place or not) or calls `F.relu` / `torch.relu`: modules are swapped and the functions patched
for the duration of the call, then everything is put back.
"""
from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from torch import nn


class GuidedReLUFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * (x > 0) * (grad > 0)


def _guided_relu(x, inplace: bool = False):
    return GuidedReLUFunction.apply(x)


class GuidedReLU(nn.Module):
    def forward(self, x):
        return GuidedReLUFunction.apply(x)


@contextlib.contextmanager
def guided_relus(model: nn.Module):
    """Within the block every ReLU of `model` (module or functional) is guided."""
    swapped = []
    for parent in model.modules():
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.ReLU):
                swapped.append((parent, name, child))
                setattr(parent, name, GuidedReLU())
    originals = {"F.relu": F.relu, "F.relu_": F.relu_, "torch.relu": torch.relu, "torch.relu_": torch.relu_}
    F.relu, F.relu_, torch.relu, torch.relu_ = _guided_relu, _guided_relu, _guided_relu, _guided_relu
    try:
        yield model
    finally:
        F.relu, F.relu_ = originals["F.relu"], originals["F.relu_"]
        torch.relu, torch.relu_ = originals["torch.relu"], originals["torch.relu_"]
        for parent, name, child in swapped:
            setattr(parent, name, child)


def guided_backprop(model: nn.Module, images: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
    """d y_c / d x under guided ReLUs: (N, 3, H, W); the model is unchanged afterwards."""
    was_training = model.training
    flags = [p.requires_grad for p in model.parameters()]
    model.eval()
    x = images.detach().clone().requires_grad_(True)
    try:
        for p in model.parameters():
            p.requires_grad_(False)  # only the input gradient is wanted
        with guided_relus(model):
            logits = model(x)
            logits.gather(1, classes.view(-1, 1)).sum().backward()
    finally:
        for p, flag in zip(model.parameters(), flags):
            p.requires_grad_(flag)
        model.train(was_training)
    return x.grad.detach()


def saliency_maps(grads: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) gradients -> (N, H, W) in [0, 1]: largest absolute value over colour."""
    from experiments.interpret.maps import normalize_maps
    return normalize_maps(grads.abs().amax(1))


def gradient_images(grads: torch.Tensor) -> torch.Tensor:
    """The usual RGB picture of a guided gradient: centred at grey, scaled per image."""
    scale = grads.flatten(1).abs().amax(1).clamp_min(1e-12).view(-1, 1, 1, 1)
    return (0.5 + 0.5 * grads / scale).clamp(0, 1)
