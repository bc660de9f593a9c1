"""A run's identity is what made it: on the real stage table, editing the training code or the data
(with equal image counts) retrains, while editing code that does not make a run reuses it."""
import shutil

import numpy as np
import pytest
from PIL import Image

import experiments.engine.cache as cache
from experiments.build.commands import run_all, status
from experiments.build.context import make_context
from experiments.engine.io import read_json
from experiments.writeup.settings import load_settings

STAGES_UNDER_TEST = {"data", "search-gap"}


@pytest.fixture
def build(cifar_root, tmp_path, monkeypatch):
    """A smoke build of the data and gap-search stages on a private copy of the images, and a
    counter of training epochs run from then on."""
    data = tmp_path / "cifar"
    shutil.copytree(cifar_root, data)
    ctx = make_context("smoke", str(data), "cpu", str(tmp_path / "results"), str(tmp_path / "report"),
                       load_settings(tmp_path / "absent.toml"))
    run_all(ctx, only=STAGES_UNDER_TEST)
    epochs = []
    import experiments.training.train as train
    real = train.train_one_epoch
    monkeypatch.setattr(train, "train_one_epoch", lambda *a: epochs.append(1) or real(*a))
    return ctx, data, epochs


def _run_config(ctx):
    return read_json(ctx.results / "search" / "gap" / "gap-xs" / "config.json")


def _edit_code(monkeypatch, path):
    """Pretend `path` was edited: its digest changes wherever the build reads code digests."""
    real = cache.code_digests

    def edited(patterns):
        return {k: ("edited" if k == path else v) for k, v in real(patterns).items()}
    monkeypatch.setattr(cache, "code_digests", edited)


# what the training loop imports (the decoded arrays themselves are in the data digest)
@pytest.mark.parametrize("path", ["experiments/training/train.py", "experiments/training/recipe.py",
                                  "experiments/training/models.py", "experiments/engine/devices.py"])
def test_editing_training_code_retrains_the_run(build, monkeypatch, path):
    ctx, _, epochs = build
    before = _run_config(ctx)["code"]
    _edit_code(monkeypatch, path)
    assert dict(status(ctx))["search-gap"] is not None
    run_all(ctx, only=STAGES_UNDER_TEST)
    assert epochs, f"an edit of {path} must retrain, not hand back the old model"
    assert _run_config(ctx)["code"] != before


def test_editing_code_that_does_not_make_a_run_reuses_it(build, monkeypatch):
    ctx, _, epochs = build
    _edit_code(monkeypatch, "experiments/studies/search.py")  # the choice rule, not the training
    assert dict(status(ctx))["search-gap"].startswith("code changed")
    assert run_all(ctx, only=STAGES_UNDER_TEST) == ["search-gap"]
    assert not epochs, "the stage reran, but its finished runs are reused"


def test_changed_images_with_equal_counts_retrain_the_run(build):
    ctx, data, epochs = build
    before = _run_config(ctx)["data"]
    for f in sorted((data / "train").rglob("*.png"))[:40]:  # same files, same count, new pixels
        Image.fromarray(255 - np.asarray(Image.open(f))).save(f)
    run_all(ctx, only=STAGES_UNDER_TEST)
    assert epochs, "new pixels under the same names must retrain"
    assert _run_config(ctx)["data"] != before


def test_a_different_split_seed_retrains_the_run(build, monkeypatch):
    ctx, _, epochs = build
    before = _run_config(ctx)["data"]
    ctx.profile["data"]["seed"] = 1
    run_all(ctx, only=STAGES_UNDER_TEST)
    assert epochs and _run_config(ctx)["data"] != before
