"""Training one run into a run folder: resumable, mixed precision, one line per epoch.

The recipe is airbench94_muon's (experiments/training/recipe.py, defaults in airbench.py): Muon on
the filters and Nesterov SGD on the rest, a frozen patch-whitening stem, label smoothing, alternating
flips and translation on whole batches, the schedule of `recipe.make_scheduler`, and flip +
translate test-time augmentation for the final score (the config's `tta`). bf16 autocast +
channels_last on CPUs with AVX-512 bf16, filters stored in bf16 (`matrix_weights: "low"`), CUDA
autocast on a GPU.

A run folder holds config.json, checkpoint.pt (every epoch, atomic), then model.pt and
metrics.json once finished. Rerunning resumes from the checkpoint: at most one epoch is lost,
and the result equals an uninterrupted run's (all RNG states are in the checkpoint).

A run's identity (experiments/training/identity.py) decides when a finished run or a checkpoint is reused.

At the end a run records, besides the TTA score: its accuracy without TTA on the validation split
and on (up to EVAL_TRAIN_LIMIT of) its own training images, un-augmented, whose difference is the
fit gap the ablation reports; and its per-image validation predictions, for paired comparisons
between runs on the same images.
"""
from __future__ import annotations

import functools
import math
import time
from pathlib import Path
from typing import Callable

import torch

from experiments.engine.devices import autocast_dtype, dtype_name, precisions, resolve_device
from experiments.engine.errors import UserError
from experiments.engine.io import atomic_write, write_json
from experiments.engine.threads import FairThreads, LoadMeter, cores_alone
from experiments.training.airbench import RECIPE_DEFAULTS
from experiments.training.checkpoints import load_checkpoint, restore_rng_state, rng_state, save_checkpoint
from experiments.training.identity import finished_metrics, run_identity
from experiments.training.loss_points import loss_point_steps
from experiments.training.models import build_model, describe, init_whitening
from experiments.training.recipe import CHOICES, make_optimizer, make_scheduler, store_matrix_weights
from experiments.training.scoring import as_float, predict, predict_views, score, spread, to_tensor_images
from experiments.training.steps import Diverged, Loop, train_one_epoch

TRAIN_KEYS = {"epochs", "lr", "batch_size", "label_smoothing", "weight_decay", "momentum",
              "eval_batch_size", "seed", "warmup"}


# A mean training loss this many times a uniform guess's (ln 10 for ten classes) means the run
# has left any regime it can recover from: 4.9e12 was seen at a learning rate far too high, while
# a healthy net without BN can open near 30 (large logits at He init) and recover.
EXPLODED_LOSS_FACTOR = 1000.0
# training images scored at the end (evenly spaced) for the fit gap: beside 5,000 validation images
# its binomial standard error is at most 1.3 points (both accuracies at 50%; 1.0 with 5,000 training
# images) at 40% of the cost
EVAL_TRAIN_LIMIT = 2000
# ---------------------------------------------------------------- the run

def validate_train_config(cfg: dict) -> dict:
    """The config with the recipe's optional keys filled in (so a run's identity spells them out)."""
    cfg = {**RECIPE_DEFAULTS, **cfg}
    unknown, missing = set(cfg) - TRAIN_KEYS - set(RECIPE_DEFAULTS), TRAIN_KEYS - set(cfg)
    if unknown or missing:
        raise UserError(f"training config: unknown {sorted(unknown)}, missing {sorted(missing)}")
    if cfg["epochs"] < 1 or cfg["lr"] <= 0 or cfg["batch_size"] < 1:
        raise UserError(f"training config: epochs, lr and batch_size must be positive: {cfg}")
    bad = {k: cfg[k] for k, allowed in CHOICES.items() if cfg[k] not in allowed}
    if bad:
        raise UserError(f"training config: {bad} not among {CHOICES}")
    return cfg


def check_diverged(name: str, cfg: dict, epoch: int, train_loss: float, val_loss: float,
                   model: torch.nn.Module) -> None:
    """Raise Diverged when the epoch left the run unusable: a non-finite loss or weight, or a
    training or validation loss EXPLODED_LOSS_FACTOR times a uniform guess's (a validation loss of
    1e6 at chance accuracy is a model the rate broke, whatever its smoothed training loss says)."""
    limit = EXPLODED_LOSS_FACTOR * math.log(10)
    bad_weights = [n for n, p in model.state_dict().items() if p.is_floating_point() and not torch.isfinite(p).all()]
    problem = (f"training loss {train_loss:.3g}" if not math.isfinite(train_loss) or train_loss > limit else
               f"validation loss {val_loss:.3g}" if not math.isfinite(val_loss) or val_loss > limit else
               f"non-finite weights in {bad_weights[0]}" if bad_weights else None)
    if problem:
        raise Diverged(f"run {name} diverged in epoch {epoch}: {problem} (limit {limit:.1f}); "
                       f"the learning rate {cfg['lr']} is too high for this model")


