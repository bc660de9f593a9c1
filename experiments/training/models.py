"""The two CNN families of Problem 2, built from plain config values.

- `dense` (LeNet/AlexNet/VGG vein): conv stages, then flatten and a hidden dense layer.
- `gap` (NiN/ResNet vein): conv stages with their nonlinearities, then global average pooling
  and one linear layer (so the class activation map of Zhou et al. is exact).

Both share the convolutional trunk: a stem at full resolution, then per width one stage
conv -> maxpool -> [BN] -> ReLU -> conv -> [BN] -> ReLU (airbench's block). Every ReLU is its own
non-inplace `nn.ReLU` so interpretability hooks see it. Dropout sits only in the head: before
BN it shifts the statistics BN learns ("variance shift"), so the trunk has none.

airbench's levers, each a config switch so its effect can be measured alone:
- `stem: "whiten"`: a frozen 2x2 patch-whitening conv (its filters are set from training patches by
  `init_whitening`, never learned; only its bias trains), instead of a learned stem conv;
- `bn_frozen_scale`: BN with its scale fixed at 1 and fast-moving statistics (momentum 0.4);
- `dirac`: each 3x3 conv starts as the identity on its first input channels;
- `head_init: "small"`: the classifier starts with weights 1/fan_in, so the first logits are
  near zero (airbench's scaled head, as a plain nn.Linear so CAM stays exact).

Every built-in gap candidate is in NiN's or ResNet's vein: `mlpconv: k` adds k 1x1 conv -> [BN] -> ReLU
after each stage's 3x3 convs (NiN's mlpconv; `true` is one); `residual: true` makes each stage's second
3x3 conv a residual branch, ReLU(h + [BN](conv(h))), at the plain stage's FLOPs. Absent means off.
"""
from __future__ import annotations

import torch
from torch import nn

from experiments.core.names import FAMILIES
from experiments.engine.errors import UserError

MODEL_KEYS = {"family", "widths", "stem_width", "stem_kernel", "hidden", "batchnorm", "dropout",
              "stem", "bn_frozen_scale", "dirac", "head_init", "activation", "mlpconv", "residual"}
DEFAULTS = {"hidden": 512, "stem_width": 32, "stem_kernel": 3, "batchnorm": True, "dropout": 0.0,
            "stem": "conv", "bn_frozen_scale": False, "dirac": False, "head_init": "he", "activation": "relu"}
WHITEN_KERNEL = 2
# ReLU is the product's nonlinearity (guided backprop is defined for it); GELU, airbench's choice,
# exists only so the lever study can measure what it would have bought.
ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU}
BN_MOMENTUM_FAST = 0.4  # torch's convention: weight of the new batch (airbench's 0.6 "momentum")

# Candidate architectures for the search (Problem 2 (b) "how we arrived"): airbench's trunk (the
# frozen whitening stem and its other levers) at three widths; -m is airbench94's 64/256/256. At each
# width the dense family varies its hidden layer's width and the gap family its NiN or ResNet element
# (one or two mlpconv layers a stage, or residual stages): the search compares them at one cost.
RECIPE_LEVERS = {"stem": "whiten", "bn_frozen_scale": True, "dirac": True, "head_init": "small"}
CANDIDATES = {
    "dense-s": {"family": "dense", "widths": [32, 128, 128], "hidden": 256, **RECIPE_LEVERS},
    "dense-m": {"family": "dense", "widths": [64, 256, 256], "hidden": 512, **RECIPE_LEVERS},
    "dense-l": {"family": "dense", "widths": [96, 384, 384], "hidden": 512, **RECIPE_LEVERS},
    "dense-s-h128": {"family": "dense", "widths": [32, 128, 128], "hidden": 128, **RECIPE_LEVERS},
    "dense-s-h512": {"family": "dense", "widths": [32, 128, 128], "hidden": 512, **RECIPE_LEVERS},
    "gap-s": {"family": "gap", "widths": [32, 128, 128], "mlpconv": 1, **RECIPE_LEVERS},
    "gap-m": {"family": "gap", "widths": [64, 256, 256], "mlpconv": 1, **RECIPE_LEVERS},
    "gap-l": {"family": "gap", "widths": [96, 384, 384], "mlpconv": 1, **RECIPE_LEVERS},
    "gap-nin2-s": {"family": "gap", "widths": [32, 128, 128], "mlpconv": 2, **RECIPE_LEVERS},
    "gap-res-s": {"family": "gap", "widths": [32, 128, 128], "residual": True, **RECIPE_LEVERS},
    "gap-res-m": {"family": "gap", "widths": [64, 256, 256], "residual": True, **RECIPE_LEVERS},
}
# each built-in candidate's widths, as the budget's regimes name them
CANDIDATE_SIZES = {name: {32: "s", 64: "m", 96: "l"}[cfg["widths"][0]] for name, cfg in CANDIDATES.items()}


