"""Problem 4: CAM, Grad-CAM and HiResCAM share one mechanism and differ only in how they weigh the feature maps."""
import pytest
import torch
import torch.nn.functional as F

from experiments.interpret.cam import CAM, GradCAM, HiResCAM, method_for
from experiments.interpret.maps import normalize_maps
from tests.interpret.test_interpret_toys import ToyNet, hook_count


def _by_hand(raw):
    """Upsample (N, 16, 16) to 32x32 bilinearly and min-max scale each map, written out."""
    up = F.interpolate(raw[:, None], size=(32, 32), mode="bilinear", align_corners=False)[:, 0]
    lo = up.amin(dim=(1, 2), keepdim=True)
    hi = up.amax(dim=(1, 2), keepdim=True)
    return (up - lo) / (hi - lo)


def test_cam_equals_the_relu_of_the_weighted_sum_of_the_last_feature_maps():
    model = ToyNet("gap").eval()
    x, classes = torch.rand(3, 3, 32, 32), torch.tensor([3, 7, 0])
    with torch.no_grad():
        feats = model.features((x - model.mean) / model.std)
        raw = torch.stack([sum(model.classifier.weight[c, k] * feats[i, k] for k in range(8))
                           for i, c in enumerate(classes)])
    assert (raw < 0).any() and (raw > 0).any(), "the toy's signed CAM has both signs, so the ReLU matters"
    assert torch.allclose(CAM(model)(x, classes), _by_hand(torch.relu(raw)), atol=1e-5), "float32 rounding only"


def test_relu_cam_equals_hirescam_on_a_gap_model_so_both_families_maps_are_processed_alike():
    # GAP -> linear: d y_c / d f_khw = w_ck / (h w), so HiResCAM = ReLU(CAM) / (h w): equal after min-max scaling
    model = ToyNet("gap", seed=3).eval()
    x, classes = torch.rand(6, 3, 32, 32), torch.arange(6)
    cam, hires = CAM(model)(x, classes), HiResCAM(model)(x, classes)
    assert (cam == 0).any(), "the ReLU leaves zeros, as HiResCAM's does"
    assert torch.allclose(cam, hires, atol=1e-5), f"largest difference {float((cam - hires).abs().max()):.2e}"


def test_a_cam_with_no_positive_location_is_blank():
    model = ToyNet("gap").eval()
    with torch.no_grad():
        model.classifier.weight.copy_(-model.classifier.weight.abs())  # features >= 0 after the ReLU
    assert torch.equal(CAM(model)(torch.rand(2, 3, 32, 32), torch.tensor([0, 1])), torch.zeros(2, 32, 32))


def test_gradcam_on_a_gap_model_is_cam_after_relu():
    # GAP -> linear: d y_c / d f_k = w_ck / (h w) everywhere, so Grad-CAM = ReLU(CAM) / (h w)
    model = ToyNet("gap").eval()
    x, classes = torch.rand(3, 3, 32, 32), torch.tensor([1, 2, 3])
    with torch.no_grad():
        feats = model.features((x - model.mean) / model.std)
        cam = torch.einsum("nk,nkhw->nhw", model.classifier.weight[classes], feats)
    expected = normalize_maps(F.interpolate(torch.relu(cam)[:, None], size=(32, 32), mode="bilinear")[:, 0])
    assert torch.allclose(GradCAM(model)(x, classes), expected, atol=1e-5), "float32 rounding only"


def test_hirescam_on_a_flatten_linear_head_is_the_class_weights_times_the_features():
    # flatten -> linear: d y_c / d f_khw = W_c,khw, so HiResCAM = ReLU(sum_k W_c,k,h,w f_khw), exactly
    model = ToyNet("dense").eval()
    model.head = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(8 * 16 * 16, 10))
    model.classifier = model.head[-1]
    x, classes = torch.rand(3, 3, 32, 32), torch.tensor([4, 0, 9])
    with torch.no_grad():
        feats = model.features((x - model.mean) / model.std)
        weights = model.classifier.weight.view(10, 8, 16, 16)[classes]
        raw = torch.relu((weights * feats).sum(1))
    expected = normalize_maps(F.interpolate(raw[:, None], size=(32, 32), mode="bilinear")[:, 0])
    assert torch.allclose(HiResCAM(model)(x, classes), expected, atol=1e-5), "float32 rounding only"


def test_maps_have_the_input_size_and_lie_in_unit_range_for_both_families():
    for family, method in (("gap", CAM), ("dense", HiResCAM)):
        model = ToyNet(family)
        assert isinstance(method_for(model), method)
        maps = method_for(model)(torch.rand(5, 3, 32, 32), torch.arange(5))
        assert maps.shape == (5, 32, 32) and torch.isfinite(maps).all()
        assert maps.min() >= 0 and maps.max() <= 1


def test_batching_does_not_change_the_maps():
    model = ToyNet("dense")
    x, classes = torch.rand(5, 3, 32, 32), torch.tensor([0, 1, 2, 3, 4])
    assert torch.allclose(GradCAM(model, batch_size=2)(x, classes), GradCAM(model)(x, classes), atol=1e-6)


def test_all_zero_and_constant_maps_give_zeros_not_nan():
    maps = normalize_maps(torch.stack([torch.zeros(4, 4), torch.full((4, 4), 3.0)]))
    assert torch.isfinite(maps).all() and (maps == 0).all()
    model = ToyNet("gap")
    torch.nn.init.zeros_(model.classifier.weight)  # every CAM is identically zero
    assert torch.equal(CAM(model)(torch.rand(2, 3, 32, 32), torch.tensor([0, 1])), torch.zeros(2, 32, 32))


def test_cam_refuses_a_head_without_global_average_pooling():
    with pytest.raises(ValueError, match="global average pooling"):
        CAM(ToyNet("dense"))(torch.rand(1, 3, 32, 32), torch.tensor([0]))


@pytest.mark.parametrize("family", ["gap", "dense"])
def test_the_model_is_unchanged_and_no_hook_is_left(family):
    model = ToyNet(family, batchnorm=True).train()
    model.features[0].weight.requires_grad_(False)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    flags = [p.requires_grad for p in model.parameters()]
    x, classes = torch.rand(2, 3, 32, 32), torch.tensor([1, 2])
    method_for(model)(x, classes)
    GradCAM(model)(x, classes)
    HiResCAM(model)(x, classes)
    assert model.training and hook_count(model) == 0
    assert [p.requires_grad for p in model.parameters()] == flags
    assert all(p.grad is None for p in model.parameters()), "only the feature map gets a gradient"
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items()), "BN statistics untouched (eval)"
