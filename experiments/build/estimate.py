"""A first build's time left, before any stage has been timed on this results folder: what each
training stage will train, counted from the profile, at this machine's speed, measured once on a
short probe (a few training steps of the smallest candidate). Rough by design: it counts images
through the network (training steps cost three forward passes) and leaves out what does not scale
with them; the build's later estimates use the stages' recorded times instead.
"""
from __future__ import annotations

import functools
import json
import statistics
import time

from experiments.core import paths
from experiments.core.names import stage_id
from experiments.engine.io import read_json
from experiments.training.loss_points import mid_epoch_val_points

# Steps of one batch here vary by +-15% from one to the next (1.4-2.3 s for gap-s at batch 2000, AVX-512
# bf16 EPYC): two timed steps read 184 GFLOP/s where the build then trained at 230-280. The median of 6
# is what the plan prices (about 10 s more than two)
PROBE_MODEL, PROBE_STEPS = "gap-s", 6
UNTIMED_STEPS = 2  # kernel set-up
TRAIN_PASSES = 3  # a training step: the forward pass and a backward pass of about twice its cost
CIFAR_TRAIN = 50_000  # the training images before the validation split, until the data stage says
TTA_VIEWS = {"flip": 2, "flip-translate": 6}


def probe_method(batch: int) -> str:
    """How the speed is measured, as speed.json records it (a speed measured otherwise is measured again)."""
    return f"the median of {PROBE_STEPS} training steps of {PROBE_MODEL} at batch {batch}"


@functools.lru_cache(maxsize=None)
def seconds_per_flop(device: str, batch: int) -> float:
    """Seconds per forward FLOP of one image, from the median of PROBE_STEPS timed training steps of
    PROBE_MODEL (UNTIMED_STEPS first) on `batch` random images. Give it the batch the profile trains at: per
    FLOP, a step at batch 250 ran 15-20% faster than one at 2000 here (its activations stay in
    cache), and builds planned from a batch-250 probe trained 19% slower than it said."""
    import torch

    from experiments.engine.devices import resolve_device
    from experiments.engine.threads import threads_for_run
    from experiments.training.models import build_model, candidate, describe
    from experiments.training.profiles import PROFILES
    from experiments.engine.devices import autocast_dtype
    from experiments.training.recipe import make_optimizer, store_matrix_weights
    from experiments.training.steps import train_step
    from experiments.training.train import validate_train_config
    dev = resolve_device(device)
    if dev.type == "cpu":  # the threads a run would take now: the plan prices the load it finds
        threads_for_run()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        cfg = validate_train_config({**PROFILES["full"]["train"], "epochs": 1, "lr": 0.24, "seed": 0})
        model = build_model(candidate(PROBE_MODEL))
        # the filters stored as the recipe stores them: float32 filters under bf16 autocast cost a cast
        # each step and seconds of kernel set-up in the first steps (4-6 s against 0.3 s, AVX-512 bf16)
        store_matrix_weights(model, autocast_dtype(dev) if cfg["matrix_weights"] == "low" else None)
        model = model.to(dev, memory_format=torch.channels_last).train()
        opt = make_optimizer(model, cfg)
        x = torch.rand(batch, 3, 32, 32, device=dev).contiguous(memory_format=torch.channels_last)
        y = torch.randint(0, 10, (batch,), device=dev)
        timed = []
        for step in range(PROBE_STEPS + UNTIMED_STEPS):
            t0 = _synced(dev)
            train_step(model, opt, x, y, cfg, dev)
            timed.append(_synced(dev) - t0)
        seconds = statistics.median(timed[UNTIMED_STEPS:])
    return seconds / (batch * TRAIN_PASSES * describe(build_model(candidate(PROBE_MODEL)))["flops"])


EVAL_PROBE_REPEATS = 3


def eval_probe_method(batch: int) -> str:
    return f"the median of {EVAL_PROBE_REPEATS} scoring passes of {PROBE_MODEL} at batch {batch}"


@functools.lru_cache(maxsize=None)
def eval_seconds_per_flop(device: str, batch: int) -> float:
    """Seconds per forward FLOP of one image scored (eval mode, no gradient, the scoring's precision): a
    plan prices the validation passes of a run at this, not at the training step's rate (on the 2-core
    EPYC the ablation's short runs, a third of whose passes are scoring, ran at 0.77 of a price that
    counted them as training)."""
    import torch

    from experiments.engine.devices import autocast_dtype, resolve_device
    from experiments.training.models import build_model, candidate, describe
    from experiments.training.profiles import PROFILES
    from experiments.training.recipe import store_matrix_weights
    from experiments.training.scoring import predict
    dev = resolve_device(device)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = build_model(candidate(PROBE_MODEL))
        low = PROFILES["full"]["train"]["matrix_weights"] == "low"
        store_matrix_weights(model, autocast_dtype(dev) if low else None)
        model = model.to(dev, memory_format=torch.channels_last)
        images = torch.randint(0, 256, (batch, 3, 32, 32), dtype=torch.uint8)
        timed = []
        for _ in range(EVAL_PROBE_REPEATS + 1):
            t0 = _synced(dev)
            predict(model, images, dev, batch_size=batch)
            timed.append(_synced(dev) - t0)
    return statistics.median(timed[1:]) / (batch * describe(build_model(candidate(PROBE_MODEL)))["flops"])


