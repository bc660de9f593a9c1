"""Problem 2 (c)/(d), the ablation's summary: per rung of the ladder, each cell's accuracy and fit
gap and the paired 2x2 effects of batch norm and dropout; the effect-against-size figure (with the
intervals of experiments/stats.py) and the full split's curves.

Effects are paired: on a rung with several seeds, per seed (the same seed gives every cell the
same batch order and augmentation); on a rung with one seed, per validation image (the same
images), which measures which images were drawn for validation but not training noise.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from experiments.core.names import CELL_SWITCHES, twins
from experiments.engine.io import read_json, save_figure, write_json
from experiments.stats import interval_from_moments
from experiments.studies.ablation import chance_accuracy, read_cells, sample_sd

# ---------------------------------------------------------------- effects

def factorial(acc: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """2x2 factorial effects, elementwise (per seed or per image): main effects averaged over the
    other factor, and the interaction (how much BN changes dropout's effect)."""
    return {"bn_effect": ((acc["bn"] - acc["plain"]) + (acc["bn-dropout"] - acc["dropout"])) / 2,
            "dropout_effect": ((acc["dropout"] - acc["plain"]) + (acc["bn-dropout"] - acc["bn"])) / 2,
            "interaction": (acc["bn-dropout"] - acc["bn"]) - (acc["dropout"] - acc["plain"])}


FACTORIAL = ("bn_effect", "dropout_effect", "interaction")
# each switch on vs off in the final's cell (the other as the final has it): the effects on the network handed in
IN_FINAL = {"bn": "bn_in_final", "dropout": "dropout_in_final"}
FINAL_PAIR = IN_FINAL["dropout"]


def _common_seeds(records: dict[str, dict], cells) -> list:
    return [s for s in records[cells[0]]["seeds"] if all(s in records[c]["seeds"] for c in cells)]


def _at_seeds(record: dict, seeds: list, key: str = "val_acc") -> list:
    by_seed = dict(zip(record["seeds"], record[key]))
    return [by_seed[s] for s in seeds]


def paired_effect(records: dict[str, dict], cells: tuple, combine, val_y: np.ndarray) -> dict:
    """An effect of `cells`, paired per seed over the seeds they share when there are two or more,
    else per validation image over the first shared seed's predictions (one run per cell).
    {"unit", "n", "mean", "sd", "per_seed", "seeds"}; a diverged seed is left out (None)."""
    seeds = _common_seeds(records, cells)
    if len(seeds) > 1:
        acc = {c: np.array([np.nan if a is None else a for a in _at_seeds(records[c], seeds)], dtype=float)
               for c in cells}
        per_seed = combine(acc)
        ok = per_seed[np.isfinite(per_seed)]
        return {"unit": "seed", "n": int(len(ok)), "mean": float(ok.mean()) if len(ok) else None,
                "sd": sample_sd(ok) if len(ok) else None, "seeds": seeds,
                "per_seed": [float(v) if np.isfinite(v) else None for v in per_seed]}
    preds = {c: _at_seeds(records[c], seeds[:1], "val_pred")[0] if seeds else None for c in cells}
    if any(p is None for p in preds.values()):  # a cell diverged: no predictions to pair
        return {"unit": "image", "n": 0, "mean": None, "sd": None, "per_seed": [], "seeds": seeds[:1]}
    v = combine({c: (np.asarray(p) == val_y).astype(float) for c, p in preds.items()})
    return {"unit": "image", "n": int(len(v)), "mean": float(v.mean()), "sd": sample_sd(v), "per_seed": [],
            "seeds": seeds[:1]}


def rung_effects(records: dict[str, dict], val_y: np.ndarray, final_cell: str | None = None) -> dict:
    """The 2x2 factorial effects on one rung, and, given the final's cell, each switch's effect in
    that cell (`twin_effect`: the batch-norm and dropout questions for the network handed in); an
    effect whose cells did not all train on this rung is left out."""
    out = {}
    if set(CELL_SWITCHES) <= set(records):
        out = {key: paired_effect(records, tuple(CELL_SWITCHES), lambda acc, key=key: factorial(acc)[key], val_y)
               for key in FACTORIAL}
    for switch, twin in (twins(final_cell).items() if final_cell is not None else ()):
        if twin in records and records[twin]["seeds"]:
            out[IN_FINAL[switch]] = twin_effect(records, final_cell, twin, switch, val_y)
    return out


def twin_effect(records: dict[str, dict], final_cell: str, twin: str, switch: str, val_y: np.ndarray) -> dict:
    """A switch's effect in the final's cell, with it on minus off ("cells": [on, off]): paired per seed
    where the two share two or more seeds; else, where the final's cell has two or more runs, the twin's
    runs against the final's, judged by the noise the final's repeats measured (unit "run": the mean
    difference, the pooled sd and the runs on each side); else per validation image (one run each)."""
    index = 0 if switch == "bn" else 1
    on, off = (twin, final_cell) if CELL_SWITCHES[twin][index] else (final_cell, twin)
    cells = [on, off]
    if len(_common_seeds(records, cells)) > 1:
        return {**paired_effect(records, tuple(cells), lambda acc: acc[on] - acc[off], val_y), "cells": cells}
    runs = {c: [a for a in records[c]["val_acc"] if a is not None] for c in cells}
    if len(runs[final_cell]) > 1 and runs[twin]:
        return {**unpaired_moments(runs[on], runs[off]), "cells": cells, "seeds": records[final_cell]["seeds"]}
    return {**paired_effect(records, tuple(cells), lambda acc: acc[on] - acc[off], val_y), "cells": cells}


def unpaired_moments(on: list[float], off: list[float]) -> dict:
    """mean(on) - mean(off) with the pooled sample sd of the two groups of runs (unit "run")."""
    dof = len(on) + len(off) - 2
    squares = sum((np.asarray(g) - np.mean(g)) @ (np.asarray(g) - np.mean(g)) for g in (on, off))
    return {"unit": "run", "n": len(on) + len(off), "n_on": len(on), "n_off": len(off),
            "mean": float(np.mean(on) - np.mean(off)), "sd": float(np.sqrt(squares / dof)) if dof > 0 else None,
            "per_seed": [], "runs": {"on": list(on), "off": list(off)}}


def seed_range(record: dict) -> float | None:
    """The largest seed-to-seed difference of a cell's accuracy on one rung (None under two seeds)."""
    acc = [a for a in record["val_acc"] if a is not None]
    return float(max(acc) - min(acc)) if len(acc) > 1 else None


def summarize(family: str, cell_dirs: dict[str, Path], full_dir: Path, val_y: np.ndarray, out_dir: Path) -> dict:
    """The ladder: per rung, each cell's accuracy and fit gap and the paired effects; the
    effect-against-size figure and the full split's curves."""
    cells, full = read_cells(cell_dirs), read_json(Path(full_dir) / "full.json")
    ladder = []
    n_small = len(next(iter(cells.values()))["rungs"])
    for i in range(n_small + 1):  # the full split holds the cells the profile trained there
        records = {c: (cells[c]["rungs"][i] if i < n_small else full["cells"][c]) for c in cells
                   if i < n_small or c in full["cells"]}
        ladder.append({"n_train": next(iter(records.values()))["n_train"],
                       "seeds": next(iter(records.values()))["seeds"],
                       "cells": [{"cell": c, "seeds": r["seeds"], "seed_range": seed_range(r),
                                  **{k: r[k] for k in ("val_acc", "mean", "sd", "train_acc", "fit_gap",
                                                       "lr_halvings", "diverged")}}
                                 for c, r in records.items()],
                       "effects": rung_effects(records, np.asarray(val_y), full["best"] if i == n_small else None)})
    table = [{k: c[k] for k in ("cell", "batchnorm", "dropout", "lr")} for c in cells.values()]
    plain = cells["plain"]
    record = {"family": family, "cells": table, "rungs": ladder, "best": {"cell": full["best"]},
              "lr_rule": plain["lr_rule"], "lr_grid": plain["lr_grid"], "lr_walk": plain["lr_walk"],
              "tuning": {c: cells[c]["tuning"] for c in cells}, "train": plain["train"],
              "chance": chance_accuracy(val_y)}  # for "stays near chance"
    out_dir = Path(out_dir)
    # the cells' curves side by side: on the full split when every cell trained there
    curves = full["cells"] if set(full["cells"]) == set(cells) else {c: cells[c]["rungs"][-1] for c in cells}
    record["curves_n_train"] = next(iter(curves.values()))["n_train"]
    plot_ladder(ladder, out_dir / "ladder.png", family)
    plot_curves(curves, out_dir / "curves.png", family)
    write_json(out_dir / "summary.json", record)
    return record


# ---------------------------------------------------------------- figures

def plot_ladder(ladder: list[dict], path: Path, family: str) -> None:
    """Each effect against training-set size, with its 95% interval (from experiments.stats):
    over seeds (training runs: filled markers) or, on a rung of one run per cell, over validation images
    (scoring precision only: hollow markers, dashed bars), each rung's unit named under its size."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = {"bn_effect": "batch norm", "dropout_effect": "dropout", "interaction": "interaction"}
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ladder = [r for r in ladder if set(labels) & set(r["effects"])]  # rungs where the 2x2 was measured
    sizes = np.array([r["n_train"] for r in ladder], dtype=float)
    for k, (key, label) in enumerate(labels.items()):
        x = sizes * (1 + 0.04 * (k - 1))  # side by side at each rung
        mean, low, high = [], [], []
        for r in ladder:
            e = r["effects"].get(key, {"mean": None, "sd": None, "n": 0})  # not measured on this rung
            lo, hi = interval_from_moments(e["mean"], e["sd"], e["n"])
            mean.append(np.nan if e["mean"] is None else 100 * e["mean"])
            low.append(np.nan if lo is None else 100 * lo)
            high.append(np.nan if hi is None else 100 * hi)
        mean, low, high = map(np.array, (mean, low, high))
        color = f"C{k}"
        for unit, style in (("seed", {}), ("image", {"mfc": "white", "ls": "none"})):
            at = np.array([_unit(r) == unit for r in ladder])
            if not at.any():
                continue
            bars = ax.errorbar(x[at], mean[at], yerr=[np.nan_to_num(mean - low)[at], np.nan_to_num(high - mean)[at]],
                               marker="o", capsize=3, color=color, label=label if unit == "seed" or not
                               any(_unit(r) == "seed" for r in ladder) else None, **style)
            if unit == "image":
                bars[-1][0].set_linestyle("--")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xscale("log")
    ax.margins(x=0.15)  # the side-by-side markers stay inside the frame, also on a single rung
    ax.set_xticks(sizes, [f"{int(n):,}\n" + ("over seeds" if _unit(r) == "seed" else "1 run: over images")
                          for n, r in zip(sizes, ladder)])
    ax.minorticks_off()
    ax.set_xlabel("training images")
    ax.set_ylabel("effect on val. accuracy (points)")
    ax.set_title(f"{family}: effects against training-set size (95% intervals; hollow: one run, over images)",
                 fontsize=9)
    ax.legend(fontsize=7)
    save_figure(fig, path)


def _unit(rung: dict) -> str:
    """What a rung's intervals are over: "seed" (training runs) or "image" (one run per cell)."""
    return next((e.get("unit", "seed") for e in rung["effects"].values()), "seed")


def plot_curves(records: dict[str, dict], path: Path, family: str) -> None:
    """Loss and validation accuracy (%) per epoch for each cell: mean over seeds, band = min..max."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(10, 3.2))
    scale = {"train_loss": 1, "val_loss": 1, "val_acc": 100}
    for cell, r in records.items():
        if not r["history"]:  # every seed diverged: nothing to draw
            continue
        for ax, key in zip(axes, ("train_loss", "val_loss", "val_acc")):
            curves = scale[key] * np.array([[h[key] for h in hist] for hist in r["history"]])
            epochs = np.arange(1, curves.shape[1] + 1)
            ax.plot(epochs, curves.mean(0), marker="o", label=cell)
            ax.fill_between(epochs, curves.min(0), curves.max(0), alpha=0.2)
    labels = ("cross-entropy", "cross-entropy", "accuracy (%)")
    for ax, title, label in zip(axes, ("training loss", "validation loss", "validation accuracy"), labels):
        ax.set_title(f"{family}: {title}", fontsize=9)
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
    axes[2].legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path)
