"""The recipe's levers, each on tiny data: what it promises, and that resume stays exact."""
import pytest
import torch

from experiments.training.models import PatchWhitening, build_model, init_whitening
from experiments.training.recipe import base_flips, flips_for, make_optimizer, orthogonalize, tta_logits
from experiments.training.train import validate_train_config
from tests.imagegen import TINY_TRAIN, straight_and_resumed, tiny_prepared

RECIPE_MODEL = {"family": "gap", "widths": [16, 32, 32], "stem": "whiten", "bn_frozen_scale": True, "dirac": True,
                "head_init": "small"}
MUON = {**TINY_TRAIN, "optimizer": "muon", "lr": 0.2, "momentum": 0.85, "weight_decay": 0.004, "warmup": 0.0,
        "bias_lr_ratio": 0.2, "head_lr_ratio": 2.8, "whiten_bias_epochs": 1, "flip": "alternate",
        "tta": "flip-translate", "matrix_weights": "low"}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return tiny_prepared(tmp_path_factory.mktemp("recipe"), n_train=20, val_size=50)


def test_whitening_init_whitens_the_patches_it_was_fitted_on():
    torch.manual_seed(0)
    mix = torch.tensor([[1.0, 0.8, 0.6], [0.0, 0.5, 0.3], [0.0, 0.0, 0.2]])  # correlated channels
    images = torch.einsum("ij,njhw->nihw", mix, torch.rand(64, 3, 16, 16)).clamp(0, 1)
    model = build_model(RECIPE_MODEL)
    init_whitening(model, images)
    stem = model.features[0]
    out = torch.nn.functional.conv2d((images - model.mean) / model.std, stem.weight)[:, :12]  # first half: +filters
    flat = out.permute(0, 2, 3, 1).reshape(-1, 12).double()
    cov = flat.T @ flat / len(flat)
    assert torch.allclose(cov, torch.eye(12, dtype=torch.double), atol=0.05), "whitened patches have identity covariance"
    assert torch.equal(stem.weight[12:], -stem.weight[:12]), "the second half is the negatives (nothing lost to ReLU)"