def train_run(name: str, model_cfg: dict, train_cfg: dict, data, run_dir: Path, device: str = "cpu",
              on_epoch_end: Callable[[int], None] | None = None, log=print) -> dict:
    """Train one run (or resume it, or return it if already finished) and return its metrics.
    `data` has train_x/train_y/val_x/val_y (uint8 NHWC, int64) and mean/std (training split)."""
    run_dir = Path(run_dir)
    train_cfg = validate_train_config(train_cfg)
    config = run_identity(name, model_cfg, train_cfg, data)
    if (done := finished_metrics(run_dir, config)) is not None:
        return done
    dev = resolve_device(device) if isinstance(device, str) else device
    threads = FairThreads() if dev.type == "cpu" else None  # one per core the other processes leave
    meter = LoadMeter()  # other processes' load while this run trains (on a GPU, its CPU side)
    torch.manual_seed(train_cfg["seed"])
    gen = torch.Generator().manual_seed(train_cfg["seed"])
    model = build_model(model_cfg, data.mean, data.std)
    init_whitening(model, as_float(to_tensor_images(data.train_x[spread(len(data.train_y), 5000)], torch.device("cpu"))))
    store_matrix_weights(model, autocast_dtype(dev) if train_cfg["matrix_weights"] == "low" else None)
    model = model.to(dev, memory_format=torch.channels_last)
    opt = make_optimizer(model, train_cfg)
    bs = min(train_cfg["batch_size"], len(data.train_y))
    steps_per_epoch = len(data.train_y) // bs  # drop the ragged last batch: BN wants full batches
    total = steps_per_epoch * train_cfg["epochs"]
    sched = make_scheduler(opt, train_cfg, total, steps_per_epoch)
    ckpt = run_dir / "checkpoint.pt"
    history, start = resume(ckpt, config, model, opt, sched, gen, name, log)
    write_json(run_dir / "config.json", config)
    train_x, train_y = to_tensor_images(data.train_x, dev), torch.as_tensor(data.train_y, device=dev)
    val_x, val_y = to_tensor_images(data.val_x, dev), torch.as_tensor(data.val_y)
    # the per-epoch curve may use an evenly spaced part of validation (a full pass costs as much as
    # training on tiny rungs); the final score always uses all of it
    curve = spread(len(data.val_y), train_cfg["epoch_val_limit"] or len(data.val_y))
    every = loss_point_steps(steps_per_epoch, train_cfg["epochs"], len(data.train_y), len(curve))
    validate = functools.partial(_score_images, model, val_x[curve], val_y[curve], dev, train_cfg["eval_batch_size"])
    loop = Loop(name, model, opt, sched, train_cfg, gen, dev, train_x, train_y, bs, steps_per_epoch, every, validate)
    for epoch in range(start, train_cfg["epochs"]):
        t0, cpu0 = time.time(), time.process_time()
        points = {"train": [], "val": []}  # [step of the run, loss] within this epoch
        train_loss, train_acc = train_one_epoch(loop, epoch, points)
        val = validate()
        check_diverged(name, train_cfg, epoch + 1, train_loss, val["loss"], model)
        points["val"].append([(epoch + 1) * steps_per_epoch, val["loss"]])
        history.append({"epoch": epoch + 1, "train_loss": train_loss, "train_acc": train_acc, "val_loss": val["loss"],
                        "val_acc": val["acc"], "steps_per_epoch": steps_per_epoch, "points": points,
                        "lr": opt.param_groups[0]["lr"], "seconds": round(time.time() - t0, 2),
                        # CPU seconds over the cores a quiet machine would give it: its cost alone, whatever threads
                        "cpu_seconds": round((time.process_time() - cpu0) / cores_alone(), 2),
                        "threads": threads.threads if threads else torch.get_num_threads()})
        save_checkpoint(ckpt, {"config": config, "model": model.state_dict(), "optimizer": opt.state_dict(),
                               "scheduler": sched.state_dict(), "rng": rng_state(gen),
                               "history": history, "epoch": epoch + 1})
        log(f"{name}: epoch {epoch + 1}/{train_cfg['epochs']} train_loss {train_loss:.3f} "
            f"val_loss {val['loss']:.3f} val_acc {val['acc']:.4f} ({history[-1]['seconds']:.0f} s)")
        if threads:
            meter.say_once(name, threads.threads, log)
            threads.after_epoch()
        if on_epoch_end:
            on_epoch_end(epoch + 1)
    return _finish(name, model, config, history, data, dev, run_dir, ckpt,
                   {"threads": threads.first if threads else torch.get_num_threads(),
                    "busy_elsewhere": meter.busy_elsewhere()})


