"""The per-cell rate rule: the grid, then halving below it while its smallest rate wins and doubling above
it while its largest rate wins."""
import types
from pathlib import Path

import pytest

from experiments.studies import ablation
from experiments.training.train import Diverged

DATA = types.SimpleNamespace(train_y=list(range(40)), val_y=[0, 1, 2, 3, 4, 5, 6, 7, 8, 9])  # chance: 10%


def _fake_training(monkeypatch, accuracy_at, diverges_above=None):
    """train_run replaced by a lookup: the rule, not the training, is under test."""
    tried = []

    def train_run(name, model_cfg, cfg, data, run_dir, device):
        tried.append(cfg["lr"])
        if diverges_above is not None and cfg["lr"] > diverges_above:
            raise Diverged(f"{name} diverged")
        return {"val_acc": accuracy_at(cfg["lr"]), "seconds": 1.0}

    monkeypatch.setattr(ablation, "train_run", train_run)
    return tried


def _tune(grid, walk):
    return ablation.tune_lr("gap", "plain", {}, {}, grid, 0, DATA, Path("."),
                            "cpu", walk)


def test_the_walk_halves_below_the_grid_until_a_smaller_rate_stops_winning(monkeypatch):
    tried = _fake_training(monkeypatch, lambda lr: 1 - abs(lr - 0.06))  # best at 0.06
    tuning = _tune([0.12, 0.24], walk=3)
    assert tried == [0.12, 0.24, 0.06, 0.03]  # 0.03 lost to 0.06: no third halving
    assert tuning["lr"] == 0.06 and [r["lr"] for r in tuning["grid"]] == tried
    assert "halving below the grid" in tuning["rule"]


def test_the_walk_stops_at_its_limit(monkeypatch):
    tried = _fake_training(monkeypatch, lambda lr: -lr)  # always smaller is better
    assert _tune([0.12, 0.24], walk=2)["lr"] == 0.03
    assert tried == [0.12, 0.24, 0.06, 0.03]


def test_the_walk_doubles_above_the_grid_while_its_largest_rate_wins(monkeypatch):
    tried = _fake_training(monkeypatch, lambda lr: 1 - abs(lr - 0.48))  # best at 0.48
    tuning = _tune([0.12, 0.24], walk=3)
    assert tried == [0.12, 0.24, 0.48, 0.96] and tuning["lr"] == 0.48  # 0.96 lost: no further doubling
    assert "doubling above it" in tuning["rule"]


def test_a_larger_rate_that_diverges_ends_the_upward_walk(monkeypatch):
    tried = _fake_training(monkeypatch, lambda lr: lr, diverges_above=0.3)
    assert _tune([0.12, 0.24], walk=3)["lr"] == 0.24 and tried == [0.12, 0.24, 0.48]


def test_no_walk_when_a_rate_inside_the_grid_wins(monkeypatch):
    tried = _fake_training(monkeypatch, lambda lr: 1 - abs(lr - 0.24))
    assert _tune([0.12, 0.24, 0.48], walk=2)["lr"] == 0.24 and tried == [0.12, 0.24, 0.48]


def test_a_grid_that_all_diverges_walks_down_to_a_rate_that_trains(monkeypatch):
    tried = _fake_training(monkeypatch, lambda lr: lr, diverges_above=0.07)
    tuning = _tune([0.12, 0.24], walk=2)
    assert tuning["lr"] == 0.06 and tried == [0.12, 0.24, 0.06, 0.03]
    assert [r["diverged"] for r in tuning["grid"]] == [True, True, False, False]


def test_a_grid_where_nothing_trained_walks_down_even_if_its_larger_rate_won_by_noise(monkeypatch):
    accuracy = {0.12: 0.100, 0.24: 0.106, 0.06: 0.35, 0.03: 0.22}  # the quick build's plain dense cell
    tried = _fake_training(monkeypatch, accuracy.get)
    tuning = _tune([0.12, 0.24], walk=2)
    assert tried == [0.12, 0.24, 0.06, 0.03] and tuning["lr"] == 0.06


def test_every_rate_diverging_is_one_clear_error(monkeypatch):
    _fake_training(monkeypatch, lambda lr: 0.5, diverges_above=0.0)
    with pytest.raises(Diverged, match=r"every learning rate in \[0.12, 0.24, 0.06\] diverged"):
        _tune([0.12, 0.24], walk=1)


def test_a_single_rate_without_walk_trains_nothing_to_tune(monkeypatch):
    tried = _fake_training(monkeypatch, lambda lr: 0.5)
    assert _tune([0.24], walk=0) == {"rule": "the profile's single learning rate", "grid": [], "lr": 0.24}
    assert tried == []
