"""Profiles: how much compute each part of the pipeline gets. Plain data, validated once.

`smoke` is for tests and CI (tiny data, whole pipeline in minutes), `quick` gives a complete but
rough report, `full` is the real thing on a 2-core CPU.
"""
from __future__ import annotations

import copy

from experiments.engine.errors import UserError
from experiments.training.airbench import RECIPE, RECIPE_DEFAULTS
from experiments.training.models import RECIPE_LEVERS

# Keys every profile must have, and the keys each section accepts.
SCHEMA = {
    "data": {"val_size", "seed", "train_limit", "val_limit"},
    "conv": {"bench_repeats", "bench_small"},
    "audit": {"near_dup_threshold", "n_examples"},
    "search": {"epochs", "train_limit", "candidates", "lr"},
    "levers": {"run", "families"},
    "ablation": {"rungs", "seeds", "full_seeds", "final_seeds", "twin_seeds", "tune_seed", "lr_grid", "lr_walk",
                 "dropout", "overrides"},
    "final": {"epochs", "max_minutes"},
    "interpret": {"n_correct", "n_incorrect", "random_baselines", "n_measure", "measure_steps", "sanity_reinits"},
    "models": None,  # architectures of the user's own ([models.NAME] in cnn-report.toml), any names
    "train": {"batch_size", "label_smoothing", "weight_decay", "momentum", "eval_batch_size", "warmup",
              "optimizer", "muon_momentum", "bias_lr_ratio", "head_lr_ratio", "whiten_bias_epochs", "flip", "tta",
              "matrix_weights", "translate", "epoch_val_limit"},
}

_FULL = {
    "data": {"val_size": 5000, "seed": 0, "train_limit": None, "val_limit": None},
    "conv": {"bench_repeats": 5, "bench_small": False},
    "audit": {"near_dup_threshold": 0.985, "n_examples": 8},
    # 4 epochs on 10k images at the final batch size: 20 steps, enough to rank the widths (and the
    # levers' budget); the l widths project to ~21 minutes on a 2-core CPU and stop at the probe
    "search": {"epochs": 4, "train_limit": 10000,
               # at each width: the dense head's width; the gap family's NiN element (one or two
               # mlpconv layers a stage) or ResNet's (residual stages)
               "candidates": {"dense": ["dense-s", "dense-s-h128", "dense-s-h512", "dense-m", "dense-l"],
                              "gap": ["gap-s", "gap-nin2-s", "gap-res-s", "gap-m", "gap-res-m", "gap-l"]},
               "lr": 0.24},
    # each lever of the recipe switched off in turn, at the search's budget (experiments/studies/levers.py)
    # the levers belong to the shared trunk and recipe: measured once, on the gap family
    "levers": {"run": True, "families": ["gap"]},
    # Every ablation run is the final's recipe and epochs (experiments/studies/ablation.py); cells differ
    # in BN, dropout and their rate, picked from lr_grid on the smallest rung. rungs: training-set
    # sizes below the full split (which is always the last rung), each with `seeds`; the full split
    # gets `full_seeds`. 4,000 images at batch 2000 is 16 steps a run (times: docs/measurements.md, "Profiles").
    # lr_walk: at most this many rates beyond the grid: half the smallest while it wins or none
    # trained (plain gap-m and dense-m sat near chance at 0.12 and trained at 0.06), twice the largest
    # while it wins (the BN cells won at 0.24)
    # On the full split, as the finals were trained (the effects on the networks handed in): final_seeds for
    # the final's cell (its repeats measure a training run's noise in that regime; the first is the final),
    # twin_seeds for its twins (the cells that differ from it only in batch norm, only in dropout), and
    # full_seeds for the fourth cell
    # tune_seed: the rate is chosen at this seed, and every scored run is trained afresh at `seeds`, so
    # no scored run won the comparison that chose it (a winner reads high)
    "ablation": {"rungs": [4000], "seeds": [0, 1, 2], "full_seeds": [0], "final_seeds": [0, 1, 2],
                 "twin_seeds": [0, 1], "tune_seed": 100,
                 "lr_grid": [0.12, 0.24], "lr_walk": 2,
                 "dropout": {"dense": 0.5, "gap": 0.2},
                 # per-cell changes, e.g. {"gap-plain": {"lr_grid": [0.01, 0.03]}}: only that cell reruns
                 "overrides": {}},
    # 8 epochs of airbench94's widths take about 8 of the 12 minutes on a 2-core AVX-512 CPU (docs/measurements.md)
    "final": {"epochs": 8, "max_minutes": 12},
    # n_correct + n_incorrect images are shown; n_measure more are measured (experiments/interpret/
    # measure_stage.py): deletion/insertion at measure_steps against random_baselines random maps each
    # is ~80k forwards a network, about a minute alone on a 2-core CPU
    # sanity_reinits: re-initialisations of the randomisation sanity check, over the n_measure images
    "interpret": {"n_correct": 6, "n_incorrect": 6, "random_baselines": 3, "n_measure": 300,
                  "measure_steps": 16, "sanity_reinits": 3},
    "models": {},
    # airbench94_muon's recipe (experiments/training/airbench.py)
    "train": {**RECIPE, **RECIPE_DEFAULTS, "eval_batch_size": 2000,
              # per-epoch curves on 1,000 validation images: on the 16-step rungs a full pass each
              # epoch would cost a quarter of the run; final scores use all of them
              "epoch_val_limit": 1000},
}


