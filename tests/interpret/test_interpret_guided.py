"""Problem 5: guided backpropagation is the Springenberg et al. rule, whatever form the ReLU takes,
and leaves the model (and torch) exactly as it found them."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from experiments.interpret.guided import guided_backprop, saliency_maps
from tests.interpret.test_interpret_toys import RELU_STYLES, ToyNet, hook_count


def test_one_relu_layer_matches_the_analytic_formula():
    # y = W2 relu(W1 x + b1): guided d y_c / d x = W1^T ([W1 x + b1 > 0] * [W2[c] > 0] * W2[c])
    torch.manual_seed(1)
    lin1, lin2 = nn.Linear(5, 4), nn.Linear(4, 3)
    model = nn.Sequential(lin1, nn.ReLU(), lin2)
    x, classes = torch.randn(6, 5), torch.tensor([0, 1, 2, 0, 1, 2])
    with torch.no_grad():
        upstream = lin2.weight[classes]
        expected = (((lin1(x) > 0) & (upstream > 0)) * upstream) @ lin1.weight
    assert torch.allclose(guided_backprop(model, x, classes), expected, atol=1e-6), "float32 rounding only"


@pytest.mark.parametrize("style", RELU_STYLES[1:])
def test_every_relu_style_gives_the_same_guided_gradient(style):
    x, classes = torch.rand(3, 3, 32, 32), torch.tensor([0, 5, 9])
    reference = guided_backprop(ToyNet("dense", "module"), x, classes)
    assert torch.allclose(guided_backprop(ToyNet("dense", style), x, classes), reference, atol=1e-6)


def test_guided_differs_from_the_plain_gradient():
    # so the replacement really took effect
    model, x, classes = ToyNet("dense"), torch.rand(2, 3, 32, 32).requires_grad_(True), torch.tensor([0, 5])
    model(x).gather(1, classes.view(-1, 1)).sum().backward()
    assert not torch.allclose(x.grad, guided_backprop(model, x, classes))


@pytest.mark.parametrize("style", RELU_STYLES)
def test_model_and_torch_are_unchanged_afterwards(style):
    model = ToyNet("gap", style, batchnorm=True).train()
    model.features[0].bias.requires_grad_(False)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    types = [type(m) for m in model.modules()]
    flags = [p.requires_grad for p in model.parameters()]
    originals = (F.relu, F.relu_, torch.relu, torch.relu_, torch.Tensor.relu, torch.Tensor.relu_)
    guided_backprop(model, torch.rand(2, 3, 32, 32), torch.tensor([1, 2]))
    assert [type(m) for m in model.modules()] == types and hook_count(model) == 0
    assert model.training and [p.requires_grad for p in model.parameters()] == flags
    assert all(p.grad is None for p in model.parameters())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert (F.relu, F.relu_, torch.relu, torch.relu_, torch.Tensor.relu, torch.Tensor.relu_) == originals
    x = torch.tensor([-1.0, 2.0], requires_grad=True)
    F.relu(x).sum().backward()
    assert x.grad.tolist() == [0.0, 1.0], "plain ReLU gradient again"


def test_everything_is_restored_when_the_forward_pass_fails():
    class Broken(nn.Module):
        def __init__(self):
            super().__init__()
            self.act = nn.ReLU()

        def forward(self, x):
            self.act(x)
            raise RuntimeError("boom")
    model = Broken()
    with pytest.raises(RuntimeError, match="boom"):
        guided_backprop(model, torch.rand(1, 3), torch.tensor([0]))
    assert type(model.act) is nn.ReLU and F.relu is torch.nn.functional.relu
    assert torch.Tensor.relu is torch._C.TensorBase.relu


def test_saliency_maps_have_the_input_size_and_unit_range():
    grads = guided_backprop(ToyNet("gap"), torch.rand(4, 3, 32, 32), torch.arange(4))
    maps = saliency_maps(grads)
    assert grads.shape == (4, 3, 32, 32) and maps.shape == (4, 32, 32)
    assert torch.isfinite(maps).all() and maps.min() >= 0 and maps.max() <= 1
    assert torch.equal(saliency_maps(torch.zeros(2, 3, 8, 8)), torch.zeros(2, 8, 8)), "zero gradient: no NaN"
