"""Problem 2 (e)/(f): each family's final model: the ablation's best cell, trained on the whole
training split in the ablation's regime at that cell's tuned rate. It is also that cell's run on
the ladder's full-split rung (experiments/studies/ablation.py), so no cell is trained twice.
"""
from __future__ import annotations

from pathlib import Path

from experiments.engine.errors import UserError
from experiments.engine.io import save_figure, write_json
from experiments.studies.ablation import MAX_HALVINGS, best_cell, read_cells, regime
from experiments.training.loss_points import loss_curve
from experiments.training.models import build_model, describe
from experiments.training.train import train_with_retries


def run_final(family: str, cell_dirs: dict[str, Path], prepared, out_dir: Path, params: dict, device: str) -> dict:
    """Train `<family>-final` on the whole training split; write loss.png and arch.json beside it."""
    best = best_cell(read_cells(cell_dirs))
    cfg = {**regime(params), "lr": best["lr"], "seed": params["ablation"]["final_seeds"][0]}
    metrics = train_with_retries(f"{family}-final", best["model"], cfg, prepared, Path(out_dir), device,
                                 MAX_HALVINGS)
    if metrics["diverged"]:  # nothing downstream can use a model that is not there
        raise UserError(f"{family}-final diverged at every learning rate tried ({metrics['diverged_lrs']}); "
                        f"lower the learning rates (profile ablation.lr_grid)")
    write_json(Path(out_dir) / "arch.json", {"family": family, "cell": best["cell"], "model": best["model"],
                                             **describe(build_model(best["model"]))})
    plot_loss(metrics, Path(out_dir) / "loss.png")
    return metrics


def plot_loss(metrics: dict, path: Path) -> None:
    """Training loss every few steps and validation loss several times per epoch (each epoch's end
    marked), against epochs; validation accuracy at each epoch's end on a second axis."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curve = loss_curve(metrics["history"])
    fig, ax = plt.subplots(figsize=(6, 3.8))
    ax.plot(*zip(*curve["train"]), lw=1.2, marker=".", ms=3, label="training loss (augmented batches)")
    ax.plot(*zip(*curve["val"]), marker="o", ms=3, label="validation loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy")
    acc_ax = ax.twinx()
    acc_ax.plot(*zip(*curve["val_acc"]), color="tab:green", ls="--", marker="s", ms=4, label="validation accuracy")
    acc_ax.set_ylabel("validation accuracy (%)")
    lines = ax.get_legend_handles_labels()[0] + acc_ax.get_legend_handles_labels()[0]
    # below the axes, so that no curve runs under it
    fig.legend(lines, [line.get_label() for line in lines], fontsize=8, loc="lower center", ncol=3, frameon=False)
    fig.subplots_adjust(bottom=0.27)
    ax.set_title(f"{metrics['run']}: loss over training ({len(curve['train'])} training, "
                 f"{len(curve['val'])} validation points)", fontsize=10)
    save_figure(fig, path)