def test_frozen_parts_get_no_gradient_and_no_optimizer_slot():
    model = build_model(RECIPE_MODEL)
    model(torch.rand(4, 3, 32, 32)).sum().backward()
    stem = next(m for m in model.modules() if isinstance(m, PatchWhitening))
    bn_scales = [m.weight for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert stem.weight.grad is None and stem.bias.grad is not None, "whitening filters frozen, its bias trains"
    assert bn_scales and all(w.grad is None for w in bn_scales), "BN scales frozen at 1"
    optimized = {id(p) for g in make_optimizer(model, validate_train_config(MUON)).param_groups for p in g["params"]}
    assert id(stem.weight) not in optimized and not any(id(w) in optimized for w in bn_scales)


def test_orthogonalize_flattens_the_singular_values():
    torch.manual_seed(0)
    g = torch.randn(64, 144) * torch.logspace(0, 3, 144)  # badly conditioned
    raw, s = torch.linalg.svdvals(g), torch.linalg.svdvals(orthogonalize(g).float())
    assert raw.max() / raw.min() > 50
    assert s.max() < 1.6 and s.max() / s.min() < 10, "three Newton-Schulz steps pull the spectrum towards 1"


def test_muon_step_keeps_each_filter_bank_at_norm_sqrt_out():
    model = build_model(RECIPE_MODEL)
    opt = make_optimizer(model, validate_train_config({**MUON, "matrix_weights": "float32"}))
    model(torch.rand(8, 3, 32, 32)).sum().backward()
    opt.step()
    conv = model.features[2]
    assert conv.weight.norm().item() == pytest.approx(conv.out_channels ** 0.5, rel=0.2)


def test_alternating_flip_mirrors_every_image_on_odd_epochs():
    cfg, idx = {"flip": "alternate"}, torch.arange(100)
    base = base_flips(100, seed=0)
    even, odd = flips_for(idx, 0, cfg, base, None), flips_for(idx, 1, cfg, base, None)
    assert torch.equal(even, ~odd) and 20 < int(even.sum()) < 80
    assert torch.equal(flips_for(idx, 2, cfg, base, None), even)


def test_flip_translate_tta_is_a_mean_of_views():
    model = build_model(RECIPE_MODEL).eval()
    x = torch.rand(3, 3, 32, 32)
    with torch.no_grad():
        out, plain = tta_logits(model, x, "flip-translate"), tta_logits(model, x, "flip")
    assert out.shape == (3, 10) and not torch.allclose(out, plain)


def test_the_plain_score_read_from_the_tta_identity_view_equals_a_separate_plain_pass():
    from experiments.training.scoring import predict, predict_views
    model = build_model(RECIPE_MODEL).eval()
    images = torch.randint(0, 256, (7, 3, 32, 32), dtype=torch.uint8)
    dev = torch.device("cpu")
    tta, identity = predict_views(model, images, dev, batch_size=3, tta="flip-translate")
    assert torch.allclose(identity, predict(model, images, dev, batch_size=3), atol=1e-5)
    assert torch.allclose(tta, predict(model, images, dev, batch_size=3, tta="flip-translate"), atol=1e-5)
    assert not torch.allclose(tta, identity, atol=1e-3), "the TTA logits are not the identity view's"


def test_resume_of_the_muon_recipe_equals_an_uninterrupted_run(data, tmp_path, pinned_threads):
    cfg = {**MUON, "epochs": 3}
    straight, resumed, _ = straight_and_resumed(RECIPE_MODEL, cfg, data, tmp_path)
    a = torch.load(tmp_path / "a" / "model.pt", weights_only=True)
    b = torch.load(tmp_path / "b" / "model.pt", weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a), "momentum buffers, flips and RNG all restored"
    assert resumed["val_acc"] == straight["val_acc"]


def test_whitening_on_non_finite_images_is_one_clear_error():
    from experiments.engine.errors import UserError
    model = build_model(RECIPE_MODEL)
    with pytest.raises(UserError, match="patch whitening"):
        init_whitening(model, torch.full((2, 3, 8, 8), float("nan")))


@pytest.mark.parametrize("native, expected", [(False, torch.float32), (True, torch.bfloat16)])
def test_newton_schulz_runs_in_bfloat16_only_on_a_cpu_that_has_it_natively(monkeypatch, native, expected):
    """torch emulates bf16 on AVX2-only CPUs (30-100x slower than float32): the device rule, not the
    optimizer, decides; what it decided is what the run records."""
    from experiments.engine import devices
    from experiments.training import recipe
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: native)
    for var in ("CNN_REPORT_FP32", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA"):
        monkeypatch.delenv(var, raising=False)
    seen = []

    def spy(g, *args, dtype, **kwargs):
        seen.append(dtype)
        return orthogonalize(g, *args, dtype=dtype, **kwargs)
    monkeypatch.setattr(recipe, "orthogonalize", spy)
    torch.manual_seed(0)
    model = build_model(RECIPE_MODEL)
    opt = make_optimizer(model, validate_train_config(MUON))
    model(torch.rand(4, 3, 32, 32)).sum().backward()
    opt.step()
    assert seen and set(seen) == {expected}, "every Muon update orthogonalised in the rule's type"
    name = str(expected).replace("torch.", "")
    assert devices.precisions(torch.device("cpu"), "low") == {"forward": name, "matrix_weights": name,
                                                              "newton_schulz": name}


def test_float32_newton_schulz_orthogonalises_as_well_as_bfloat16():
    g = torch.randn(64, 288, generator=torch.Generator().manual_seed(1))
    low, high = orthogonalize(g, dtype=torch.bfloat16).float(), orthogonalize(g, dtype=torch.float32)
    assert high.dtype == torch.float32
    # bf16 keeps 8 bits of mantissa: the two agree to a few percent (0.02 measured on gap-m's shapes)
    assert (low - high).norm() / high.norm() < 0.05
    s = torch.linalg.svdvals(high)
    assert s.min() > 0.3 and s.max() < 1.6, "singular values pushed toward 1, as in bf16"
