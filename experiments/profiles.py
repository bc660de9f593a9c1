"""Profiles: how much compute each part of the pipeline gets. Plain data, validated once.

`smoke` is for tests and CI (tiny data, whole pipeline in minutes), `quick` gives a complete but
rough report, `full` is the real thing on a 2-core CPU.
"""
from __future__ import annotations

import copy

from experiments.errors import UserError

# Keys every profile must have, and the keys each section accepts.
SCHEMA = {
    "data": {"val_size", "seed", "train_limit", "val_limit"},
    "conv": {"bench_repeats", "bench_small"},
    "audit": {"near_dup_threshold", "n_examples"},
    "search": {"epochs", "train_limit", "candidates", "lr"},
    "ablation": {"epochs", "train_limit", "batch_size", "seeds", "lr_grid", "sweep_epochs", "dropout", "overrides"},
    "final": {"epochs", "max_minutes"},
    "interpret": {"n_correct", "n_incorrect", "steps", "random_baselines"},
    "train": {"batch_size", "label_smoothing", "weight_decay", "momentum", "eval_batch_size", "warmup"},
}

_FULL = {
    "data": {"val_size": 5000, "seed": 0, "train_limit": None, "val_limit": None},
    "conv": {"bench_repeats": 5, "bench_small": False},
    "audit": {"near_dup_threshold": 0.985, "n_examples": 8},
    "search": {"epochs": 4, "train_limit": 20000,
               "candidates": {"dense": ["dense-s", "dense-m", "dense-l"],
                              "gap": ["gap-s", "gap-m", "gap-l"]},
               "lr": 0.2},
    # lr_grid: the learning rates each cell's one-seed sweep tries (BN and no-BN nets differ).
    # batch_size 128, not the final 500: on 8k images that is 63 steps an epoch instead of 16,
    # enough for a net without BN to train at all, so the cells are compared, not their step counts.
    "ablation": {"epochs": 3, "train_limit": 8000, "batch_size": 128, "seeds": [0, 1, 2],
                 "lr_grid": [0.01, 0.03, 0.1, 0.3], "sweep_epochs": 1,
                 "dropout": {"dense": 0.5, "gap": 0.2},
                 # per-cell changes, e.g. {"gap-plain": {"lr_grid": [0.01, 0.03]}}: only that cell reruns
                 "overrides": {}},
    # 16 epochs of the chosen nets take about 12 of the 15 minutes on a 2-core AVX-512 CPU
    "final": {"epochs": 16, "max_minutes": 15},
    "interpret": {"n_correct": 6, "n_incorrect": 6, "steps": 24, "random_baselines": 3},
    "train": {"batch_size": 500, "label_smoothing": 0.2, "weight_decay": 5e-4,
              "momentum": 0.9, "eval_batch_size": 1000, "warmup": 0.2},
}


def _with(base: dict, **sections) -> dict:
    out = copy.deepcopy(base)
    for name, values in sections.items():
        out[name].update(values)
    return out


PROFILES = {
    "full": _FULL,
    "quick": _with(
        _FULL,
        search={"epochs": 1, "train_limit": 5000,
                "candidates": {"dense": ["dense-s", "dense-m"], "gap": ["gap-s", "gap-m"]}},
        ablation={"epochs": 2, "train_limit": 3000, "lr_grid": [0.02, 0.1]},
        final={"epochs": 3},
        interpret={"steps": 16, "random_baselines": 2},
    ),
    "smoke": _with(
        _FULL,
        data={"val_size": 100, "train_limit": 400, "val_limit": 100},
        conv={"bench_repeats": 1, "bench_small": True},
        audit={"n_examples": 4},
        search={"epochs": 1, "train_limit": 200,
                "candidates": {"dense": ["dense-s"], "gap": ["gap-s"]}},
        ablation={"epochs": 1, "train_limit": 200, "batch_size": 50, "lr_grid": [0.05, 0.2]},
        final={"epochs": 1},
        interpret={"n_correct": 2, "n_incorrect": 2, "steps": 4, "random_baselines": 1},
        train={"batch_size": 50, "eval_batch_size": 100},
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
