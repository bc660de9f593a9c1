"""Training: every family x cell trains; resume is exact; divergence stops with a clear message."""
import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from experiments.core.names import CELL_SWITCHES, CELLS
from experiments.engine.errors import UserError
from experiments.studies.ablation_summary import rung_effects
from experiments.training.checkpoints import load_checkpoint
from experiments.training.models import build_model, candidate, describe
from experiments.training.train import Diverged, train_run
from tests.imagegen import TINY_TRAIN as TRAIN
from tests.imagegen import straight_and_resumed, tiny_prepared


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("train")
    return tiny_prepared(tmp, n_train=20, val_size=50)


@pytest.mark.parametrize("family", ["dense", "gap"])
@pytest.mark.parametrize("cell", list(CELLS))
def test_one_short_epoch_of_every_family_and_cell(family, cell, data, tmp_path):
    bn, drop = CELL_SWITCHES[cell]
    m = train_run(f"{family}-{cell}", candidate(f"{family}-s", bn, 0.3 if drop else 0.0), TRAIN, data, tmp_path, "cpu")
    assert m["epochs"] == 1 and 0.0 <= m["val_acc"] <= 1.0
    assert all(math.isfinite(m["history"][0][k]) for k in ("train_loss", "val_loss", "lr", "seconds"))
    assert (tmp_path / "model.pt").exists() and not (tmp_path / "checkpoint.pt").exists()


def _weights(run_dir):
    return torch.load(run_dir / "model.pt", weights_only=True)


def test_resume_after_interruption_matches_an_uninterrupted_run(data, tmp_path, pinned_threads):
    cfg = {**TRAIN, "epochs": 3}
    model_cfg = candidate("gap-s", True, 0.3)  # dropout: the global RNG must be restored too
    straight, resumed, kept = straight_and_resumed(model_cfg, cfg, data, tmp_path)
    assert kept, "an interrupted run keeps its last epoch"
    a, b = _weights(tmp_path / "a"), _weights(tmp_path / "b")
    assert all(torch.equal(a[k], b[k]) for k in a), "resumed weights must equal the uninterrupted run's"
    assert resumed["val_acc"] == straight["val_acc"]
    assert [h["val_loss"] for h in resumed["history"]] == [h["val_loss"] for h in straight["history"]]


def test_finished_run_is_not_trained_again(data, tmp_path, monkeypatch):
    first = train_run("r", candidate("dense-s"), TRAIN, data, tmp_path, "cpu")
    monkeypatch.setattr("experiments.training.train.train_one_epoch", lambda *a: pytest.fail("trained again"))
    assert train_run("r", candidate("dense-s"), TRAIN, data, tmp_path, "cpu") == first


def test_non_finite_loss_stops_the_run_naming_run_and_epoch(data, tmp_path):
    broken = replace(data, std=[0.0, 0.0, 0.0])  # x / 0 -> inf -> NaN logits
    with pytest.raises(Diverged, match=r"run gap-plain diverged in epoch 1 \(step 1\): loss nan"):
        train_run("gap-plain", {**candidate("gap-s", False), "stem": "conv"}, TRAIN, broken, tmp_path, "cpu")
    assert not (tmp_path / "metrics.json").exists()


def test_damaged_checkpoint_is_one_clear_error(tmp_path):
    (tmp_path / "checkpoint.pt").write_bytes(b"truncated")
    with pytest.raises(UserError, match="checkpoint .* is damaged"):
        load_checkpoint(tmp_path / "checkpoint.pt")


@pytest.mark.parametrize("family, name", [("dense", "dense-s"), ("dense", "dense-s-h512"), ("gap", "gap-s"),
                                          ("gap", "gap-nin2-s"), ("gap", "gap-res-s")])
def test_models_follow_the_interpretability_contract(family, name):
    model = build_model(candidate(name, True, 0.5))
    assert model.family == family and model.classifier is model.head[-1]
    assert not any(isinstance(m, torch.nn.ReLU) and m.inplace for m in model.modules())
    feats = model.features(torch.rand(2, 3, 32, 32))
    assert feats.ndim == 4
    if family == "gap":
        assert isinstance(model.head[0], torch.nn.AdaptiveAvgPool2d)


