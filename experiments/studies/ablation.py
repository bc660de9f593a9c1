"""Problem 2 (c)/(d): the batch-norm × dropout ablation, in the final model's regime, on a ladder
of training-set sizes.

Every run trains with the final's recipe (`regime`: the profile's `train` section and
`final.epochs`); only the cell's BN and dropout, its learning rate, the seed and the number of
training images differ. The smaller rungs (`rungs`, stratified subsets) run `seeds`; the last
rung is the whole training split, `full_seeds` per cell, and the best cell's first full-split
run is the final model itself (experiments/studies/final.py), not a second copy of it.

The learning rate, per cell, by one recorded rule: on the smallest rung at `tune_seed`, each
rate of `lr_grid` trains the whole recipe; the best validation accuracy wins (a tie goes to the
smaller rate). While the smallest rate tried wins, or no rate trained (each diverged or stayed
below twice chance), half the smallest is tried too, up to `lr_walk` times:
the grid is the recipe's own range, and without batch norm the same recipe can need a rate several
times smaller (a plain net at the recipe's rate blows up and sits at chance). The tuning runs
are not scored: every rung's seeds train afresh at the chosen rate, so no scored run is the winner
of the comparison that chose it (tuning costs the rates tried, a cell).

The summary of the ladder (effects, figures) is experiments/studies/ablation_summary.py.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from experiments.core.names import CELL_SWITCHES, twins
from experiments.engine.errors import UserError
from experiments.engine.io import read_json, write_json
from experiments.engine.units import map_units
from experiments.stats import trained
from experiments.training.data import subset
from experiments.training.train import Diverged, train_run, train_with_retries

MAX_HALVINGS = 2  # a seed that diverges at the chosen lr retries at lr/2, then lr/4 (recorded)


def chance_accuracy(labels) -> float:
    """A guess's accuracy: one over the number of classes."""
    return 1 / len(np.unique(labels))


def regime(params: dict) -> dict:
    """The final model's training config without lr and seed: what every ablation run shares."""
    return {**params["train"], "epochs": params["final"]["epochs"]}


def cell_model(search_dir: Path, family: str, cell: str, dropout: dict) -> dict:
    """The search's chosen architecture with this cell's BN and dropout switches."""
    search = read_json(Path(search_dir) / "search.json")
    chosen = next(c["model"] for c in search["candidates"] if c["name"] == search["chosen"])
    bn, drop = CELL_SWITCHES[cell]
    return {**chosen, "batchnorm": bn, "dropout": dropout[family] if drop else 0.0}


def run_name(family: str, cell: str, n_train: int, seed: int, lr: float) -> str:
    return f"{family}-{cell}-n{n_train}-s{seed}-lr{lr:g}"


def tune_lr(family: str, cell: str, model_cfg: dict, train: dict, grid: list, seed: int, data, out_dir: Path,
            device, walk: int = 0) -> dict:
    """Each rate of the grid at one seed on this rung; the best validation accuracy picks the rate.
    The walk then goes both ways, at most `walk` more rates: while the smallest rate tried wins, or
    no rate trained (each diverged or stayed below twice chance, where which one "wins" is noise),
    half of the smallest is tried (a network without batch norm can need a rate far below the
    recipe's); while the largest rate tried wins, twice the largest is tried (a winner at the edge
    of the grid says nothing of the rates beyond it)."""
    if not tunes(grid, walk):  # nothing to choose
        return {"rule": "the profile's single learning rate", "grid": [], "lr": grid[0]}
    rows, chance = [], chance_accuracy(data.val_y)

    def try_rates(rates: list[float]) -> None:  # the rates are independent runs: units for the executor
        names = [run_name(family, cell, len(data.train_y), seed, lr) for lr in rates]
        calls = [(name, model_cfg, {**train, "lr": lr, "seed": seed}, data, out_dir / name, device)
                 for name, lr in zip(names, rates)]
        rows.extend({"lr": lr, "val_acc": m["val_acc"] if m else None, "diverged": m is None,
                     "seconds": m["seconds"] if m else None} for lr, m in zip(rates, map_units(train_or_none, calls)))

    def best() -> dict | None:
        ok = [r for r in rows if not r["diverged"]]
        return max(ok, key=lambda r: (r["val_acc"], -r["lr"])) if ok else None

    try_rates(list(grid))
    for _ in range(walk):  # each step depends on the last result: one at a time
        step = next_rate(best(), [r["lr"] for r in rows], chance)
        if step is None:
            break
        try_rates([step])
    if best() is None:
        raise Diverged(f"{family}-{cell}: every learning rate in {[r['lr'] for r in rows]} diverged; "
                       f"add smaller ones to lr_grid")
    walked = (f", halving below the grid while its smallest rate won or no rate reached twice chance, doubling above "
              f"it while its largest rate won (at most {walk} more rates)") if walk else ""
    return {"rule": f"best validation accuracy of the whole recipe on {len(data.train_y):,} images, seed {seed}"
                    f"{walked}",
            "grid": rows, "lr": best()["lr"]}


