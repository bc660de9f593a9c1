"""The CUDA path, by hand on a machine with a GPU (`python -m pytest -m cuda tests/test_cuda.py`);
CPU-only CI skips it. The recipe trains on the GPU in its low precision, resumes exactly, and the
Problem 2 stages run end to end there."""
import pytest
import torch

from experiments.training.models import candidate
from experiments.training.train import train_run
from tests.imagegen import TINY_TRAIN, straight_and_resumed, tiny_prepared

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]
MUON = {**TINY_TRAIN, "optimizer": "muon", "lr": 0.24, "momentum": 0.85, "weight_decay": 0.004, "warmup": 0.0,
        "bias_lr_ratio": 0.22, "head_lr_ratio": 2.79, "whiten_bias_epochs": 1, "flip": "alternate",
        "tta": "flip-translate", "matrix_weights": "low", "epochs": 3}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return tiny_prepared(tmp_path_factory.mktemp("cuda"), n_train=20, val_size=50)


@pytest.mark.parametrize("family", ["dense", "gap"])
def test_the_recipe_trains_on_the_gpu_in_low_precision(family, data, tmp_path):
    m = train_run(family, candidate(f"{family}-s"), MUON, data, tmp_path, "cuda")
    assert m["device"].startswith("cuda") and m["precision"] in ("bfloat16", "float16")
    assert 0.0 <= m["val_acc"] <= 1.0


def test_resume_on_the_gpu_equals_an_uninterrupted_run(data, tmp_path):
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    straight, resumed, _ = straight_and_resumed(candidate("gap-s"), MUON, data, tmp_path, "cuda")
    assert resumed["val_acc"] == pytest.approx(straight["val_acc"], abs=0.02), "GPU kernels may differ in the last bit"


def test_problem_2_stages_run_on_the_gpu(cifar_root, tmp_path):
    from experiments.writeup.settings import load_settings
    from experiments.build.commands import run_all
    from experiments.build.context import make_context
    ctx = make_context("smoke", str(cifar_root), "cuda", str(tmp_path / "results"), str(tmp_path / "report"),
                       load_settings(tmp_path / "absent.toml"))
    ran = run_all(ctx, only={"data", "search-gap", "levers-gap", *[f"ablation-gap-{c}" for c in
                                                                   ("plain", "bn", "dropout", "bn-dropout")],
                             "ablation-gap-summary", "final-gap"})
    assert "final-gap" in ran and (tmp_path / "results" / "final" / "gap-final" / "model.pt").exists()
