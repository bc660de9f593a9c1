"""The measurements behind the interpretation (randomisation sanity check, deletion/insertion).
The verdicts drawn from them are tested in test_verdicts.py."""
import pytest
import torch
from torch import nn

from experiments.interpret.faithfulness import FAITHFUL_MARGIN, curves, deletion_insertion
from experiments.interpret.sanity import randomized_copy, rank_correlation
from tests.test_interpret_toys import ToyNet


def test_randomized_copy_reinitialises_weights_keeps_bn_and_leaves_the_original_alone():
    model = ToyNet("gap", batchnorm=True)
    model.features[4].running_mean.fill_(0.3)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    torch.manual_seed(5)
    expected_next = torch.rand(1)
    torch.manual_seed(5)
    clone = randomized_copy(model)
    assert torch.equal(torch.rand(1), expected_next), "the caller's random stream is untouched"
    assert not torch.equal(clone.features[0].weight, model.features[0].weight)
    assert not torch.equal(clone.classifier.weight, model.classifier.weight)
    assert torch.equal(clone.features[4].running_mean, model.features[4].running_mean)
    assert not clone.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_rank_correlation_of_same_reversed_and_constant_maps():
    maps = torch.rand(3, 8, 8)
    assert rank_correlation(maps, maps) == pytest.approx(1.0)
    assert rank_correlation(maps, -maps) == pytest.approx(-1.0)
    assert rank_correlation(torch.zeros(2, 8, 8), torch.rand(2, 8, 8)) == 0.0, "a constant map has no ranking"


class Quadrant(nn.Module):
    """Class 0's logit is the brightness of the top-left quadrant: only those pixels matter."""

    def forward(self, x):
        s = (x[:, :, :16, :16].mean(dim=(1, 2, 3)) - 0.5) * 20
        return torch.stack([s, torch.zeros_like(s)], 1)


def test_deletion_and_insertion_reward_a_map_of_the_pixels_the_model_uses():
    images = torch.zeros(2, 3, 32, 32)
    images[:, :, :16, :16] = 1.0
    maps = torch.zeros(2, 32, 32)
    maps[:, :16, :16] = 1.0
    m = deletion_insertion(Quadrant(), images, maps, torch.tensor([0, 0]), steps=8, random_baselines=2)
    assert m["deletion_auc"] < m["random_deletion_auc"] - FAITHFUL_MARGIN
    assert m["insertion_auc"] > m["random_insertion_auc"] + FAITHFUL_MARGIN
    assert m["steps"] == 8 and "mean" in m["removal"]


def test_each_random_baseline_auc_is_recorded_and_the_mean_is_theirs():
    images, maps = torch.rand(2, 3, 32, 32), torch.rand(2, 32, 32)
    m = deletion_insertion(ToyNet("gap"), images, maps, torch.tensor([1, 2]), steps=4, random_baselines=3)
    assert len(m["random_deletion_aucs"]) == 3 and len(m["random_insertion_aucs"]) == 3
    assert len(set(m["random_deletion_aucs"])) == 3, "three different random maps give three different AUCs"
    assert m["random_deletion_auc"] == pytest.approx(sum(m["random_deletion_aucs"]) / 3)
    assert m["random_insertion_auc"] == pytest.approx(sum(m["random_insertion_aucs"]) / 3)


def test_curves_start_at_the_image_and_end_at_the_baseline():
    images, maps = torch.rand(2, 3, 32, 32), torch.rand(2, 32, 32)
    model, classes = ToyNet("gap"), torch.tensor([3, 4])
    deletion = curves(model, images, maps, classes, steps=4, insertion=False)
    insertion = curves(model, images, maps, classes, steps=4, insertion=True)
    assert deletion.shape == (2, 5)
    assert deletion[:, 0] == pytest.approx(insertion[:, -1], abs=1e-6), "nothing deleted = everything inserted"
    assert deletion[:, -1] == pytest.approx(insertion[:, 0], abs=1e-6), "all deleted = nothing inserted"
