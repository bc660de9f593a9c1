"""Problem 3's filters in pixel space (experiments/interpret/effective.py): the frozen stem composed
with the first learned conv is the one conv that does what the two do."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from experiments.interpret.effective import compose_convs, effective_filters


def test_two_stride_one_convs_compose_into_one_conv_over_their_combined_receptive_field():
    torch.manual_seed(0)
    stem, learned = nn.Conv2d(3, 6, 2, bias=False).double(), nn.Conv2d(6, 5, 3, bias=False).double()
    x = torch.rand(2, 3, 12, 12, dtype=torch.float64)
    both = learned(stem(x))  # no padding: every output sees a whole 4x4 patch
    composed = torch.from_numpy(compose_convs(stem.weight.detach().numpy(), learned.weight.detach().numpy()))
    assert composed.shape == (5, 3, 4, 4)
    assert torch.allclose(F.conv2d(x, composed), both, atol=1e-12)


def test_the_whitening_stems_pairs_make_the_composition_the_linear_part_through_the_relu():
    # stem filters f and -f: learned(relu(a), relu(-a)) with weights w+, w- is linear exactly when w- = -w+,
    # and then it is the composition of the two linear maps, halved
    torch.manual_seed(1)
    f = torch.randn(3, 3, 2, 2, dtype=torch.float64)
    w = torch.randn(4, 3, 3, 3, dtype=torch.float64)
    stem_w, learned_w = torch.cat([f, -f]), torch.cat([w, -w], 1)
    x = torch.rand(1, 3, 10, 10, dtype=torch.float64)
    through_relu = F.conv2d(F.relu(F.conv2d(x, stem_w)), learned_w)
    composed = torch.from_numpy(compose_convs(stem_w.numpy(), learned_w.numpy()))
    assert torch.allclose(through_relu, F.conv2d(x, composed) / 2, atol=1e-12)


def test_the_effective_filters_of_the_whitening_model_act_on_the_unnormalised_pixels():
    from experiments.training.models import build_model, candidate, init_whitening
    torch.manual_seed(0)
    model = build_model(candidate("gap-s")).eval()
    init_whitening(model, torch.rand(8, 3, 32, 32))
    weights, composed = effective_filters(model)
    assert composed == {"layer": 2, "frozen_before": 1, "kernel_size": [4, 4]} and weights.shape == (32, 3, 4, 4)
    stem, learned = model.features[0], model.features[2]
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        a = stem((x - model.mean) / model.std) - stem.bias.view(1, -1, 1, 1)
        linear = F.conv2d(a.double(), learned.weight.double())  # the two linear maps, no ReLU, no padding
    direct = F.conv2d(x.double(), torch.from_numpy(weights)) - F.conv2d(model.mean.expand_as(x).double(),
                                                                        torch.from_numpy(weights))
    assert torch.allclose(direct, linear, atol=1e-3 * float(linear.abs().max()))


def test_a_strided_conv_before_the_first_learned_one_is_refused():
    class Strided(nn.Module):
        def __init__(self):
            super().__init__()
            stem = nn.Conv2d(3, 4, 2, stride=2)
            stem.learned = False
            self.features = nn.Sequential(stem, nn.Conv2d(4, 4, 3))
    with pytest.raises(ValueError, match="stride-1"):
        effective_filters(Strided())
    with pytest.raises(ValueError, match="reads 4 channels"):
        compose_convs(np.ones((3, 3, 2, 2)), np.ones((4, 4, 3, 3)))
