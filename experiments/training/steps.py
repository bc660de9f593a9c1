"""The recipe's inner loop: one optimisation step (`train_step`, which the speed probes and
bench-train time too) and one epoch over a fresh permutation (`train_one_epoch`), recording the loss
curve within it. experiments/training/train.py runs the epochs, checkpoints and scores.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from experiments.engine.devices import autocast
from experiments.engine.errors import UserError
from experiments.training.recipe import augment, base_flips, flips_for, loss_for_step
from experiments.training.scoring import as_float


class Diverged(UserError):
    """The run blew up: a loss or a weight stopped being finite, or the loss exploded."""


@dataclass
class Loop:
    """What every epoch of a run shares: the network and its optimizer and schedule, the training
    images in batches, and when to record the loss curve (`loss_point_steps`) with `validate`."""
    name: str
    model: torch.nn.Module
    opt: torch.optim.Optimizer
    sched: object
    cfg: dict
    gen: torch.Generator
    dev: torch.device
    train_x: torch.Tensor
    train_y: torch.Tensor
    batch: int
    steps: int  # per epoch
    every: tuple[int, int] = (0, 0)
    validate: Callable[[], dict] | None = None


def train_one_epoch(loop: Loop, epoch: int, points: dict | None = None) -> tuple[float, float]:
    """One pass over a fresh permutation; returns mean (unsmoothed) cross-entropy and accuracy. With
    `points`, appends the mean training loss of each loop.every[0] steps and `loop.validate()`'s loss
    every loop.every[1] steps of the run (not at the epoch's end, which the caller scores)."""
    from tqdm import tqdm

    cfg, dev, bs, steps = loop.cfg, loop.dev, loop.batch, loop.steps
    loop.model.train()
    base = base_flips(len(loop.train_y), cfg["seed"]) if cfg["flip"] == "alternate" else None
    perm = torch.randperm(len(loop.train_y), generator=loop.gen).to(dev)
    total_loss = torch.zeros((), device=dev)
    correct = torch.zeros((), device=dev)
    bar = tqdm(range(steps), desc=f"{loop.name} epoch {epoch + 1}", leave=False, disable=not sys.stderr.isatty())
    since = [torch.zeros((), device=dev), 0]  # the training loss since the last point, and its steps
    for step in bar:
        idx = perm[step * bs:(step + 1) * bs]
        y = loop.train_y[idx]
        x = augmented_batch(loop.train_x, idx, epoch, cfg, base, loop.gen)
        logits, loss = train_step(loop.model, loop.opt, x, y, cfg, dev)
        if not torch.isfinite(loss):  # no point finishing the epoch
            raise Diverged(f"run {loop.name} diverged in epoch {epoch + 1} (step {step + 1}): loss {loss.item()}; "
                           f"the learning rate {cfg['lr']} is too high for this model")
        loop.sched.step()
        with torch.no_grad():
            step_loss = F.cross_entropy(logits, y)
            total_loss += step_loss
            since[0] += step_loss
            correct += (logits.argmax(1) == y).sum()
        if points is not None:
            _loss_points(epoch * steps + step + 1, loop.every, points, since, loop.validate, last=step + 1 == steps)
    return float(total_loss) / steps, float(correct) / (steps * bs)


def _loss_points(done: int, every: tuple[int, int], points: dict, since: list, validate, last: bool) -> None:
    """After `done` steps of the run: the mean training loss of the steps in `since` ([sum, count])
    every every[0] steps and at the epoch's end, the validation loss every every[1] steps (not at the
    end: the epoch scores it)."""
    train_every, val_every = every
    since[1] += 1
    if done % train_every == 0 or last:
        points["train"].append([done, float(since[0]) / since[1]])
        since[0].zero_()
        since[1] = 0
    if val_every and done % val_every == 0 and not last:
        points["val"].append([done, validate()["loss"]])


def augmented_batch(train_x, idx, epoch: int, cfg: dict, base, gen) -> torch.Tensor:
    """The float training batch of images `idx` as the recipe augments it (flips, translation)."""
    return augment(as_float(train_x[idx]), gen, cfg["translate"], flips_for(idx, epoch, cfg, base, gen))


def train_step(model, opt, x: torch.Tensor, y: torch.Tensor, cfg: dict, dev: torch.device):
    """One optimisation step of the recipe on an augmented batch: `forward_backward`, then the
    optimizer's step. Returns (float32 logits, loss); a non-finite loss takes no step (the caller
    decides what that means). The trainer, the speed probes and bench-train use it or its parts."""
    logits, loss = forward_backward(model, opt, x, y, cfg, dev)
    if torch.isfinite(loss):
        opt.step()
    return logits, loss


def forward_backward(model, opt, x: torch.Tensor, y: torch.Tensor, cfg: dict, dev: torch.device):
    """Forward under autocast, the recipe's loss, and its gradients where the loss is finite."""
    with autocast(dev):
        logits = model(x)
    logits = logits.float()
    loss = loss_for_step(logits, y, cfg)
    if torch.isfinite(loss):
        opt.zero_grad(set_to_none=True)
        loss.backward()
    return logits, loss