def tunes(grid: list, walk: int) -> bool:
    """Whether a cell's rate is chosen by training (several rates, or a walk from one)."""
    return len(grid) > 1 or bool(walk)


def next_rate(top: dict | None, tried: list[float], chance: float) -> float | None:
    """The walk's next rate: half the smallest tried when it wins or nothing trained, twice the
    largest tried when it wins; None when the winner lies inside the rates tried."""
    if top is None or not trained(top["val_acc"], chance) or top["lr"] == min(tried):
        return min(tried) / 2
    if top["lr"] == max(tried) and len(tried) > 1:
        return max(tried) * 2
    return None


def train_or_none(name: str, model_cfg: dict, cfg: dict, data, run_dir: Path, device) -> dict | None:
    """A tuning run's metrics, or None when it diverged (said in the log, recorded by the caller)."""
    try:
        return train_run(name, model_cfg, cfg, data, run_dir, device)
    except Diverged as err:
        print(err, flush=True)
        return None


train_or_none.unit_words = "learning rates tried"  # the progress line's words


def sample_sd(values) -> float:
    """The sample standard deviation (n - 1); 0 for a single value."""
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def rung_record(runs: list[dict], seeds: list[int], n_train: int) -> dict:
    """One cell on one rung: accuracy, fit gap and curves per seed (None where a seed diverged)."""
    acc = [r["val_acc"] for r in runs]
    finite = [a for a in acc if a is not None]
    return {"n_train": n_train, "seeds": list(seeds), "val_acc": acc,
            "mean": float(np.mean(finite)) if finite else None, "sd": sample_sd(finite) if finite else None,
            "train_acc": [r.get("train_acc_no_tta") for r in runs], "fit_gap": [r.get("fit_gap") for r in runs],
            "lr_halvings": [r["lr_halvings"] for r in runs], "diverged": [r["diverged"] for r in runs],
            "history": [r["history"] for r in runs if r["history"]], "val_pred": [r.get("val_pred") for r in runs],
            "seconds": sum(r["seconds"] for r in runs)}


def train_seeds(family: str, cell: str, model_cfg: dict, train: dict, lr: float, seeds: list, data, out_dir: Path,
                device) -> list[dict]:
    """One run per seed; a diverging seed retries at half the rate (MAX_HALVINGS times), then is
    recorded as diverged (val_acc None) and the rung goes on."""
    return map_units(train_with_retries, seed_calls(family, cell, model_cfg, train, lr, seeds, data, out_dir, device))


def seed_calls(family: str, cell: str, model_cfg: dict, train: dict, lr: float, seeds: list, data, out_dir: Path,
               device) -> list[tuple]:
    """train_with_retries' arguments for each seed (independent units of work)."""
    return [(run_name(family, cell, len(data.train_y), seed, lr), model_cfg, {**train, "lr": lr, "seed": seed}, data,
             out_dir / run_name(family, cell, len(data.train_y), seed, lr), device, MAX_HALVINGS) for seed in seeds]


def cell_plan(ablation: dict, n_full: int) -> dict:
    """What a cell's stage trains (`run_cell`): its rate tuned on the smallest rung (`tuning_runs`
    expected: the grid and, on average, half the walk) and `seeds` on each rung below the full split."""
    rungs = small_rungs(ablation["rungs"], n_full)
    grid, walk = ablation["lr_grid"], ablation["lr_walk"]
    tuning = len(grid) + walk / 2 if tunes(grid, walk) else 0
    return {"rungs": rungs, "seeds": list(ablation["seeds"]), "tuning_runs": round(tuning)}


def planned_cell_runs(family: str, ablation: dict, epochs: int, n_full: int) -> list[tuple[str, int, int]]:
    """(family, training images, epochs) of each run of one cell (`cell_plan`), for the budget's planner."""
    plan = cell_plan(ablation, n_full)
    return [(family, plan["rungs"][0], epochs)] * plan["tuning_runs"] + \
        [(family, n, epochs) for n in plan["rungs"] for _ in plan["seeds"]]


def planned_full_runs(family: str, ablation: dict, epochs: int, n_full: int) -> list[tuple[str, int, int]]:
    """The full split's runs beside the final (`run_full_rung`); which cell is best does not change the count."""
    count = sum(len(seeds) for seeds in full_split_seeds(ablation, "bn").values()) - 1  # the final is one
    return [(family, n_full, epochs)] * count