def _score_images(model, x, y, dev, batch_size: int) -> dict:
    return score(predict(model, x, dev, batch_size), y)


def resume(ckpt: Path, config: dict, model, opt, sched, gen, name: str, log) -> tuple[list, int]:
    """(history, epochs done) from this run's checkpoint, its states restored into the model,
    optimizer, schedule and generator; ([], 0) without a checkpoint of this configuration."""
    if not ckpt.exists():
        return [], 0
    state = load_checkpoint(ckpt)
    if state.get("config") != config:
        return [], 0
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    sched.load_state_dict(state["scheduler"])
    restore_rng_state(gen, state["rng"])
    log(f"{name}: resuming after epoch {state['epoch']}")
    return state["history"], state["epoch"]


def train_with_retries(name: str, model_cfg: dict, cfg: dict, data, run_dir: Path, device,
                       max_halvings: int) -> dict:
    """`train_run`, retried at half the learning rate after each divergence (at most
    `max_halvings` times). The metrics carry `lr_halvings` and `diverged_lrs`; when every try
    diverges the result is {"diverged": True, "val_acc": None, ...}, a recorded outcome, not a crash."""
    diverged = []
    for halving in range(max_halvings + 1):
        lr = cfg["lr"] / 2 ** halving
        try:
            m = train_run(name, model_cfg, {**cfg, "lr": lr}, data, run_dir, device)
            return {**m, "diverged": False, "lr_halvings": halving, "diverged_lrs": diverged}
        except Diverged as err:
            print(f"{err}; retrying at lr {lr / 2}" if halving < max_halvings else str(err), flush=True)
            diverged.append(lr)
    return {"run": name, "diverged": True, "val_acc": None, "lr_halvings": max_halvings,
            "diverged_lrs": diverged, "history": [], "seconds": 0.0}


train_with_retries.unit_words = "runs trained"  # the progress line's words


def _finish(name, model, config, history, data, dev, run_dir: Path, ckpt: Path, load: dict) -> dict:
    """Score the trained model (TTA on validation, whose identity view is the plain score; plain on
    up to EVAL_TRAIN_LIMIT of its training images); write model.pt and metrics.json; drop the
    checkpoint."""
    bs, tta = config["train"]["eval_batch_size"], config["train"]["tta"]
    val_x, val_y = to_tensor_images(data.val_x, dev), torch.as_tensor(data.val_y)
    logits, identity = predict_views(model, val_x, dev, bs, tta=tta)
    final, plain = score(logits, val_y), score(identity, val_y)
    check_diverged(name, config["train"], len(history), history[-1]["train_loss"] if history else 0.0,
                   final["loss"], model)
    seen = spread(len(data.train_y), EVAL_TRAIN_LIMIT)
    fit = score(predict(model, to_tensor_images(data.train_x[seen], dev), dev, bs), torch.as_tensor(data.train_y[seen]))
    info = describe(build_model(config["model"]))  # a float32 copy: the trained one may hold bf16 weights
    state = {k: v.float().cpu() if v.is_floating_point() else v.cpu() for k, v in model.state_dict().items()}
    atomic_write(run_dir / "model.pt", lambda tmp: torch.save(state, tmp))
    metrics = {"run": name, "family": config["model"]["family"], "model": config["model"],
               "train": config["train"], "history": history, "val_acc": final["acc"],
               "val_loss": final["loss"], "val_acc_no_tta": plain["acc"], "train_acc_no_tta": fit["acc"],
               "fit_gap": fit["acc"] - plain["acc"], "n_train_scored": len(seen),
               "epochs": len(history), "seconds": round(sum(h["seconds"] for h in history), 2),
               "cpu_seconds": round(sum(h.get("cpu_seconds", h["seconds"]) for h in history), 2),
               "params": info["params"], "flops": info["flops"], "device": str(dev),
               # its threads, and the cores other processes kept busy when it started (engine/threads.py)
               **load,
               "precision": dtype_name(autocast_dtype(dev)),
               # each part's type by the device rule (engine/devices.py): forward, stored filters, Newton-Schulz
               "precisions": precisions(dev, config["train"]["matrix_weights"], config["train"]["optimizer"]),
               # per-image predictions (with TTA): paired comparisons of runs on the same images
               "val_pred": logits.argmax(1).tolist()}
    write_json(run_dir / "metrics.json", metrics)
    ckpt.unlink(missing_ok=True)
    return metrics