def _with(base: dict, **sections) -> dict:
    out = copy.deepcopy(base)
    for name, values in sections.items():
        out[name].update(values)
    return out


PROFILES = {
    "full": _FULL,
    # quick's time goes to the finals: the full split, 8 epochs of the widths that fit 3 minutes (on a
    # 2-core CPU the s widths; the m widths project past it and are not trained): 8 epochs of gap-s beat
    # 3 of gap-m, which cost more (docs/measurements.md, "Profiles")
    "quick": _with(
        _FULL,
        search={"epochs": 2, "train_limit": 10000,
                "candidates": {"dense": ["dense-s", "dense-m"], "gap": ["gap-s", "gap-res-s", "gap-m"]}},
        levers={"run": False},  # 7 more trainings: not within quick's 10 minutes
        # a small ablation: one seed per cell on 4,000 images, only the final on the full split, and no
        # rate tuning: each cell trains at the rate the full profile's tuning chose for it at 4,000
        # images (0.24 with batch norm; 0.06 without, where 0.12 sat near chance)
        ablation={"seeds": [0], "full_seeds": [], "final_seeds": [0], "twin_seeds": [], "lr_grid": [0.24], "lr_walk": 0,
                  "overrides": {f"{family}-{cell}": {"lr_grid": [0.06]}
                                for family in ("dense", "gap") for cell in ("plain", "dropout")}},
        final={"epochs": 8, "max_minutes": 3},
        interpret={"random_baselines": 2},
    ),
    # the uncut study, for a GPU or a cluster (--executor ray): the ablation at the final budget on
    # the full split with 5 seeds per cell and 5 on each smaller rung, three rates tuned per cell,
    # the search at the final budget with room for the l widths, the lever study on both families
    "paper": _with(
        _FULL,
        search={"epochs": 8, "train_limit": None},
        levers={"families": ["dense", "gap"]},
        ablation={"rungs": [4000, 15000], "seeds": [0, 1, 2, 3, 4], "full_seeds": [0, 1, 2, 3, 4],
                  "final_seeds": [0, 1, 2, 3, 4], "twin_seeds": [0, 1, 2, 3, 4],
                  "lr_grid": [0.12, 0.24, 0.48]},
        final={"max_minutes": 30},
        interpret={"n_correct": 8, "n_incorrect": 8},
    ),
    "smoke": _with(
        _FULL,
        data={"val_size": 100, "train_limit": 400, "val_limit": 100},
        conv={"bench_repeats": 1, "bench_small": True},
        audit={"n_examples": 4},
        # half the s widths (a quarter of their FLOPs): a smoke build checks the pipeline, not the
        # widths, and at the s widths training was most of its time (docs/measurements.md, "Speed")
        models={"dense-xs": {"family": "dense", "widths": [16, 64, 64], "hidden": 128, **RECIPE_LEVERS},
                "gap-xs": {"family": "gap", "widths": [16, 64, 64], "mlpconv": 1, **RECIPE_LEVERS},
                "gap-res-xs": {"family": "gap", "widths": [16, 64, 64], "residual": True, **RECIPE_LEVERS}},
        search={"epochs": 1, "train_limit": 200,
                "candidates": {"dense": ["dense-xs"], "gap": ["gap-xs", "gap-res-xs"]}},
        ablation={"rungs": [200]},
        final={"epochs": 1},
        interpret={"n_correct": 2, "n_incorrect": 2, "random_baselines": 1, "n_measure": 20,
                   "measure_steps": 4},
        # float32 weights: bf16 kernels cost seconds to set up for each new shape, more than tiny runs take
        train={"batch_size": 50, "eval_batch_size": 100, "matrix_weights": "float32", "epoch_val_limit": None},
    ),
}


def validate_profile(profile: dict, name: str = "profile") -> dict:
    """Check sections and keys against SCHEMA; raise UserError naming the first problem."""
    if not isinstance(profile, dict):
        raise UserError(f"{name}: expected a table of sections, got {type(profile).__name__}")
    unknown = set(profile) - set(SCHEMA)
    missing = set(SCHEMA) - set(profile)
    if unknown:
        raise UserError(f"{name}: unknown section(s) {sorted(unknown)}; known: {sorted(SCHEMA)}")
    if missing:
        raise UserError(f"{name}: missing section(s) {sorted(missing)}")
    for section, keys in SCHEMA.items():
        if keys is None:
            continue
        given = set(profile[section])
        if given - keys:
            raise UserError(f"{name}.{section}: unknown key(s) {sorted(given - keys)}; known: {sorted(keys)}")
        if keys - given:
            raise UserError(f"{name}.{section}: missing key(s) {sorted(keys - given)}")
    return profile


def load_profile(name: str) -> dict:
    """A deep copy of the named profile, validated."""
    if name not in PROFILES:
        raise UserError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}")
    return validate_profile(copy.deepcopy(PROFILES[name]), name)