def candidate(name: str, batchnorm: bool = True, dropout: float = 0.0, extra: dict | None = None) -> dict:
    """A named architecture, built-in or one of `extra` (the user's [models.NAME] tables)."""
    known = {**CANDIDATES, **(extra or {})}
    if name not in known:
        raise UserError(f"unknown architecture {name!r}; known: {', '.join(known)}")
    return {**known[name], "batchnorm": batchnorm, "dropout": dropout}


def complete_model_config(cfg: dict) -> dict:
    """A model config with every key DEFAULTS gives filled in, validated: what a user's [models.NAME]
    table becomes where it is read, so every stage and the report see the same full config."""
    return validate_model_config({**DEFAULTS, **cfg})


def validate_model_config(cfg: dict) -> dict:
    unknown = set(cfg) - MODEL_KEYS
    if unknown:
        raise UserError(f"model config: unknown key(s) {sorted(unknown)}; known: {sorted(MODEL_KEYS)}")
    if cfg.get("family") not in FAMILIES:
        raise UserError(f"model config: family must be one of {FAMILIES}, got {cfg.get('family')!r}")
    widths = cfg.get("widths")
    if not isinstance(widths, (list, tuple)) or not widths or not all(_positive_int(w) for w in widths):
        raise UserError(f"model config: widths must be a non-empty list of positive whole numbers, got {widths!r}")
    for key in ("hidden", "stem_width", "stem_kernel"):
        if key in cfg and not _positive_int(cfg[key]):
            raise UserError(f"model config: {key} must be a positive whole number, got {cfg[key]!r}")
    if not 0.0 <= float(cfg.get("dropout", 0.0)) < 1.0:
        raise UserError(f"model config: dropout must be in [0, 1), got {cfg.get('dropout')}")
    if cfg.get("stem", "conv") not in ("conv", "whiten") or cfg.get("head_init", "he") not in ("he", "small") \
            or cfg.get("activation", "relu") not in ACTIVATIONS or not isinstance(cfg.get("residual", False), bool) \
            or not (isinstance(cfg.get("mlpconv", 0), int) and 0 <= cfg.get("mlpconv", 0) <= 4):
        raise UserError(f"model config: stem is conv or whiten, head_init he or small, activation relu or gelu, "
                        f"mlpconv 0-4 (1x1 layers a stage; true is 1), residual true or false: {cfg}")
    return cfg


def _positive_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


class PatchWhitening(nn.Conv2d):
    """A frozen conv whose filters whiten 2x2 image patches (set by `init_whitening`): the
    eigenvectors of the patch covariance, scaled by 1/sqrt(eigenvalue), and their negatives (so the
    ReLU after it loses nothing). Not learned: `learned = False` tells Problem 3 so."""
    learned = False

    def __init__(self, kernel: int = WHITEN_KERNEL):
        super().__init__(3, 2 * 3 * kernel * kernel, kernel, padding=0, bias=True)
        self.weight.requires_grad_(False)


@torch.no_grad()
def init_whitening(model: nn.Module, images: torch.Tensor, eps: float = 5e-4) -> None:
    """Set every PatchWhitening layer of `model` from float images (N, 3, H, W) in [0, 1]."""
    for layer in (m for m in model.modules() if isinstance(m, PatchWhitening)):
        x = ((images.float() - model.mean) / model.std)
        k = layer.kernel_size[0]
        patches = x.unfold(2, k, 1).unfold(3, k, 1).permute(0, 2, 3, 1, 4, 5).reshape(-1, 3 * k * k).double()
        cov = patches.T @ patches / len(patches)
        if not torch.isfinite(cov).all():
            raise UserError("patch whitening: the training patches are not finite (a colour channel with zero "
                            "standard deviation?); check the data")
        eigval, eigvec = torch.linalg.eigh(cov)
        filters = (eigvec.T / torch.sqrt(eigval + eps).unsqueeze(1)).reshape(-1, 3, k, k)
        layer.weight.copy_(torch.cat([filters, -filters]).float())
        layer.bias.zero_()


