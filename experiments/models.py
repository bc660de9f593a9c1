"""The two CNN families of Problem 2, built from plain config values.

- `dense` (LeNet/AlexNet/VGG vein): conv stages, then flatten and a hidden dense layer.
- `gap` (NiN/ResNet vein): conv stages with their nonlinearities, then global average pooling
  and one linear layer (so the class activation map of Zhou et al. is exact).

Both share the convolutional trunk: a stem conv at full resolution, then per width one stage
conv -> maxpool -> [BN] -> ReLU -> conv -> [BN] -> ReLU (airbench's block). Every ReLU is its own
non-inplace `nn.ReLU` so interpretability hooks see it. Dropout sits only in the head: before
BN it shifts the statistics BN learns ("variance shift"), so the trunk has none.
"""
from __future__ import annotations

import torch
from torch import nn

from experiments.errors import UserError

FAMILIES = ("dense", "gap")
MODEL_KEYS = {"family", "widths", "stem_width", "stem_kernel", "hidden", "batchnorm", "dropout"}

# Candidate architectures for the search (Problem 2 (b) "how we arrived").
CANDIDATES = {
    "dense-s": {"family": "dense", "widths": [32, 64, 128], "stem_width": 24, "stem_kernel": 3, "hidden": 256},
    "dense-m": {"family": "dense", "widths": [64, 128, 256], "stem_width": 32, "stem_kernel": 3, "hidden": 512},
    "dense-l": {"family": "dense", "widths": [96, 192, 384], "stem_width": 48, "stem_kernel": 3, "hidden": 512},
    "gap-s": {"family": "gap", "widths": [32, 64, 128], "stem_width": 24, "stem_kernel": 5},
    "gap-m": {"family": "gap", "widths": [64, 128, 256], "stem_width": 32, "stem_kernel": 5},
    "gap-l": {"family": "gap", "widths": [96, 192, 384], "stem_width": 48, "stem_kernel": 5},
}


def candidate(name: str, batchnorm: bool = True, dropout: float = 0.0) -> dict:
    if name not in CANDIDATES:
        raise UserError(f"unknown architecture {name!r}; known: {', '.join(CANDIDATES)}")
    return {**CANDIDATES[name], "batchnorm": batchnorm, "dropout": dropout}


def validate_model_config(cfg: dict) -> dict:
    unknown = set(cfg) - MODEL_KEYS
    if unknown:
        raise UserError(f"model config: unknown key(s) {sorted(unknown)}; known: {sorted(MODEL_KEYS)}")
    if cfg.get("family") not in FAMILIES:
        raise UserError(f"model config: family must be one of {FAMILIES}, got {cfg.get('family')!r}")
    if not 0.0 <= float(cfg.get("dropout", 0.0)) < 1.0:
        raise UserError(f"model config: dropout must be in [0, 1), got {cfg.get('dropout')}")
    return cfg


def _conv_bn_relu(c_in: int, c_out: int, k: int, batchnorm: bool, pool: bool) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=not batchnorm)]
    if pool:
        layers.append(nn.MaxPool2d(2))
    if batchnorm:
        layers.append(nn.BatchNorm2d(c_out))
    layers.append(nn.ReLU())
    return layers


def conv_trunk(cfg: dict) -> nn.Sequential:
    """Stem at 32x32, then one stage per width, each halving the resolution."""
    bn = cfg["batchnorm"]
    layers = _conv_bn_relu(3, cfg["stem_width"], cfg["stem_kernel"], bn, pool=False)
    c_in = cfg["stem_width"]
    for width in cfg["widths"]:
        layers += _conv_bn_relu(c_in, width, 3, bn, pool=True)
        layers += _conv_bn_relu(width, width, 3, bn, pool=False)
        c_in = width
    return nn.Sequential(*layers)


