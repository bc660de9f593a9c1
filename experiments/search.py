"""Problem 2 (b) "how we arrived": a recorded architecture search per family.

Each candidate trains under one short budget (same data subset, epochs, lr, BN on, no dropout);
the table of validation accuracy, parameters, FLOPs and time is the evidence, and the choice
follows from it by a stated rule.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from experiments.data import stratified_subset
from experiments.io import write_json
from experiments.models import candidate
from experiments.train import train_run

# What the rule is, not what it found: experiments.verdicts.search_verdict checks the recorded
# choice against it and says whether the budget was binding or nothing fitted.
RULE = ("the most accurate candidate (fewer FLOPs breaking a tie) whose projected final training ({epochs} epochs "
        "on {n} images) fits {minutes} at the measured speed (median epoch, CPU time per thread on a CPU); "
        "if none fits, the fastest")


def subset(data, limit: int | None, seed: int = 0):
    """The same stratified training subset for every run that asks for `limit` images."""
    from dataclasses import replace
    keep = stratified_subset(np.arange(len(data.train_y)), data.train_y, limit, seed)
    return replace(data, train_x=data.train_x[keep], train_y=data.train_y[keep])


def run_search(family: str, prepared, out_dir: Path, params: dict, device: str) -> dict:
    search, train = params["search"], params["train"]
    final = params.get("final", {"epochs": 1, "max_minutes": float("inf")})
    data = subset(prepared, search["train_limit"])
    rows = []
    for name in search["candidates"][family]:
        model_cfg = candidate(name, batchnorm=True, dropout=0.0)
        cfg = {**train, "epochs": search["epochs"], "lr": search["lr"], "seed": 0}
        m = train_run(f"search-{name}", model_cfg, cfg, data, Path(out_dir) / name, device)
        # project from the median epoch's CPU time per thread (on a GPU, wall time): other load on
        # a shared machine, or one slow first epoch, must not change which architecture is chosen
        key = "cpu_seconds" if m["device"] == "cpu" else "seconds"
        per_image = float(np.median([h[key] for h in m["history"]])) / len(data.train_y)
        rows.append({"name": name, "model": model_cfg, "val_acc": m["val_acc"], "params": m["params"],
                     "flops": m["flops"], "seconds": m["seconds"],
                     "projected_final_minutes": round(per_image * len(prepared.train_y) * final["epochs"] / 60, 1)})
    chosen = choose(rows, final["max_minutes"])
    limit = final["max_minutes"] if np.isfinite(final["max_minutes"]) else None  # None: no limit
    record = {"family": family, "budget": {"epochs": search["epochs"], "n_train": len(data.train_y),
                                           "lr": search["lr"]},
              "final_budget": {"epochs": final["epochs"], "n_train": len(prepared.train_y), "max_minutes": limit},
              "candidates": rows, "chosen": chosen,
              "rule": RULE.format(epochs=final["epochs"], n=len(prepared.train_y),
                                  minutes=f"{limit:g} minutes" if limit is not None else "unlimited time")}
    write_json(Path(out_dir) / "search.json", record)
    return record


def choose(rows: list[dict], max_minutes: float) -> str:
    """The most accurate candidate that fits the final budget (the fastest one if none fits)."""
    fits = [r for r in rows if r["projected_final_minutes"] <= max_minutes]
    if not fits:
        return min(rows, key=lambda r: r["projected_final_minutes"])["name"]
    return max(fits, key=lambda r: (r["val_acc"], -r["flops"]))["name"]
