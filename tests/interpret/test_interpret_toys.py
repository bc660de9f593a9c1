"""Toy models that satisfy the model contract (docs/CONTRACT.md), for the interpretability tests,
and the test that they do. Small enough that every test stays well under a second."""
import torch
import torch.nn.functional as F
from torch import nn

RELU_STYLES = ("module", "inplace", "functional", "torch", "tensor_method_")


class StyledReLU(nn.Module):
    """The ReLU applied without an nn.ReLU module: F.relu, torch.relu, or the in-place Tensor.relu_."""

    def __init__(self, style: str):
        super().__init__()
        self.style = style

    def forward(self, x):
        if self.style == "functional":
            return F.relu(x)
        if self.style == "torch":
            return torch.relu(x)
        x = x + 0  # keep the conv output intact; then the in-place method
        x.relu_()
        return x


def relu(style: str) -> nn.Module:
    if style in ("module", "inplace"):
        return nn.ReLU(inplace=style == "inplace")
    return StyledReLU(style)


class ToyNet(nn.Module):
    """conv(k) -> ReLU -> maxpool -> conv -> ReLU -> conv -> ReLU = features (8, 16, 16); then the
    `gap` head (GAP, flatten, linear) or the `dense` head (flatten, linear, ReLU, linear)."""

    def __init__(self, family: str = "gap", style: str = "module", stem_kernel: int = 3, seed: int = 0,
                 batchnorm: bool = False):
        super().__init__()
        torch.manual_seed(seed)
        self.family = family
        self.register_buffer("mean", torch.full((1, 3, 1, 1), 0.5))
        self.register_buffer("std", torch.full((1, 3, 1, 1), 0.25))
        bn = [nn.BatchNorm2d(8)] if batchnorm else []
        self.features = nn.Sequential(
            nn.Conv2d(3, 4, stem_kernel, padding=stem_kernel // 2), relu(style), nn.MaxPool2d(2),
            nn.Conv2d(4, 8, 3, padding=1), *bn, relu(style),
            nn.Conv2d(8, 8, 3, padding=1), relu(style))
        if family == "gap":
            self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10))
        else:
            self.head = nn.Sequential(nn.Flatten(), nn.Linear(8 * 16 * 16, 16), relu(style), nn.Linear(16, 10))
        self.classifier = self.head[-1]

    def forward(self, x):
        return self.head(self.features((x - self.mean) / self.std))


def hook_count(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._backward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def test_toy_models_satisfy_the_model_contract():
    for family in ("gap", "dense"):
        model = ToyNet(family)
        x = torch.rand(2, 3, 32, 32)
        assert model(x).shape == (2, 10)
        assert model.features(x).shape == (2, 8, 16, 16)
        assert model.classifier is [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
        assert len([m for m in model.features.modules() if isinstance(m, nn.Conv2d)]) == 3
