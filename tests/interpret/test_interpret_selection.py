"""The images shown: the same deterministic set for every method and both networks."""
import torch
from torch import nn

from experiments.interpret.selection import select_images


class Table(nn.Module):
    """A "network" whose logits for image i are row i of a table (image i is filled with i / 100)."""

    def __init__(self, logits):
        super().__init__()
        self.logits = logits

    def forward(self, x):
        return self.logits[(x[:, 0, 0, 0] * 100).round().long()]


def _images(n):
    return (torch.arange(n, dtype=torch.float32) / 100).view(n, 1, 1, 1).expand(n, 3, 32, 32)


def _confident(preds, strength):
    logits = torch.zeros(len(preds), 10)
    logits[torch.arange(len(preds)), preds] = torch.as_tensor(strength, dtype=torch.float32)
    return logits


def test_selection_follows_the_rule_with_ties_broken_by_index():
    labels = torch.tensor([0, 0, 1, 2, 3, 3, 4])
    a = _confident(torch.tensor([0, 0, 1, 2, 5, 5, 4]), [5, 5, 3, 4, 6, 6, 2])
    b = _confident(torch.tensor([0, 0, 1, 9, 3, 3, 4]), [5, 5, 3, 8, 1, 1, 2])
    sel = select_images({"a": Table(a), "b": Table(b)}, _images(7), labels, n_correct=2, n_incorrect=5)
    correct = [it["index"] for it in sel["items"] if it["group"] == "correct"]
    incorrect = [it["index"] for it in sel["items"] if it["group"] == "incorrect"]
    assert correct == [0, 2], "images 0 and 1 tie in class 0: the lower index wins; then class 1 beats class 4"
    assert incorrect == [3, 4], "wrong for at least one network, one per true class, most confident wrong first"
    item = next(it for it in sel["items"] if it["index"] == 3)
    assert item["pred"] == {"a": 2, "b": 9} and item["label"] == 2
    assert 0 < item["conf"]["b"] <= 1


def test_selection_is_deterministic_and_spread_across_classes():
    torch.manual_seed(0)
    models = {"x": Table(torch.randn(60, 10)), "y": Table(torch.randn(60, 10))}
    labels = torch.arange(60) % 10
    first = select_images(models, _images(60), labels, 6, 6)
    assert first == select_images(models, _images(60), labels, 6, 6)
    for group in ("correct", "incorrect"):
        classes = [it["label"] for it in first["items"] if it["group"] == group]
        assert len(classes) == len(set(classes)) <= 6
