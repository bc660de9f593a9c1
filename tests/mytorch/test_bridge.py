"""The autograd bridge: a torch model with mytorch's conv equals the same model with nn.Conv2d."""
import torch
from torch import nn

from mytorch.bridge import Conv2DFunction, NumpyConv2d


def _model(conv):
    return nn.Sequential(conv, nn.ReLU(), nn.Flatten(), nn.Linear(4 * 3 * 4, 5))


def _loss_and_grads(model, x, y):
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    return loss.item(), {name: p.grad for name, p in model.named_parameters()}


def test_numpy_conv_in_a_torch_model_gives_the_same_loss_and_gradients():
    torch.manual_seed(0)
    ours = _model(NumpyConv2d(3, 4, (3, 2), stride=2, padding=1)).double()
    ref = _model(nn.Conv2d(3, 4, (3, 2), stride=2, padding=1, bias=False)).double()
    ref.load_state_dict(ours.state_dict())  # identical weights: conv (no bias) and linear
    x, y = torch.randn(6, 3, 6, 6, dtype=torch.float64), torch.randint(0, 5, (6,))
    loss, grads = _loss_and_grads(ours, x, y)
    ref_loss, ref_grads = _loss_and_grads(ref, x, y)
    # float64 throughout: the two differ only by summation order, ~1e-15
    assert abs(loss - ref_loss) < 1e-12, "loss differs from the nn.Conv2d model"
    assert grads.keys() == ref_grads.keys() == {"0.weight", "3.weight", "3.bias"}
    for name in grads:
        assert torch.allclose(grads[name], ref_grads[name], rtol=0, atol=1e-12), f"gradient of {name} differs"


def test_bridge_passes_torch_gradcheck():
    torch.manual_seed(1)
    x = torch.randn(2, 2, 5, 4, dtype=torch.float64, requires_grad=True)
    w = torch.randn(3, 2, 2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: Conv2DFunction.apply(a, b, (1, 2), (1, 0)), (x, w))


def test_default_float32_module_runs_and_matches_loosely():
    torch.manual_seed(2)
    ours = NumpyConv2d(3, 4, 3, padding=1)
    assert ours.weight.dtype == torch.float32
    x = torch.randn(2, 3, 6, 6)
    ref = nn.functional.conv2d(x, ours.weight, padding=1)
    # float32 round-off only (~1e-7 relative on sums of 27 terms)
    assert torch.allclose(ours(x), ref, atol=1e-5), "float32 output differs from torch's conv2d"
