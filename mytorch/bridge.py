"""A torch.autograd.Function around the NumPy Conv2D, so it can sit inside a torch model."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from mytorch.conv import Conv2D


class Conv2DFunction(torch.autograd.Function):
    """conv2d(A, W) computed by mytorch; gradients come from Conv2D.backward."""

    @staticmethod
    def forward(ctx, A: torch.Tensor, W: torch.Tensor, stride, padding):
        layer = Conv2D(W.shape[1], W.shape[0], tuple(W.shape[2:]), stride, padding,
                       weight_init_fn=lambda shape: W.detach().cpu().numpy())
        Z = layer.forward(A.detach().cpu().numpy())
        ctx.layer, ctx.device = layer, A.device
        return torch.from_numpy(np.ascontiguousarray(Z)).to(A.device)

    @staticmethod
    def backward(ctx, dLdZ: torch.Tensor):
        dLdA = ctx.layer.backward(dLdZ.detach().cpu().numpy())
        to_torch = lambda a: torch.from_numpy(np.ascontiguousarray(a)).to(ctx.device)
        return to_torch(dLdA), to_torch(ctx.layer.dLdW), None, None


class NumpyConv2d(nn.Module):
    """Drop-in for nn.Conv2d(bias=False) whose arithmetic is mytorch's; weight (C_out, C_in, kh, kw).

    Same state_dict key ("weight") and default init as nn.Conv2d, so weights load either way.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0):
        super().__init__()
        init = Conv2D(in_channels, out_channels, kernel_size, stride, padding)
        self.stride, self.padding = init.stride, init.padding
        self.weight = nn.Parameter(torch.from_numpy(init.W).float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, C_in, H, W) -> (N, C_out, H_out, W_out), computed on the CPU in x's dtype."""
        return Conv2DFunction.apply(x, self.weight, self.stride, self.padding)

    def extra_repr(self) -> str:
        c_out, c_in, kh, kw = self.weight.shape
        return f"{c_in}, {c_out}, kernel_size=({kh}, {kw}), stride={self.stride}, padding={self.padding}, bias=False"
