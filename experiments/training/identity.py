"""A run's identity: everything that determines its result, stored as its config.json.

Its name, model and training config, a digest of the training code (the import closure of the
training loop, experiments/training/train.py, computed from the code) and
a digest of the very arrays it trained and validated on. A finished run or a checkpoint is reused
only when all of them match, so editing the recipe or the data (even with equal image counts)
retrains, while editing the report does not.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from experiments.engine import cache
from experiments.engine.deps import closure, files_of
from experiments.engine.io import read_json

TRAINING_LOOP = "experiments.training.train"


def code_digest() -> str:
    """A digest over the training code's files (paths and meaning, `cache.source_digest`: a
    comment or a reflow retrains nothing): everything the training loop imports, but not this
    module's own bookkeeping (editing how identities are compared does not change what a run
    computes)."""
    files = files_of(closure([TRAINING_LOOP], exclude=[__name__]))
    return cache.parts_hash(cache.code_digests(files))


def data_digest(data) -> str:
    """blake2b over the exact images, labels and normalisation a run sees: the data folder, the
    split seed and any subset all change it."""
    h = hashlib.blake2b(digest_size=12)
    for arr in (data.train_x, data.train_y, data.val_x, data.val_y, np.asarray(data.mean),
                np.asarray(data.std)):
        arr = np.ascontiguousarray(arr)
        h.update(f"{arr.dtype}{arr.shape}".encode())
        h.update(memoryview(arr).cast("B"))
    return h.hexdigest()


def run_identity(name: str, model_cfg: dict, train_cfg: dict, data) -> dict:
    """Everything that determines a run's result; stored as its config.json."""
    return {"run": name, "model": dict(model_cfg), "train": train_cfg,
            "n_train": int(len(data.train_y)), "code": code_digest(), "data": data_digest(data)}


def finished_metrics(run_dir: Path, config: dict) -> dict | None:
    """The metrics of a finished run with exactly this config, else None."""
    try:
        if read_json(run_dir / "config.json") == config and (run_dir / "model.pt").exists():
            return read_json(run_dir / "metrics.json")
    except (OSError, ValueError):
        pass
    return None
