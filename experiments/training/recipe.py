"""The training recipe's levers, each a short named piece that a config switch turns off.

After airbench (Keller Jordan) and its Muon variant, scaled to our constraints (ReLU, average
pooling for `gap`):
- `optimizer: "muon"`: conv filters and hidden dense weights step along their orthogonalised
  momentum (Newton-Schulz, `orthogonalize`), kept at a fixed norm; biases, BN shifts and the
  classifier use Nesterov SGD at `lr * bias_lr_ratio` / `lr * head_lr_ratio` (for a small-init
  head, divided by its fan-in squared, see `param_groups`). The loss is summed
  over the batch (airbench's convention), so the SGD rates are per example. `optimizer: "sgd"`
  is the earlier recipe: Nesterov SGD on the mean loss for everything.
- `whiten_bias_epochs`: the frozen whitening stem's bias trains only for the first few epochs.
- `flip: "alternate"`: each image gets one random flip, then every other epoch all are mirrored
  (more distinct views than independent coin flips); `"random"` flips each image per batch.
- `tta: "flip-translate"`: the score averages mirrored and 1-pixel-shifted views; `"flip"`
  averages the image and its mirror.
- `matrix_weights: "low"`: conv filters and hidden dense weights are stored in the autocast type
  (bf16) as airbench stores them in half precision: on a CPU, oneDNN's bf16 convolution backward
  is about twice as fast with native bf16 weights as with float32 weights cast on the fly.
  BN, biases and the classifier stay float32.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from experiments.engine.devices import newton_schulz_dtype

CHOICES = {"optimizer": ("sgd", "muon"), "flip": ("random", "alternate"), "tta": ("flip", "flip-translate"),
           "matrix_weights": ("float32", "low")}


# ---------------------------------------------------------------- Muon

def orthogonalize(g: torch.Tensor, steps: int = 3, eps: float = 1e-7,
                  dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Approximately U V^T of g's SVD (singular values pushed to ~[0.5, 1.5]) by airbench's quintic
    Newton-Schulz iteration, computed in `dtype` (the device rule's, engine/devices.py:
    newton_schulz_dtype); g is 2-D (out, in)."""
    a, b, c = 3.4445, -4.7750, 2.0315
    x = g.to(dtype)
    x = x / (x.norm() + eps)
    tall = g.size(0) > g.size(1)
    if tall:
        x = x.T
    for _ in range(steps):
        gram = x @ x.T
        x = a * x + (b * gram + c * gram @ gram) @ x
    return (x.T if tall else x).to(g.dtype)


class MuonSGD(torch.optim.Optimizer):
    """One optimizer for the whole recipe, so a scheduler and a checkpoint see every group:
    groups with `muon=True` take Muon steps (momentum, Nesterov, orthogonalised update, weight
    norm held at sqrt(out)); the others take Nesterov SGD with weight decay. `ns_dtype` is the type
    Newton-Schulz computes in: the machine's, not the checkpoint's (a resume on another CPU keeps it)."""

    def __init__(self, groups: list[dict], momentum: float, muon_momentum: float,
                 ns_dtype: torch.dtype = torch.float32):
        super().__init__(groups, {"momentum": momentum, "muon_momentum": muon_momentum,
                                  "weight_decay": 0.0, "muon": False})
        self.ns_dtype = ns_dtype

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            mom = group["muon_momentum"] if group["muon"] else group["momentum"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad if group["muon"] else p.grad.add(p, alpha=group["weight_decay"])
                buf = self.state[p].setdefault("momentum_buffer", torch.zeros_like(g))
                buf.mul_(mom).add_(g)
                g = g.add(buf, alpha=mom)  # Nesterov
                if group["muon"]:
                    p.mul_(len(p) ** 0.5 / p.norm())
                    g = orthogonalize(g.reshape(len(g), -1), dtype=self.ns_dtype).view_as(p)
                p.add_(g, alpha=-group["lr"])


def store_matrix_weights(model: nn.Module, dtype: torch.dtype | None) -> None:
    """Keep every learned conv filter and hidden dense weight in `dtype` (None: leave float32)."""
    if dtype is None:
        return
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)) and m is not model.classifier and m.weight.requires_grad:
            m.weight.data = m.weight.data.to(dtype)


def param_groups(model: nn.Module, cfg: dict) -> list[dict]:
    """The recipe's groups; frozen parameters (whitening filters, fixed BN scales) are left out."""
    from experiments.training.models import PatchWhitening
    whiten = {id(m.bias) for m in model.modules() if isinstance(m, PatchWhitening)}
    head = {id(p) for p in model.classifier.parameters()}
    groups = {"muon": [], "bias": [], "head": [], "whiten_bias": []}
    for p in model.parameters():
        if not p.requires_grad:
            continue
        kind = ("whiten_bias" if id(p) in whiten else "head" if id(p) in head else
                "muon" if p.ndim >= 2 else "bias")
        groups[kind].append(p)
    lr, wd = cfg["lr"], cfg["weight_decay"]
    bias_lr, head_lr = lr * cfg["bias_lr_ratio"], lr * cfg["head_lr_ratio"]
    if model.config.get("head_init") == "small":
        # airbench's head computes (W x) / fan_in with unit-scale W; ours stores W / fan_in in a
        # plain nn.Linear (CAM stays exact), and the same steps on it take the rate / fan_in^2
        head_lr /= model.classifier.in_features ** 2
    # weight decay given per step at peak rate, decoupled from each group's rate (airbench)
    return [g for g in (
        {"name": "muon", "params": groups["muon"], "lr": lr, "muon": True},
        {"name": "bias", "params": groups["bias"], "lr": bias_lr, "weight_decay": wd / bias_lr},
        {"name": "head", "params": groups["head"], "lr": head_lr, "weight_decay": wd / head_lr},
        {"name": "whiten_bias", "params": groups["whiten_bias"], "lr": bias_lr, "weight_decay": wd / bias_lr},
    ) if g["params"]]


