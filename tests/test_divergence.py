"""A diverging run is a recorded result: real divergence (a learning rate far too high) never
crashes a sweep or a cell, and no NaN reaches a results file."""
import json
import math

import pytest
import torch

from experiments.ablation import MAX_HALVINGS, run_seed, sweep_lr
from experiments.models import candidate
from experiments.train import Diverged, EXPLODED_LOSS_FACTOR, check_diverged, train_run
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


def test_sweep_records_the_diverged_rate_and_picks_among_the_rest(data, tmp_path):
    sweep = sweep_lr("gap-plain", candidate("gap-s", False), TINY_TRAIN,
                     {"lr_grid": [0.05, FAR_TOO_HIGH], "sweep_epochs": 1}, data, tmp_path, "cpu")
    rows = {r["lr"]: r for r in sweep["grid"]}
    assert rows[FAR_TOO_HIGH]["diverged"] and rows[FAR_TOO_HIGH]["val_acc"] is None
    assert not rows[0.05]["diverged"] and sweep["lr"] == 0.05
    _no_nan_in(tmp_path)


def test_a_seed_that_diverges_at_every_retry_is_recorded_not_raised(data, tmp_path):
    rec = run_seed("gap-plain-s0", candidate("gap-s", False), {**TINY_TRAIN, "lr": FAR_TOO_HIGH}, data, tmp_path, "cpu")
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


def test_a_non_finite_weight_counts_as_diverged():
    model = torch.nn.Linear(2, 2)
    with torch.no_grad():
        model.weight[0, 0] = float("nan")
    with pytest.raises(Diverged, match="non-finite weights in weight"):
        check_diverged("r", {"lr": 0.2}, 1, 1.0, 1.0, model)


def test_summary_leaves_a_diverged_seed_out_of_the_effects(tmp_path):
    from experiments.ablation import summarize
    from experiments.io import read_json, write_json
    hist = [{"train_loss": 1.0, "val_loss": 1.0, "val_acc": 0.5}]
    accs = {"plain": [0.50, None, 0.52], "bn": [0.60, 0.61, 0.62], "dropout": [0.49, 0.50, 0.51],
            "bn-dropout": [0.59, 0.60, 0.61]}
    dirs = {}
    for cell, acc in accs.items():
        finite = [a for a in acc if a is not None]
        write_json(tmp_path / cell / "cell.json", {
            "cell": cell, "batchnorm": "bn" in cell, "dropout": 0.5 * ("dropout" in cell), "lr": 0.1,
            "model": {}, "seeds": [0, 1, 2], "val_acc": acc, "mean": sum(finite) / len(finite), "sd": 0.01,
            "lr_halvings": [0, 2 if cell == "plain" else 0, 0], "diverged": [a is None for a in acc],
            "epochs": 1, "batch_size": 50, "n_train": 100, "history": [hist] * len(finite)})
        dirs[cell] = tmp_path / cell
    summary = summarize("gap", dirs, tmp_path / "summary")
    bn = summary["effects"]["bn_effect"]
    assert bn["per_seed"][1] is None and bn["per_seed"][0] == pytest.approx(0.10)
    assert bn["mean"] == pytest.approx((0.10 + 0.10) / 2), "the mean of the two seeds every cell finished"
    assert summary["best"]["cell"] == "bn"
    assert read_json(tmp_path / "summary" / "summary.json")["cells"][0]["diverged"] == [False, True, False]
