"""Problem 5: guided backpropagation (Springenberg et al. 2015).

Through each ReLU the backward pass lets a gradient through only where both the forward input
and the incoming gradient are positive. Hooks on `nn.ReLU` modules miss `F.relu` calls and break
on in-place ReLUs (a known pitfall of hook-based implementations), so instead, for the duration
of the call, every `nn.ReLU` module is swapped for a `GuidedReLU` and the functional forms
(`F.relu`, `F.relu_`, `torch.relu`, `torch.relu_`, `Tensor.relu`, `Tensor.relu_`) are patched
to the same autograd function; everything is put back afterwards.
"""
from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from torch import nn

from experiments.interpret.maps import inspecting, normalize_maps

METHOD = "guided backpropagation"  # the method's name, as figures, records and the report give it
_MISSING = object()


class GuidedReLUFunction(torch.autograd.Function):
    """relu forward; backward grad * [x > 0] * [grad > 0]. In place when asked, like F.relu."""

    @staticmethod
    def forward(ctx, x, inplace=False):
        if inplace:
            ctx.mark_dirty(x)
            out = x.clamp_(min=0)
        else:
            out = x.clamp(min=0)
        ctx.save_for_backward(out)  # out > 0 exactly where x > 0
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * ((out > 0) & (grad > 0)).to(grad.dtype), None


def guided_relu(x: torch.Tensor, inplace: bool = False) -> torch.Tensor:
    return GuidedReLUFunction.apply(x, inplace)


class GuidedReLU(nn.Module):
    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, x):
        return guided_relu(x, self.inplace)


_FUNCTIONAL = [(F, "relu", guided_relu), (F, "relu_", lambda x: guided_relu(x, True)),
               (torch, "relu", guided_relu), (torch, "relu_", lambda x: guided_relu(x, True)),
               (torch.Tensor, "relu", guided_relu), (torch.Tensor, "relu_", lambda x: guided_relu(x, True))]


@contextlib.contextmanager
def guided_relus(model: nn.Module):
    """Within the block every ReLU of `model` (module, functional or tensor method) is guided."""
    swapped = [(parent, name, child) for parent in model.modules()
               for name, child in parent.named_children() if isinstance(child, nn.ReLU)]
    patched = [(owner, name, owner.__dict__.get(name, _MISSING)) for owner, name, _ in _FUNCTIONAL]
    try:
        for parent, name, child in swapped:
            setattr(parent, name, GuidedReLU(child.inplace))
        for owner, name, fn in _FUNCTIONAL:
            setattr(owner, name, fn)
        yield model
    finally:
        for owner, name, original in patched:
            if original is _MISSING:  # inherited (Tensor.relu lives on the C base class)
                delattr(owner, name)
            else:
                setattr(owner, name, original)
        for parent, name, child in swapped:
            setattr(parent, name, child)


def guided_backprop(model: nn.Module, images: torch.Tensor, classes: torch.Tensor,
                    batch_size: int = 64) -> torch.Tensor:
    """d y_c / d x under guided ReLUs, (N, 3, H, W) float32; the model is unchanged afterwards."""
    classes = torch.as_tensor(classes, dtype=torch.long).view(-1)
    out = []
    with inspecting(model), guided_relus(model):
        for i in range(0, len(images), batch_size):
            x = images[i:i + batch_size].detach().float().clone().requires_grad_(True)
            score = model(x).gather(1, classes[i:i + batch_size].view(-1, 1)).sum()
            out.append(torch.autograd.grad(score, x)[0])
    return torch.cat(out) if out else torch.zeros_like(images)


def saliency_maps(grads: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) gradients -> (N, H, W) in [0, 1]: largest absolute value over colour."""
    return normalize_maps(grads.abs().amax(1))


def gradient_images(grads: torch.Tensor) -> torch.Tensor:
    """The usual RGB picture of a guided gradient: centred at grey, scaled per image."""
    scale = grads.flatten(1).abs().amax(1).clamp_min(1e-12).view(-1, 1, 1, 1)
    return (0.5 + 0.5 * grads / scale).clamp(0, 1)