def make_optimizer(model: nn.Module, cfg: dict) -> torch.optim.Optimizer:
    if cfg["optimizer"] == "muon":
        device = next(model.parameters()).device  # the model is on its device by now
        return MuonSGD(param_groups(model, cfg), cfg["momentum"], cfg["muon_momentum"], newton_schulz_dtype(device))
    # SGD-Nesterov; no weight decay on biases and BN parameters (they set scale, not fit)
    params = [p for p in model.parameters() if p.requires_grad]
    return torch.optim.SGD([{"name": "decay", "params": [p for p in params if p.ndim > 1],
                             "weight_decay": cfg["weight_decay"]},
                            {"name": "no_decay", "params": [p for p in params if p.ndim <= 1], "weight_decay": 0.0}],
                           lr=cfg["lr"], momentum=cfg["momentum"], nesterov=True)


def lr_factor(step: int, total: int, warmup: float) -> float:
    """Linear warm-up over the first `warmup` fraction, then linear decay to zero."""
    peak = max(1, int(warmup * total))
    if warmup > 0 and step < peak:
        return (step + 1) / peak
    return max(0.0, (total - step) / max(1, total - (peak if warmup > 0 else 0)))


def make_scheduler(opt: torch.optim.Optimizer, cfg: dict, total: int, steps_per_epoch: int):
    """Every group follows `lr_factor`; the whitening bias decays to zero over its own epochs."""
    whiten_steps = max(1, cfg["whiten_bias_epochs"] * steps_per_epoch)
    rules = [(lambda s: max(0.0, 1 - s / whiten_steps)) if g.get("name") == "whiten_bias"
             else (lambda s: lr_factor(s, total, cfg["warmup"])) for g in opt.param_groups]
    return torch.optim.lr_scheduler.LambdaLR(opt, rules)


def loss_for_step(logits: torch.Tensor, labels: torch.Tensor, cfg: dict) -> torch.Tensor:
    """Label-smoothed cross-entropy: summed over the batch for Muon (airbench), else the mean."""
    return F.cross_entropy(logits, labels, label_smoothing=cfg["label_smoothing"],
                           reduction="sum" if cfg["optimizer"] == "muon" else "mean")


# ---------------------------------------------------------------- augmentation

def base_flips(n: int, seed: int) -> torch.Tensor:
    """One fixed random flip per training image (bool, n), drawn from the run's seed: the same
    after a resume, with no extra state to checkpoint."""
    return torch.rand(n, generator=torch.Generator().manual_seed(seed + 104729)) < 0.5


def flips_for(idx: torch.Tensor, epoch: int, cfg: dict, base: torch.Tensor | None,
              gen: torch.Generator) -> torch.Tensor:
    """Which images of a batch to mirror: alternating (the image's fixed flip, inverted on odd
    epochs) or an independent coin per image."""
    if cfg["flip"] == "alternate":
        return base[idx.cpu()] ^ bool(epoch % 2)
    return torch.rand(len(idx), generator=gen) < 0.5


def augment(x: torch.Tensor, gen: torch.Generator, pad: int = 2, flip: torch.Tensor | None = None) -> torch.Tensor:
    """Horizontal flip (random per image, or as given) and translation by up to `pad` pixels
    (reflect padding), per image, done on the whole batch at once."""
    n, c, h, w = x.shape
    if flip is None:
        flip = torch.rand(n, generator=gen) < 0.5
    x = torch.where(flip.to(x.device).view(n, 1, 1, 1), x.flip(3), x)
    padded = F.pad(x, (pad, pad, pad, pad), mode="reflect")
    dy, dx = torch.randint(0, 2 * pad + 1, (2, n), generator=gen).to(x.device)
    rows = (dy.view(n, 1) + torch.arange(h, device=x.device)).view(n, 1, h, 1)
    cols = (dx.view(n, 1) + torch.arange(w, device=x.device)).view(n, 1, 1, w)
    batch = torch.arange(n, device=x.device).view(n, 1, 1, 1)
    chans = torch.arange(c, device=x.device).view(1, c, 1, 1)
    return padded[batch, chans, rows, cols].contiguous(memory_format=torch.channels_last)


# ---------------------------------------------------------------- test-time augmentation

def tta_logits(model: nn.Module, x: torch.Tensor, mode: str) -> torch.Tensor:
    """Logits averaged over views: the image and its mirror ("flip"), and for "flip-translate"
    also both views shifted one pixel up-left and down-right (weighted half, as airbench)."""
    return tta_views(model, x, mode)[0]


def tta_views(model: nn.Module, x: torch.Tensor, mode: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(the TTA's averaged logits, the identity view's logits): the plain score comes free with the
    TTA's first view instead of a second pass over the images."""
    plain = model(x).float()
    logits = 0.5 * (plain + model(x.flip(3)).float())
    if mode == "flip-translate":
        def mirrored(v):
            return 0.5 * (model(v).float() + model(v.flip(3)).float())
        padded = F.pad(x, (1, 1, 1, 1), mode="reflect")
        h, w = x.shape[2:]
        shifted = 0.5 * (mirrored(padded[:, :, :h, :w]) + mirrored(padded[:, :, 2:h + 2, 2:w + 2]))
        logits = 0.5 * (logits + shifted)
    return logits, plain