def test_every_built_in_gap_candidate_is_in_nins_or_resnets_vein():
    """Problem 2 (b): nonlinearities within the convolutional portion (NiN's mlpconv or ResNet's residual
    stages) and global average pooling, for every gap candidate the search can choose."""
    from experiments.training.models import CANDIDATES
    gap = {n: c for n, c in CANDIDATES.items() if c["family"] == "gap"}
    assert gap and all(c.get("mlpconv") or c.get("residual") for c in gap.values())


def test_the_nin_candidate_has_identity_started_1x1_mlpconv_layers_after_each_stage():
    one, two = build_model(candidate("gap-s")), build_model(candidate("gap-nin2-s"))
    for model, per_stage in ((one, 1), (two, 2)):
        convs = [m for m in model.features if isinstance(m, torch.nn.Conv2d)]
        ones = [c for c in convs if c.kernel_size == (1, 1)]
        assert len(ones) == per_stage * len(candidate("gap-s")["widths"])
        assert all(torch.equal(c.weight[:, :, 0, 0], torch.eye(c.out_channels)) for c in ones), "starts as the identity"
    assert "residual" not in one.config, "absent means off: older runs keep their identity"


def test_a_residual_stage_adds_its_branch_to_its_input_before_the_relu():
    from experiments.training.models import Residual
    model = build_model(candidate("gap-res-s", batchnorm=False)).eval()
    blocks = [m for m in model.features if isinstance(m, Residual)]
    assert len(blocks) == len(candidate("gap-res-s")["widths"])
    h = torch.randn(2, blocks[0].branch[0].in_channels, 8, 8)
    with torch.no_grad():
        assert torch.allclose(blocks[0](h), torch.relu(h + blocks[0].branch(h)))
    assert isinstance(blocks[0].relu, torch.nn.ReLU) and not blocks[0].relu.inplace


def test_describe_counts_every_parameter_and_conv_flops():
    model = build_model(candidate("gap-s"))
    info = describe(model)
    assert info["params"] == sum(p.numel() for p in model.parameters())
    stem = info["layers"][0]
    assert stem["layer"] == "PatchWhitening" and stem["output"] == [24, 31, 31]
    assert stem["flops"] == 2 * 24 * 31 * 31 * 3 * 2 * 2, "2 x out channels x positions x in channels x kernel"


def test_paired_effects_of_a_known_2x2_table():
    acc = {"plain": [0.5, 0.6], "bn": [0.7, 0.8], "dropout": [0.55, 0.65], "bn-dropout": [0.7, 0.8]}
    eff = rung_effects({c: {"seeds": [0, 1], "val_acc": a} for c, a in acc.items()}, np.array([0]))
    assert eff["bn_effect"]["mean"] == pytest.approx(0.175) and eff["bn_effect"]["unit"] == "seed"
    assert eff["dropout_effect"]["mean"] == pytest.approx(0.025)
    assert eff["interaction"]["mean"] == pytest.approx(-0.05)
    assert eff["bn_effect"]["sd"] == pytest.approx(0.0, abs=1e-12)


def test_a_one_seed_rung_pairs_its_cells_image_by_image():
    y = np.array([0, 1, 2, 3])
    preds = {"plain": [0, 0, 0, 0], "bn": [0, 1, 2, 0], "dropout": [0, 1, 0, 0], "bn-dropout": [0, 1, 2, 3]}
    eff = rung_effects({c: {"seeds": [0], "val_acc": [0.0], "val_pred": [p]} for c, p in preds.items()}, y)
    # per image correct: plain 1000, bn 1110, dropout 1100, bn-dropout 1111
    assert eff["bn_effect"]["unit"] == "image" and eff["bn_effect"]["n"] == 4
    assert eff["bn_effect"]["mean"] == pytest.approx(((0.75 - 0.25) + (1.0 - 0.5)) / 2)
    assert eff["dropout_effect"]["mean"] == pytest.approx(((0.5 - 0.25) + (1.0 - 0.75)) / 2)
    assert eff["interaction"]["mean"] == pytest.approx((1.0 - 0.75) - (0.5 - 0.25))


