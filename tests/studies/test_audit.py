"""The data audit finds planted exact and near duplicates and counts classes."""
from dataclasses import dataclass

import numpy as np

from experiments.studies.audit import CIFAR10_TRAIN_MEAN, identify, run_audit


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
    fingerprint: str = "0123456789abcdef"


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


def test_audit_finds_duplicates_within_train_and_against_test(tmp_path):
    rng = np.random.default_rng(1)
    train = rng.integers(0, 256, (100, 32, 32, 3), dtype=np.uint8)
    train[7] = train[3]                                                  # a pair inside train
    test = rng.integers(0, 256, (10, 32, 32, 3), dtype=np.uint8)
    test[4] = train[50]
    val = rng.integers(0, 256, (10, 32, 32, 3), dtype=np.uint8)
    data = Split(train, np.arange(100) % 10, val, np.arange(10) % 10, test_x=test, test_y=np.arange(10) % 10)
    rec = run_audit(data, tmp_path, {"near_dup_threshold": 0.985, "n_examples": 2})
    pairs = {d["pair"]: d for d in rec["duplicates"]}
    assert pairs["within train"]["exact"] == 1, "the second copy of a pair counts once as an exact duplicate"
    assert pairs["within train"]["near"] == 2, "each member of the pair has a near-duplicate elsewhere in train"
    assert pairs["test vs train"]["exact"] == 1 and pairs["test vs train"]["near"] == 1
    assert pairs["validation vs train"]["near"] == 0, "independent noise images are not near-duplicates"
    assert rec["counts"]["test"] == [1] * 10 and rec["threshold"] == 0.985


def test_data_matching_cifar10_counts_and_mean_is_named_cifar10():
    found = identify([5000] * 10, [m + 0.001 for m in CIFAR10_TRAIN_MEAN])
    assert found["is_cifar10"] and found["origin"].startswith("CIFAR-10")


def test_other_data_is_not_called_cifar10_whatever_its_class_names(tmp_path):
    assert not identify([5000] * 10, [0.5, 0.5, 0.5])["is_cifar10"], "the right counts but another mean"
    assert not identify([60] * 10, list(CIFAR10_TRAIN_MEAN))["is_cifar10"], "the right mean but a subset"
    rng = np.random.default_rng(0)
    data = Split(rng.integers(0, 256, (100, 32, 32, 3), dtype=np.uint8), np.arange(100) % 10,
                 rng.integers(0, 256, (10, 32, 32, 3), dtype=np.uint8), np.arange(10) % 10)
    prov = run_audit(data, tmp_path, {"near_dup_threshold": 0.985, "n_examples": 2})["provenance"]
    assert prov["origin"] is None and "110 images" in prov["evidence"]
