"""A diverging run is a recorded result: real divergence (a learning rate far too high) never
crashes the rate tuning or a cell, and no NaN reaches a results file."""
import json
import math

import pytest
import torch

from experiments.studies.ablation import MAX_HALVINGS, train_seeds, tune_lr
from experiments.training.models import candidate
from experiments.training.train import EXPLODED_LOSS_FACTOR, Diverged, check_diverged, train_run
from tests.imagegen import TINY_TRAIN, tiny_prepared

FAR_TOO_HIGH = 1e4  # SGD at this rate blows a plain net up within its first steps


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return tiny_prepared(tmp_path_factory.mktemp("diverge"), n_train=20, val_size=50)


def _no_nan_in(folder):
    for path in folder.rglob("*.json"):
        json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(f"{c} in {path}"))


def test_a_learning_rate_far_too_high_raises_diverged_and_writes_no_metrics(data, tmp_path):
    with pytest.raises(Diverged, match="diverged in epoch 1"):
        train_run("gap-plain", candidate("gap-s", False), {**TINY_TRAIN, "lr": FAR_TOO_HIGH}, data, tmp_path, "cpu")
    assert not (tmp_path / "metrics.json").exists() and not (tmp_path / "model.pt").exists()


def test_tuning_records_the_diverged_rate_and_picks_among_the_rest(data, tmp_path):
    tuning = tune_lr("gap", "plain", candidate("gap-s", False), TINY_TRAIN, [0.05, FAR_TOO_HIGH], 0, data, tmp_path,
                     "cpu")
    rows = {r["lr"]: r for r in tuning["grid"]}
    assert rows[FAR_TOO_HIGH]["diverged"] and rows[FAR_TOO_HIGH]["val_acc"] is None
    assert not rows[0.05]["diverged"] and tuning["lr"] == 0.05
    _no_nan_in(tmp_path)


def test_a_seed_that_diverges_at_every_retry_is_recorded_not_raised(data, tmp_path):
    [rec] = train_seeds("gap", "plain", candidate("gap-s", False), TINY_TRAIN, FAR_TOO_HIGH, [0], data, tmp_path, "cpu")
    assert rec["diverged"] and rec["val_acc"] is None
    assert rec["diverged_lrs"] == [FAR_TOO_HIGH / 2 ** k for k in range(MAX_HALVINGS + 1)]
    _no_nan_in(tmp_path)


def test_a_finite_but_exploded_training_loss_counts_as_diverged():
    model = torch.nn.Linear(2, 2)
    limit = EXPLODED_LOSS_FACTOR * math.log(10)
    check_diverged("r", {"lr": 0.1}, 1, limit * 0.99, 2.0, model)  # large but below the limit: fine
    with pytest.raises(Diverged, match="training loss 4.9e\\+12"):
        check_diverged("r", {"lr": 0.2}, 3, 4.9e12, 2.0, model)


@pytest.mark.parametrize("val_loss", [float("nan"), float("inf")])
def test_a_non_finite_validation_loss_counts_as_diverged(val_loss):
    with pytest.raises(Diverged, match="validation loss"):
        check_diverged("r", {"lr": 0.2}, 1, 1.0, val_loss, torch.nn.Linear(2, 2))


def test_a_finite_but_exploded_validation_loss_counts_as_diverged():
    """The user architecture of issue 30: training loss 58 (below the limit), validation loss 1.9e6
    at chance accuracy: the rate broke the model, whatever its training loss says."""
    limit = EXPLODED_LOSS_FACTOR * math.log(10)
    model = torch.nn.Linear(2, 2)
    check_diverged("r", {"lr": 0.1}, 1, 58.0, limit * 0.99, model)  # large but below the limit: fine
    with pytest.raises(Diverged, match="validation loss 1.9e\\+06"):
        check_diverged("r", {"lr": 0.24}, 1, 58.0, 1.9e6, model)


def test_a_non_finite_weight_counts_as_diverged():
    model = torch.nn.Linear(2, 2)
    with torch.no_grad():
        model.weight[0, 0] = float("nan")
    with pytest.raises(Diverged, match="non-finite weights in weight"):
        check_diverged("r", {"lr": 0.2}, 1, 1.0, 1.0, model)


def test_summary_leaves_a_diverged_seed_out_of_the_effects(tmp_path):
    import numpy as np

    from experiments.engine.io import read_json, write_json
    from experiments.studies.ablation import rung_record
    from experiments.studies.ablation_summary import summarize
    hist = [{"train_loss": 1.0, "val_loss": 1.0, "val_acc": 0.5}]
    accs = {"plain": [0.50, None, 0.52], "bn": [0.60, 0.61, 0.62], "dropout": [0.49, 0.50, 0.51],
            "bn-dropout": [0.59, 0.60, 0.61]}
    val_y = np.array([0, 1, 2, 3])

    def run(acc, halvings=0):
        return {"val_acc": acc, "diverged": acc is None, "lr_halvings": halvings, "history": [] if acc is None else hist,
                "seconds": 1.0, "train_acc_no_tta": None if acc is None else acc + 0.1,
                "fit_gap": None if acc is None else 0.1, "val_pred": None if acc is None else [0, 1, 2, 0]}
    dirs, full = {}, {}
    for cell, acc in accs.items():
        runs = [run(a, 2 if (cell == "plain" and a is None) else 0) for a in acc]
        write_json(tmp_path / cell / "cell.json", {
            "family": "gap", "cell": cell, "batchnorm": "bn" in cell, "dropout": 0.5 * ("dropout" in cell),
            "lr": 0.1, "model": {}, "lr_rule": "r", "lr_grid": [0.1], "lr_walk": 0, "tuning": [], "train": {"epochs": 1},
            "rungs": [rung_record(runs, [0, 1, 2], 100)], "seconds": 3.0})
        full[cell] = rung_record([run(acc[0])], [0], 400)
        dirs[cell] = tmp_path / cell
    write_json(tmp_path / "full" / "full.json", {"family": "gap", "best": "bn", "cells": full})
    summary = summarize("gap", dirs, tmp_path / "full", val_y, tmp_path / "summary")
    bn = summary["rungs"][0]["effects"]["bn_effect"]
    assert bn["per_seed"][1] is None and bn["per_seed"][0] == pytest.approx(0.10)
    assert bn["mean"] == pytest.approx((0.10 + 0.10) / 2), "the mean of the two seeds every cell finished"
    assert summary["rungs"][1]["effects"]["bn_effect"]["unit"] == "image"
    assert summary["best"]["cell"] == "bn"
    saved = read_json(tmp_path / "summary" / "summary.json")
    assert saved["rungs"][0]["cells"][0]["diverged"] == [False, True, False]
    _no_nan_in(tmp_path)