def test_a_finished_run_records_its_fit_gap_and_per_image_predictions(data, tmp_path):
    m = train_run("gap-bn", candidate("gap-s", True), {**TRAIN, "epoch_val_limit": 8}, data, tmp_path, "cpu")
    assert len(m["val_pred"]) == len(data.val_y) and set(m["val_pred"]) <= set(range(10))
    assert m["val_acc"] == pytest.approx(np.mean(np.array(m["val_pred"]) == data.val_y))
    assert m["fit_gap"] == pytest.approx(m["train_acc_no_tta"] - m["val_acc_no_tta"])
    assert m["n_train_scored"] == len(data.train_y)
    assert m["threads"] == torch.get_num_threads() and "busy_elsewhere" in m, "the run's threads and load recorded"
    # the per-epoch curve used 8 validation images only: its accuracy is a multiple of 1/8
    assert (m["history"][0]["val_acc"] * 8) == pytest.approx(round(m["history"][0]["val_acc"] * 8))


def test_spread_takes_every_class_of_a_split_stored_sorted_by_class():
    from experiments.training.scoring import spread
    labels = np.repeat(np.arange(10), 500)  # how splits are stored
    assert set(labels[spread(len(labels), 1000)]) == set(range(10))
    assert len(spread(len(labels), 1000)) == 1000 and len(spread(7, 1000)) == 7


def test_the_initial_model_of_a_finished_run_is_the_one_its_training_started_from(data, tmp_path, monkeypatch):
    """Problem 3's untrained control rebuilds a run's starting weights from its config and seed: the
    learned layers must be exactly those train_run built, the frozen whitening those it trained with."""
    import copy

    import experiments.training.train as train
    from experiments.training.runs import load_initial_model, load_model
    built = []
    real = train.build_model
    monkeypatch.setattr(train, "build_model", lambda *a, **k: built.append(copy.deepcopy(m := real(*a, **k))) or m)
    train_run("gap-init", candidate("gap-s", True, 0.0), {**TRAIN, "seed": 3}, data, tmp_path, "cpu")
    initial, trained = load_initial_model(tmp_path), load_model(tmp_path)
    started = dict(built[0].named_parameters())  # the first build is the one trained (later ones describe it)
    for name, p in initial.named_parameters():
        if name == "features.0.bias":  # the whitening's: init_whitening starts it at 0, after the build
            assert not p.any()
        elif p.requires_grad:
            assert torch.equal(p, started[name]), f"{name} is not the weight training started from"
        else:
            assert torch.equal(p, dict(trained.named_parameters())[name]), f"frozen {name} differs from training's"
    assert not torch.equal(initial.features[2].weight, trained.features[2].weight), "training moved the filters"


def test_even_a_one_epoch_run_records_a_loss_curve_within_it(data, tmp_path):
    """P2(e) needs a curve from a 1-epoch final: the training loss at every few steps and the validation
    loss several times within the epoch, each point at the step of the run it was taken."""
    from experiments.training.loss_points import loss_curve
    cfg = {**TRAIN, "batch_size": 10, "epoch_val_limit": 10}  # 10 validation images: a point costs 2% of the epoch
    m = train_run("curve", candidate("gap-s"), cfg, data, tmp_path / "r")
    h = m["history"][0]
    assert h["steps_per_epoch"] >= 10
    assert len(h["points"]["train"]) >= 10 and len(h["points"]["val"]) >= 2
    assert h["points"]["val"][-1] == [h["steps_per_epoch"], h["val_loss"]], "the epoch's end is its score"
    steps = [s for s, _ in h["points"]["train"]]
    assert steps == sorted(steps) and steps[-1] == h["steps_per_epoch"]
    assert len(loss_curve(m["history"])["train"]) == len(steps)