def _synced(dev) -> float:
    import torch
    if dev.type == "cuda":
        torch.cuda.synchronize()
    return time.time()


def split_sizes(ctx) -> tuple[int, int]:
    """(training, validation) images: the data stage's split once it exists, else the profile's
    limits on CIFAR-10's training set."""
    split = ctx.results / paths.SPLIT
    if split.exists():
        rec = read_json(split)
        return rec["n_train"], rec["n_val"]
    data = ctx.profile["data"]
    n_val = min(data["val_size"], data["val_limit"] or data["val_size"])
    return min(CIFAR_TRAIN - data["val_size"], data["train_limit"] or CIFAR_TRAIN), n_val


def model_flops(ctx, family: str) -> int:
    """Forward FLOPs per image of the family's architecture: the search's choice once made, else
    the one its budget rule would most likely give here: the largest candidate whose final
    training fits `final.max_minutes` at this machine's speed (the smallest when none does)."""
    from experiments.training.models import candidate
    search = ctx.results / paths.search(family) / "search.json"
    if search.exists():
        rec = read_json(search)
        return next(c["flops"] for c in rec["candidates"] if c["name"] == rec["chosen"])
    names = ctx.profile["search"]["candidates"][family]
    flops = sorted(config_flops(json.dumps(candidate(n, extra=ctx.profile["models"]), sort_keys=True)) for n in names)
    final, (n_train, _) = ctx.profile["final"], split_sizes(ctx)
    spf = seconds_per_flop(ctx.device, ctx.profile["train"]["batch_size"])
    minutes = [f * TRAIN_PASSES * n_train * final["epochs"] * spf / 60 for f in flops]
    return max((f for f, m in zip(flops, minutes) if m <= final["max_minutes"]), default=flops[0])


@functools.lru_cache(maxsize=None)
def config_flops(model_json: str) -> int:
    """An architecture's forward FLOPs per image, built once (the time left is asked at every stage)."""
    from experiments.training.models import build_model, describe
    return describe(build_model(json.loads(model_json)))["flops"]


def run_passes(train: dict, n_val: int, n_train: int, epochs: int, eval_ratio: float = 1.0) -> float:
    """Forward-pass equivalents of one run, in training-step FLOPs: its training steps, and its scoring
    (the TTA's views of the validation split, the loss curve's validation passes, the fit gap's training
    images) at `eval_ratio`, a scored image's seconds per FLOP over a trained one's."""
    curve = min(n_val, train["epoch_val_limit"] or n_val)
    steps = n_train // max(1, min(train["batch_size"], n_train))
    passes = epochs + mid_epoch_val_points(steps, epochs, n_train, curve)  # the loss curve's validation passes
    scored = n_val * TTA_VIEWS.get(train["tta"], 1) + curve * passes + 2000
    return TRAIN_PASSES * n_train * epochs + eval_ratio * scored


RUN_KINDS = ("search", "levers", "cell", "final", "full")  # the stages whose runs are counted


def counts_runs(stage: str) -> bool:
    """Whether the stage called `stage` trains runs that `runs_of` counts."""
    return stage_id(stage).kind in RUN_KINDS


def runs_of(p: dict, n: int, stage: str) -> list[tuple[str, int, int]] | None:
    """(family or candidate, training images, epochs) of each run `stage` will train under profile `p`
    with `n` training images, as each study declares it; None for a stage that trains nothing worth
    counting."""
    sid = stage_id(stage)
    family, epochs = sid.family, p["final"]["epochs"]
    if sid.kind == "search":
        from experiments.studies.search import planned_runs
        return [(family, images, e) for _, images, e in planned_runs(family, p["search"], n)]
    if sid.kind == "levers":
        from experiments.studies.levers import planned_runs
        return planned_runs(family, p["levers"], p["search"], n)
    if sid.kind == "final":
        return [(family, n, epochs)]
    if sid.kind == "full":
        from experiments.studies.ablation import planned_full_runs
        return planned_full_runs(family, p["ablation"], epochs, n)
    if sid.kind == "cell":
        from experiments.studies.ablation import planned_cell_runs
        return planned_cell_runs(family, p["ablation"], epochs, n)
    return None
