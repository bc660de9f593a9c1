"""The autograd bridge: a torch model with mytorch's conv equals the same model with nn.Conv2d."""
import torch
from torch import nn

from mytorch.bridge import NumpyConv2d


def _model(conv):
    return nn.Sequential(conv, nn.ReLU(), nn.Flatten(), nn.Linear(4 * 3 * 4, 5))


def test_numpy_conv_in_a_torch_model_gives_the_same_loss_and_gradients():
    torch.manual_seed(0)
    ours = _model(NumpyConv2d(3, 4, (3, 2), stride=2, padding=1)).double()
    ref = _model(nn.Conv2d(3, 4, (3, 2), stride=2, padding=1, bias=False)).double()
    ref.load_state_dict(ours.state_dict())
    x, y = torch.randn(6, 3, 6, 6, dtype=torch.float64), torch.randint(0, 5, (6,))
    losses = []
    for model in (ours, ref):
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        losses.append(loss.item())
    assert abs(losses[0] - losses[1]) < 1e-12
    for (name, p), q in zip(ours.named_parameters(), ref.parameters()):
        assert torch.allclose(p.grad, q.grad, atol=1e-12), f"gradient of {name} differs"