def _batchnorm(channels: int, frozen_scale: bool, dims: int = 2) -> nn.Module:
    bn = (nn.BatchNorm2d if dims == 2 else nn.BatchNorm1d)(channels, **(
        {"momentum": BN_MOMENTUM_FAST, "eps": 1e-12} if frozen_scale else {}))
    if frozen_scale:
        bn.weight.requires_grad_(False)
    return bn


def _conv_bn_relu(c_in: int, c_out: int, k: int, cfg: dict, pool: bool) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=not cfg["batchnorm"])]
    if pool:
        layers.append(nn.MaxPool2d(2))
    if cfg["batchnorm"]:
        layers.append(_batchnorm(c_out, cfg["bn_frozen_scale"]))
    layers.append(ACTIVATIONS[cfg["activation"]]())
    return layers


def conv_trunk(cfg: dict) -> nn.Sequential:
    """Stem at 32x32 (a learned conv, or the frozen whitening), then one stage per width, each
    halving the resolution."""
    if cfg["stem"] == "whiten":
        layers: list[nn.Module] = [PatchWhitening(), ACTIVATIONS[cfg["activation"]]()]
        c_in = layers[0].out_channels
    else:
        layers = _conv_bn_relu(3, cfg["stem_width"], cfg["stem_kernel"], cfg, pool=False)
        c_in = cfg["stem_width"]
    for width in cfg["widths"]:
        layers += _conv_bn_relu(c_in, width, 3, cfg, pool=True)
        if cfg.get("residual"):
            layers.append(Residual(_conv_bn_relu(width, width, 3, cfg, pool=False)))
        else:
            layers += _conv_bn_relu(width, width, 3, cfg, pool=False)
        for _ in range(int(cfg.get("mlpconv", 0))):
            layers += _conv_bn_relu(width, width, 1, cfg, pool=False)
        c_in = width
    return nn.Sequential(*layers)


class Residual(nn.Module):
    """ResNet's element: ReLU(h + branch(h)), the branch a conv [-> BN] whose ReLU moves after the sum
    (its own module, so the interpretability hooks see it)."""

    def __init__(self, conv_bn_relu: list[nn.Module]):
        super().__init__()
        self.branch = nn.Sequential(*conv_bn_relu[:-1])
        self.relu = conv_bn_relu[-1]

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.relu(h + self.branch(h))


def dense_head(channels: int, side: int, cfg: dict) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Flatten(), nn.Linear(channels * side * side, cfg["hidden"], bias=not cfg["batchnorm"])]
    if cfg["batchnorm"]:
        layers.append(_batchnorm(cfg["hidden"], cfg["bn_frozen_scale"], dims=1))
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
        cfg = complete_model_config(cfg)
        self.config = cfg
        self.family = cfg["family"]
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))
        self.features = conv_trunk(cfg)
        with torch.no_grad():
            channels, side = self.features.eval()(torch.zeros(1, 3, 32, 32)).shape[1:3]
        self.features.train()
        self.head = dense_head(channels, side, cfg) if self.family == "dense" else gap_head(channels, cfg)
        self.classifier = self.head[-1]
        self.apply(_he_init)
        if cfg["dirac"]:
            self.apply(_dirac_init)
        if cfg["head_init"] == "small":
            with torch.no_grad():  # unit-variance weights / fan_in: logits start near zero
                self.classifier.weight.normal_().div_(self.classifier.in_features)
                if self.classifier.bias is not None:
                    self.classifier.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features((x - self.mean) / self.std))


def _dirac_init(module: nn.Module) -> None:
    """A 3x3 (or mlpconv's 1x1) conv whose first min(out, in) filters pass their input channel through
    unchanged, the rest He-initialised: each block starts near the identity (airbench)."""
    if isinstance(module, nn.Conv2d) and not isinstance(module, PatchWhitening) and module.kernel_size in ((3, 3), (1, 1)):
        with torch.no_grad():
            n = min(module.out_channels, module.in_channels)
            nn.init.dirac_(module.weight[:n])


def _he_init(module: nn.Module) -> None:
    """He (Kaiming) init for every conv and linear layer: without BN, torch's default init
    shrinks activations ~6x per layer and a plain 8-conv net barely trains, which would make the
    BN ablation unfair to the plain cells."""
    if isinstance(module, (nn.Conv2d, nn.Linear)) and not isinstance(module, PatchWhitening):
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
