"""Problems 3-5: CAM, Grad-CAM, guided backprop, the measurements and the selection."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from experiments.interpret.cam import CAM, GradCAM
from experiments.interpret.gabor import describe_gabor, fit_gabor, gabor
from experiments.interpret.guided import guided_backprop
from experiments.interpret.maps import normalize_maps
from experiments.interpret.measures import deletion_insertion, rank_correlation
from experiments.interpret.selection import select_images
from experiments.interpret.stage import describe_method
from experiments.models import build_model, candidate


class ToyGap(nn.Module):
    """features -> GAP -> linear, the shape CAM needs; `relu` picks how the ReLU is applied."""

    def __init__(self, relu="module"):
        super().__init__()
        torch.manual_seed(0)
        self.relu = relu
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.act = nn.ReLU(inplace=(relu == "inplace"))
        self.features = nn.Sequential(self.conv, self.act) if relu != "functional" else nn.Sequential(self.conv)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 10))
        self.classifier = self.head[-1]
        self.family = "gap"

    def forward(self, x):
        f = self.features(x)
        if self.relu == "functional":
            f = F.relu(f)
        return self.head(f)


def _hooks(model):
    return sum(len(m._forward_hooks) + len(m._backward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def test_cam_equals_the_hand_computation_on_a_toy_gap_model():
    model = ToyGap()
    x = torch.rand(2, 3, 8, 8)
    classes = torch.tensor([3, 7])
    feats = model.features(x)
    by_hand = torch.stack([(model.classifier.weight[c].view(4, 1, 1) * feats[i]).sum(0) for i, c in enumerate(classes)])
    assert torch.allclose(CAM(model)(x, classes), normalize_maps(by_hand.detach()), atol=1e-6)
    assert _hooks(model) == 0


def test_gradcam_on_a_gap_model_is_the_relu_of_cam():
    # with GAP -> linear, d y_c / d f_k = w_ck / (h w), so Grad-CAM = ReLU(CAM) up to scale
    model = ToyGap()
    x, classes = torch.rand(3, 3, 8, 8), torch.tensor([1, 2, 3])
    feats = model.features(x).detach()
    cam = torch.einsum("nk,nkhw->nhw", model.classifier.weight[classes].detach(), feats)
    assert torch.allclose(GradCAM(model)(x, classes), normalize_maps(torch.relu(cam)), atol=1e-5)


def test_guided_backprop_of_a_one_layer_relu_model_matches_the_formula():
    torch.manual_seed(1)
    lin1, lin2 = nn.Linear(5, 4), nn.Linear(4, 3)
    model = nn.Sequential(lin1, nn.ReLU(), lin2)
    x = torch.randn(6, 5)
    grads = guided_backprop(model, x, torch.zeros(6, dtype=torch.long))
    pre = lin1(x)
    upstream = lin2.weight[0].expand(6, 4)  # d y_0 / d relu output
    expected = ((pre > 0) & (upstream > 0)).float() * upstream @ lin1.weight
    assert torch.allclose(grads, expected.detach(), atol=1e-6)


@pytest.mark.parametrize("style", ["inplace", "functional"])
def test_guided_backprop_is_the_same_for_every_relu_style(style):
    x, classes = torch.rand(2, 3, 8, 8), torch.tensor([0, 5])
    reference = guided_backprop(ToyGap("module"), x, classes)
    assert torch.allclose(guided_backprop(ToyGap(style), x, classes), reference, atol=1e-6)
    # guided differs from the plain gradient, so the patch really took effect
    plain = ToyGap(style)
    xr = x.clone().requires_grad_(True)
    plain(xr).gather(1, classes.view(-1, 1)).sum().backward()
    assert not torch.allclose(xr.grad, reference)


def test_model_is_unchanged_after_every_method():
    model = build_model(candidate("gap-s", True, 0.2)).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    types = [type(m) for m in model.modules()]
    x, classes = torch.rand(2, 3, 32, 32), torch.tensor([1, 2])
    CAM(model)(x, classes)
    GradCAM(model)(x, classes)
    guided_backprop(model, x, classes)
    assert model.training and _hooks(model) == 0 and [type(m) for m in model.modules()] == types
    assert all(p.requires_grad and p.grad is None for p in model.parameters())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert F.relu is torch.nn.functional.relu and F.relu(torch.tensor([-1.0])).item() == 0.0


def test_maps_have_input_shape_and_unit_range():
    model = build_model(candidate("dense-s"))
    maps = GradCAM(model)(torch.rand(3, 3, 32, 32), torch.tensor([0, 1, 2]))
    assert maps.shape == (3, 32, 32) and maps.min() >= 0 and maps.max() <= 1


def test_constant_and_zero_maps_give_no_nan():
    maps = normalize_maps(torch.stack([torch.zeros(4, 4), torch.full((4, 4), 3.0)]))
    assert torch.isfinite(maps).all() and (maps == 0).all()
    assert rank_correlation(torch.zeros(2, 4, 4), torch.rand(2, 4, 4)) == 0.0


def test_deletion_of_the_informative_pixels_beats_random_order():
    # a "model" whose class-0 score is the brightness of the top-left quadrant
    class Quadrant(nn.Module):
        def forward(self, x):
            s = x[:, :, :16, :16].mean(dim=(1, 2, 3)) * 20
            return torch.stack([s, torch.zeros_like(s)], 1)
    images = torch.zeros(2, 3, 32, 32)
    images[:, :, :16, :16] = 1.0
    maps = torch.zeros(2, 32, 32)
    maps[:, :16, :16] = 1.0
    m = deletion_insertion(Quadrant(), images, maps, torch.tensor([0, 0]), steps=8, random_baselines=2)
    assert m["deletion_auc"] < m["random_deletion_auc"] and m["insertion_auc"] > m["random_insertion_auc"]


def test_selection_is_deterministic_and_one_image_per_class():
    torch.manual_seed(0)
    models = {"dense": build_model(candidate("dense-s")), "gap": build_model(candidate("gap-s"))}
    images, labels = torch.rand(60, 3, 32, 32), torch.arange(60) % 10
    a = select_images(models, images, labels, 3, 3)
    assert a == select_images(models, images, labels, 3, 3)
    for group in ("correct", "incorrect"):
        chosen = [it["label"] for it in a["items"] if it["group"] == group]
        assert len(chosen) == len(set(chosen))
    assert all(it["label"] == it["pred"]["dense"] == it["pred"]["gap"] for it in a["items"] if it["group"] == "correct")


def test_gabor_fit_recovers_a_synthetic_gabor():
    kernel = gabor(np.array([1.0, 0.6, 0.22, 0.4, 1.6, 1.0, 0.3, -0.2, 0.0]), 7, 7)
    r2, _ = fit_gabor(kernel + 0.01 * np.random.default_rng(0).standard_normal((7, 7)))
    assert r2 > 0.95


@pytest.mark.parametrize("kernel, frac, null, expected", [
    ([3, 3], 1.0, 1.0, "inconclusive"), ([5, 5], 0.8, 0.1, "yes"), ([5, 5], 0.3, 0.15, "partly"),
    ([5, 5], 0.1, 0.1, "no evidence")])
def test_gabor_answer_follows_the_measurement(kernel, frac, null, expected):
    text = describe_gabor({"kernel_size": kernel, "n_filters": 32, "threshold": 0.7, "fraction": frac,
                           "median_r2": 0.5, "null_fraction": null, "null_median_r2": 0.4})
    assert expected in text


def test_method_text_claims_only_what_the_numbers_show():
    good = {"randomization_rank_correlation": 0.1, "deletion_auc": 0.2, "random_deletion_auc": 0.4,
            "insertion_auc": 0.7, "random_insertion_auc": 0.5}
    bad = {"randomization_rank_correlation": 0.9, "deletion_auc": 0.4, "random_deletion_auc": 0.4,
           "insertion_auc": 0.5, "random_insertion_auc": 0.5}
    assert "passes the randomisation" in describe_method("CAM", good)
    assert "more than random" in describe_method("CAM", good)
    assert "fails the randomisation" in describe_method("guided", bad)
    assert "not more faithful than random" in describe_method("guided", bad)
