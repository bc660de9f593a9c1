"""The data audit finds planted exact and near duplicates and counts classes."""
from dataclasses import dataclass

import numpy as np

from experiments.audit import run_audit


@dataclass
class Split:
    train_x: np.ndarray
    train_y: np.ndarray
    val_x: np.ndarray
    val_y: np.ndarray
    test_x: None = None
    test_y: None = None
    classes: tuple = tuple("abcdefghij")
    source: str = "generated"


def test_audit_counts_planted_duplicates(tmp_path):
    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, (200, 32, 32, 3), dtype=np.uint8)
    val = rng.integers(0, 256, (20, 32, 32, 3), dtype=np.uint8)
    val[0] = train[5]                                                    # exact copy
    val[1] = np.clip(train[9].astype(int) + rng.integers(-3, 4, (32, 32, 3)), 0, 255)  # near copy
    data = Split(train, np.arange(200) % 10, val, np.arange(20) % 10)
    rec = run_audit(data, tmp_path, {"near_dup_threshold": 0.95, "n_examples": 3})
    pair = rec["duplicates"][0]
    assert pair["pair"] == "validation vs train" and pair["exact"] == 1 and pair["near"] == 2
    assert rec["counts"]["train"] == [20] * 10 and rec["balance"]["val"]["ratio"] == 1.0
    assert (tmp_path / "duplicates.png").exists() and (tmp_path / "audit.json").exists()
