"""How close training runs to this machine's limit (`invoke bench-train`).

One run measures the machine's matmul peak (float32, and bfloat16 where it is native), then times
the recipe's training step of the given architectures at the recipe's batch, split into its parts
(augmentation, forward + backward, the optimizer's step, whose Muon Newton-Schulz is what low
precision changes), and states the step's achieved FLOP rate as a fraction of the peak of the type
it computes in. A step's FLOPs are 3x the forward's (backward costs about twice the forward).
Times are wall-clock medians of steps run back to back: run it alone on the machine.
"""
from __future__ import annotations

import time

import numpy as np
import torch

from experiments.engine.devices import autocast_dtype, dtype_name, precisions, resolve_device
from experiments.engine.threads import cores_alone
from experiments.training.models import build_model, describe
from experiments.training.recipe import base_flips, make_optimizer, store_matrix_weights
from experiments.training.scoring import to_tensor_images
from experiments.training.steps import augmented_batch, forward_backward
from experiments.training.train import validate_train_config

MATMUL_SIZE = 2048


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize()


def matmul_peak(dev: torch.device, dtype: torch.dtype, size: int = MATMUL_SIZE, repeats: int = 5) -> float:
    """GFLOP/s of the best of `repeats` size x size matmuls in `dtype` (after one untimed)."""
    a, b = (torch.randn(size, size, device=dev).to(dtype) for _ in range(2))
    best = float("inf")
    for i in range(repeats + 1):
        _sync(dev)
        t0 = time.perf_counter()
        a @ b
        _sync(dev)
        if i:
            best = min(best, time.perf_counter() - t0)
    return 2 * size ** 3 / best / 1e9


def time_step(model_cfg: dict, cfg: dict, batch: int, dev: torch.device, steps: int = 3) -> dict:
    """Median milliseconds of each part of the recipe's training step on random images, after one
    untimed step; and the step's FLOPs."""
    torch.manual_seed(0)
    model = build_model(model_cfg)
    store_matrix_weights(model, autocast_dtype(dev) if cfg["matrix_weights"] == "low" else None)
    model = model.to(dev, memory_format=torch.channels_last).train()
    opt = make_optimizer(model, cfg)
    images = np.random.default_rng(0).integers(0, 256, (batch, 32, 32, 3), dtype=np.uint8)
    x, y = to_tensor_images(images, dev), torch.randint(0, 10, (batch,), device=dev)
    idx, gen = torch.arange(batch, device=dev), torch.Generator().manual_seed(0)
    base = base_flips(batch, 0) if cfg["flip"] == "alternate" else None
    parts: dict[str, list[float]] = {"augment": [], "forward_backward": [], "optimizer": []}
    for step in range(steps + 1):
        marks = [time.perf_counter()]
        xb = augmented_batch(x, idx, step, cfg, base, gen)
        _sync(dev)
        marks.append(time.perf_counter())
        forward_backward(model, opt, xb, y, cfg, dev)
        _sync(dev)
        marks.append(time.perf_counter())
        opt.step()
        _sync(dev)
        marks.append(time.perf_counter())
        if step:
            for name, t0, t1 in zip(parts, marks, marks[1:]):
                parts[name].append(1000 * (t1 - t0))
    ms = {name: float(np.median(v)) for name, v in parts.items()}
    flops = describe(build_model(model_cfg))["flops"]  # a float32 copy: the timed one may hold bf16 weights
    return {"ms": ms, "step_ms": sum(ms.values()), "step_flops": 3 * flops * batch}


def run_bench(models: dict[str, dict], batch: int, train: dict, device: str = "auto", steps: int = 3) -> dict:
    """The peak, then each architecture's ({name: model config}) step against it (see the module docstring)."""
    dev = resolve_device(device)
    if dev.type == "cpu":
        torch.set_num_threads(cores_alone())
    cfg = validate_train_config({**train, "epochs": 1, "lr": train.get("lr", 0.2), "seed": 0})
    low = autocast_dtype(dev)
    peaks = {"float32": matmul_peak(dev, torch.float32)}
    if low is not None:
        peaks[dtype_name(low)] = matmul_peak(dev, low)
    rows = []
    for name, model_cfg in models.items():
        timed = time_step({**model_cfg, "batchnorm": True, "dropout": 0.0}, cfg, batch, dev, steps)
        kinds = precisions(dev, cfg["matrix_weights"], cfg["optimizer"])
        peak = peaks[kinds["forward"]]
        gflops = timed["step_flops"] / (timed["step_ms"] / 1000) / 1e9
        rows.append({"name": name, "batch": batch, **timed, "precisions": kinds, "gflops": gflops,
                     "peak_gflops": peak, "fraction_of_peak": gflops / peak,
                     "fraction_without_optimizer": timed["step_flops"] / (
                         (timed["step_ms"] - timed["ms"]["optimizer"]) / 1000) / 1e9 / peak,
                     "optimizer_share": timed["ms"]["optimizer"] / timed["step_ms"]})
    return {"device": str(dev), "threads": torch.get_num_threads(), "matmul_size": MATMUL_SIZE,
            "peak_gflops": peaks, "steps": steps, "models": rows}


def describe_bench(record: dict, cpu_flags: str) -> str:
    """The record as the lines `invoke bench-train` prints."""
    peaks = ", ".join(f"{k} {v:.0f} GFLOP/s" for k, v in record["peak_gflops"].items())
    lines = [f"{record['device']}, {record['threads']} thread{'' if record['threads'] == 1 else 's'}, {cpu_flags}",
             f"matmul peak ({record['matmul_size']}x{record['matmul_size']}): {peaks}"]
    for r in record["models"]:
        ms = r["ms"]
        lines.append(f"{r['name']} at batch {r['batch']} ({r['precisions']}): step {r['step_ms']:.0f} ms = "
                     f"augment {ms['augment']:.0f} + forward/backward {ms['forward_backward']:.0f} + optimizer "
                     f"{ms['optimizer']:.0f}; {r['gflops']:.0f} GFLOP/s = {100 * r['fraction_of_peak']:.0f}% of the "
                     f"{r['precisions']['forward']} peak ({100 * r['fraction_without_optimizer']:.0f}% without the "
                     f"optimizer); the optimizer (Muon) is {100 * r['optimizer_share']:.1f}% of the step")
    return "\n".join(lines)