def run_cell(family: str, cell: str, search_dir: Path, prepared, out_dir: Path, params: dict, device: str) -> dict:
    """The cell's rate (tuned on the smallest rung) and its runs on every rung below the full split."""
    ablation, train, out_dir = params["ablation"], regime(params), Path(out_dir)
    plan = cell_plan(ablation, len(prepared.train_y))
    rungs, seeds = plan["rungs"], plan["seeds"]
    model_cfg = cell_model(search_dir, family, cell, ablation["dropout"])
    data_at = {n: subset(prepared, n) for n in rungs}  # each rung's stratified subset, drawn once
    tuning = tune_lr(family, cell, model_cfg, train, ablation["lr_grid"], ablation["tune_seed"],
                     data_at[rungs[0]], out_dir, device, ablation["lr_walk"])
    calls = [c for n in rungs for c in seed_calls(family, cell, model_cfg, train, tuning["lr"], seeds, data_at[n],
                                                    out_dir, device)]
    runs = map_units(train_with_retries, calls)  # every rung's seeds at once
    records = [rung_record(runs[i * len(seeds):(i + 1) * len(seeds)], seeds, len(data_at[n].train_y))
               for i, n in enumerate(rungs)]
    record = {"family": family, "cell": cell, "batchnorm": model_cfg["batchnorm"], "dropout": model_cfg["dropout"],
              "model": model_cfg, "lr": tuning["lr"], "lr_rule": tuning["rule"], "lr_grid": list(ablation["lr_grid"]),
              "lr_walk": ablation["lr_walk"],
              "train": train, "tuning": tuning["grid"], "rungs": records,
              "seconds": sum(r["seconds"] for r in records) + sum(r["seconds"] or 0 for r in tuning["grid"])}
    write_json(out_dir / "cell.json", record)
    return record


def small_rungs(rungs: list, n_full: int) -> list[int]:
    """The ladder's rungs below the full split, ascending; a profile asking for none, or for more
    images than the split has, is a mistake worth one clear message."""
    rungs = sorted(int(n) for n in rungs)
    if not rungs or rungs[0] < 1 or rungs[-1] >= n_full:
        raise UserError(f"ablation.rungs {rungs}: give at least one training-set size between 1 and "
                        f"{n_full - 1} (the full split, {n_full} images, is always the last rung)")
    return rungs


def best_cell(cells: dict[str, dict]) -> dict:
    """The cell the final model uses: the best mean accuracy on the largest rung below the full split."""
    trained = [c for c in cells.values() if c["rungs"][-1]["mean"] is not None]
    if not trained:
        raise UserError(f"{next(iter(cells.values()))['family']}: every seed of every ablation cell diverged; "
                        f"lower the learning rates (ablation.lr_grid)")
    return max(trained, key=lambda c: c["rungs"][-1]["mean"])


def read_cells(cell_dirs: dict[str, Path]) -> dict[str, dict]:
    return {cell: read_json(Path(d) / "cell.json") for cell, d in cell_dirs.items()}


def full_split_seeds(ablation: dict, best: str) -> dict[str, list]:
    """Each cell's seeds on the full split, as the final was trained: `final_seeds` for the final's cell
    (its repeats measure a training run's noise there; the final is its first seed), `twin_seeds` for
    its twins (the cells that differ from it only in batch norm, only in dropout: the effects on the
    network handed in), `full_seeds` for the fourth cell."""
    final = list(ablation["final_seeds"])
    if not final:
        raise UserError("ablation.final_seeds is empty: give at least one seed (its first run is the final model)")
    pair = set(twins(best).values())
    return {cell: final if cell == best else list(ablation["twin_seeds"]) if cell in pair
            else list(ablation["full_seeds"]) for cell in CELL_SWITCHES}


def run_full_rung(family: str, cell_dirs: dict[str, Path], final_dir: Path, prepared, out_dir: Path, params: dict,
                  device: str) -> dict:
    """Each cell's `full_split_seeds` on the whole training split at its tuned rate; the final model
    is the best cell's first seed. Writes full.json (one rung record per cell that trained there)."""
    cells, out_dir = read_cells(cell_dirs), Path(out_dir)
    best = best_cell(cells)["cell"]
    seeds = full_split_seeds(params["ablation"], best)
    todo = {cell: seeds[cell][1:] if cell == best else seeds[cell] for cell in cells}
    calls = [call for cell, c in cells.items()
             for call in seed_calls(family, cell, c["model"], regime(params), c["lr"], todo[cell], prepared, out_dir,
                                    device)]
    done = iter(map_units(train_with_retries, calls))  # every cell's runs at once
    records = {}
    for cell, c in cells.items():
        if not seeds[cell]:  # not trained on the full split in this profile
            continue
        runs = [next(done) for _ in todo[cell]]
        if cell == best:
            final = read_json(Path(final_dir) / "metrics.json")  # its rate is c["lr"] / 2 ** halvings
            halvings = int(round(np.log2(c["lr"] / final["train"]["lr"])))
            runs = [{**final, "diverged": False, "lr_halvings": halvings}] + runs
        records[cell] = rung_record(runs, seeds[cell], len(prepared.train_y))
    record = {"family": family, "best": best, "cells": records}
    write_json(out_dir / "full.json", record)
    return record