def dense_head(channels: int, side: int, cfg: dict) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Flatten(), nn.Linear(channels * side * side, cfg["hidden"], bias=not cfg["batchnorm"])]
    if cfg["batchnorm"]:
        layers.append(nn.BatchNorm1d(cfg["hidden"]))
    layers.append(nn.ReLU())
    if cfg["dropout"] > 0:
        layers.append(nn.Dropout(cfg["dropout"]))
    layers.append(nn.Linear(cfg["hidden"], 10))
    return nn.Sequential(*layers)


def gap_head(channels: int, cfg: dict) -> nn.Sequential:
    layers: list[nn.Module] = [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    if cfg["dropout"] > 0:
        layers.append(nn.Dropout(cfg["dropout"]))
    layers.append(nn.Linear(channels, 10))
    return nn.Sequential(*layers)


class CifarNet(nn.Module):
    """Float images in [0, 1], (N, 3, 32, 32) -> logits (N, 10); normalises inside."""

    def __init__(self, cfg: dict, mean=(0.4914, 0.4822, 0.4465), std=(0.2470, 0.2435, 0.2616)):
        super().__init__()
        cfg = validate_model_config({"hidden": 512, "stem_width": 32, "stem_kernel": 3,
                                     "batchnorm": True, "dropout": 0.0, **cfg})
        self.config = cfg
        self.family = cfg["family"]
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))
        self.features = conv_trunk(cfg)
        channels, side = cfg["widths"][-1], 32 // 2 ** len(cfg["widths"])
        self.head = dense_head(channels, side, cfg) if self.family == "dense" else gap_head(channels, cfg)
        self.classifier = self.head[-1]
        self.apply(_he_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features((x - self.mean) / self.std))


def _he_init(module: nn.Module) -> None:
    """He (Kaiming) init for every conv and linear layer: without BN, torch's default init
    shrinks activations ~6x per layer and a plain 8-conv net barely trains, which would make the
    BN ablation unfair to the plain cells."""
    if isinstance(module, (nn.Conv2d, nn.Linear)):
        nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
        if module.bias is not None:
            nn.init.zeros_(module.bias)


def build_model(cfg: dict, mean=None, std=None) -> CifarNet:
    kwargs = {}
    if mean is not None:
        kwargs = {"mean": tuple(mean), "std": tuple(std)}
    return CifarNet(dict(cfg), **kwargs)


def describe(model: nn.Module, input_shape=(3, 32, 32)) -> dict:
    """The architecture as data: one row per leaf layer (output shape, params, FLOPs)."""
    rows, hooks = [], []

    def record(module, inputs, output):
        macs = 0
        if isinstance(module, nn.Conv2d):
            macs = output.numel() // output.shape[0] * (module.in_channels // module.groups) \
                * module.kernel_size[0] * module.kernel_size[1]
        elif isinstance(module, nn.Linear):
            macs = module.in_features * module.out_features
        rows.append({"layer": type(module).__name__, "detail": _layer_detail(module),
                     "output": list(output.shape[1:]),
                     "params": sum(p.numel() for p in module.parameters(recurse=False)),
                     "flops": 2 * int(macs)})

    for name, module in model.named_modules():
        if len(list(module.children())) == 0:
            hooks.append(module.register_forward_hook(record))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, *input_shape, device=next(model.parameters()).device))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return {"layers": rows, "params": sum(p.numel() for p in model.parameters()),
            "flops": sum(r["flops"] for r in rows)}


def _layer_detail(module: nn.Module) -> str:
    if isinstance(module, nn.Conv2d):
        k = "x".join(map(str, module.kernel_size))
        return f"{module.in_channels}->{module.out_channels}, {k}, pad {module.padding[0]}"
    if isinstance(module, nn.Linear):
        return f"{module.in_features}->{module.out_features}"
    if isinstance(module, nn.Dropout):
        return f"p={module.p}"
    if isinstance(module, (nn.MaxPool2d,)):
        return f"{module.kernel_size}x{module.kernel_size}"
    return ""
