"""Problem 2 (c)/(d): the batch-norm x dropout ablation, run fairly and reported with its noise.

For each family the chosen architecture is trained in four cells (plain, bn, dropout,
bn-dropout) with the same data subset, epochs, augmentation and seeds. A net without BN does not
train well at a BN net's learning rate, so each cell picks its own learning rate by one recorded
rule: a short sweep over `lr_grid` on seed 0, best validation accuracy wins. Effects are paired
differences over seeds (the same seed gives every cell the same batch order and augmentation).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from experiments.errors import UserError
from experiments.io import read_json, write_json
from experiments.search import subset
from experiments.train import Diverged, train_run, train_with_retries

CELLS = {"plain": (False, False), "bn": (True, False), "dropout": (False, True), "bn-dropout": (True, True)}
MAX_HALVINGS = 2  # a seed that diverges at the chosen lr retries at lr/2, then lr/4 (recorded)


def cell_model(search_dir: Path, family: str, cell: str, dropout: dict) -> dict:
    """The search's chosen architecture with this cell's BN and dropout switches."""
    search = read_json(Path(search_dir) / "search.json")
    chosen = next(c["model"] for c in search["candidates"] if c["name"] == search["chosen"])
    bn, drop = CELLS[cell]
    return {**chosen, "batchnorm": bn, "dropout": dropout[family] if drop else 0.0}


def sweep_lr(name: str, model_cfg: dict, train: dict, ablation: dict, data, out_dir: Path, device) -> dict:
    """Short one-seed runs over the lr grid; the best validation accuracy picks the lr."""
    if len(ablation["lr_grid"]) == 1:  # nothing to choose: no sweep runs
        return {"rule": "the profile's single learning rate", "grid": [], "lr": ablation["lr_grid"][0]}
    rows = []
    for lr in ablation["lr_grid"]:
        cfg = {**train, "epochs": ablation["sweep_epochs"], "lr": lr, "seed": 0}
        try:
            m = train_run(f"{name}-sweep-lr{lr}", model_cfg, cfg, data, out_dir / f"lr{lr}", device)
            rows.append({"lr": lr, "val_acc": m["val_acc"], "diverged": False, "seconds": m["seconds"]})
        except Diverged:
            rows.append({"lr": lr, "val_acc": None, "diverged": True, "seconds": None})
    ok = [r for r in rows if not r["diverged"]]
    if not ok:
        raise Diverged(f"{name}: every learning rate in {ablation['lr_grid']} diverged; add smaller ones to lr_grid")
    best = max(ok, key=lambda r: (r["val_acc"], -r["lr"]))
    return {"rule": f"best validation accuracy after {ablation['sweep_epochs']} epoch(s), seed 0",
            "grid": rows, "lr": best["lr"]}


def run_seed(name: str, model_cfg: dict, cfg: dict, data, run_dir: Path, device) -> dict:
    """One seed's run; on divergence retried at half the lr (at most MAX_HALVINGS times); a seed
    that diverges every time is recorded as diverged (val_acc None) and the cell goes on."""
    return train_with_retries(name, model_cfg, cfg, data, run_dir, device, MAX_HALVINGS)


def run_cell(family: str, cell: str, search_dir: Path, prepared, out_dir: Path, params: dict, device: str) -> dict:
    ablation = params["ablation"]
    train = {**params["train"], "batch_size": ablation["batch_size"]}
    out_dir = Path(out_dir)
    model_cfg = cell_model(search_dir, family, cell, ablation["dropout"])
    data = subset(prepared, ablation["train_limit"])
    name = f"{family}-{cell}"
    sweep = sweep_lr(name, model_cfg, train, ablation, data, out_dir / "sweep", device)
    write_json(out_dir / "sweep.json", sweep)
    runs = []
    for seed in ablation["seeds"]:
        cfg = {**train, "epochs": ablation["epochs"], "lr": sweep["lr"], "seed": seed}
        runs.append(run_seed(f"{name}-s{seed}", model_cfg, cfg, data, out_dir / f"s{seed}", device))
    acc = [r["val_acc"] for r in runs]  # None for a seed that diverged at every retry
    finite = [a for a in acc if a is not None]
    record = {"family": family, "cell": cell, "batchnorm": model_cfg["batchnorm"], "dropout": model_cfg["dropout"],
              "model": model_cfg, "lr": sweep["lr"], "lr_rule": sweep["rule"], "lr_grid": list(ablation["lr_grid"]),
              "seeds": list(ablation["seeds"]), "val_acc": acc,
              "lr_halvings": [r["lr_halvings"] for r in runs], "diverged": [r["diverged"] for r in runs],
              "epochs": ablation["epochs"], "batch_size": train["batch_size"],
              "n_train": len(data.train_y), "mean": float(np.mean(finite)) if finite else None,
              "sd": _sd(finite) if finite else None,
              "history": [r["history"] for r in runs if r["history"]], "seconds": sum(r["seconds"] for r in runs),
              "sweep_seconds": sum(r["seconds"] or 0 for r in sweep["grid"])}
    write_json(out_dir / "cell.json", record)
    return record


def _sd(values) -> float:
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def _effect(per_seed: np.ndarray) -> dict:
    """A paired effect over seeds; a seed where a cell diverged (NaN) has no effect (None) and is
    left out of the mean and sd."""
    ok = per_seed[np.isfinite(per_seed)]
    return {"mean": float(ok.mean()) if len(ok) else None, "sd": _sd(ok) if len(ok) else None,
            "per_seed": [float(v) if np.isfinite(v) else None for v in per_seed]}


def paired_effects(acc: dict[str, np.ndarray]) -> dict:
    """2x2 factorial effects per seed: main effects averaged over the other factor, and the
    interaction (how much BN changes dropout's effect)."""
    bn = ((acc["bn"] - acc["plain"]) + (acc["bn-dropout"] - acc["dropout"])) / 2
    drop = ((acc["dropout"] - acc["plain"]) + (acc["bn-dropout"] - acc["bn"])) / 2
    inter = (acc["bn-dropout"] - acc["bn"]) - (acc["dropout"] - acc["plain"])
    return {"bn_effect": _effect(bn), "dropout_effect": _effect(drop), "interaction": _effect(inter)}


def summarize(family: str, cell_dirs: dict[str, Path], out_dir: Path) -> dict:
    """Table of cells, paired effects over seeds, the best cell, and the curves figure."""
    cells = {cell: read_json(Path(d) / "cell.json") for cell, d in cell_dirs.items()}
    acc = {cell: np.array([np.nan if a is None else a for a in c["val_acc"]], dtype=float) for cell, c in cells.items()}
    trained = [c for c in cells.values() if c["mean"] is not None]
    if not trained:
        raise UserError(f"{family}: every seed of every ablation cell diverged; lower the learning rates (lr_grid)")
    best = max(trained, key=lambda c: c["mean"])
    table = [{k: c.get(k) for k in ("cell", "batchnorm", "dropout", "lr", "mean", "sd", "val_acc", "lr_halvings",
                                     "diverged")} for c in cells.values()]
    record = {"family": family, "cells": table, "effects": paired_effects(acc),
              "seeds": cells["plain"]["seeds"], "epochs": cells["plain"]["epochs"],
              "batch_size": cells["plain"]["batch_size"],
              "lr_rule": cells["plain"].get("lr_rule"), "lr_grid": cells["plain"].get("lr_grid"),
              "n_train": cells["plain"]["n_train"],
              "best": {"cell": best["cell"], "model": best["model"], "lr": best["lr"]}}
    plot_curves(cells, Path(out_dir) / "curves.png", family)
    write_json(Path(out_dir) / "summary.json", record)
    return record


def plot_curves(cells: dict, path: Path, family: str) -> None:
    """Validation loss and accuracy per epoch for each cell: mean over seeds, band = min..max."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from experiments.io import save_figure

    fig, axes = plt.subplots(1, 3, figsize=(10, 3))
    for cell, c in cells.items():
        if not c["history"]:  # every seed diverged: nothing to draw
            continue
        for ax, key in zip(axes, ("train_loss", "val_loss", "val_acc")):
            curves = np.array([[h[key] for h in hist] for hist in c["history"]])
            epochs = np.arange(1, curves.shape[1] + 1)
            ax.plot(epochs, curves.mean(0), marker="o", label=cell)
            ax.fill_between(epochs, curves.min(0), curves.max(0), alpha=0.2)
    for ax, title in zip(axes, ("training loss", "validation loss", "validation accuracy")):
        ax.set_title(f"{family}: {title}", fontsize=9)
        ax.set_xlabel("epoch")
    axes[2].legend(fontsize=7)
    save_figure(fig, path)
