"""The measurements behind the interpretation (randomisation sanity check, deletion/insertion)
and the words generated from them: each sentence only when its number supports it."""
import pytest
import torch
from torch import nn

from experiments.interpret.faithfulness import FAITHFUL_MARGIN, curves, deletion_insertion
from experiments.interpret.interpretation import describe_cam, describe_guided
from experiments.interpret.sanity import SANITY_THRESHOLD, randomized_copy, rank_correlation
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


def test_curves_start_at_the_image_and_end_at_the_baseline():
    images, maps = torch.rand(2, 3, 32, 32), torch.rand(2, 32, 32)
    model, classes = ToyNet("gap"), torch.tensor([3, 4])
    deletion = curves(model, images, maps, classes, steps=4, insertion=False)
    insertion = curves(model, images, maps, classes, steps=4, insertion=True)
    assert deletion.shape == (2, 5)
    assert deletion[:, 0] == pytest.approx(insertion[:, -1], abs=1e-6), "nothing deleted = everything inserted"
    assert deletion[:, -1] == pytest.approx(insertion[:, 0], abs=1e-6), "all deleted = nothing inserted"


def _metrics(rho, deletion, insertion, n=6):
    return {"n_images": n, "randomization_rank_correlation": rho, "deletion_auc": deletion,
            "random_deletion_auc": 0.4, "insertion_auc": insertion, "random_insertion_auc": 0.5}


@pytest.mark.parametrize("rho, says", [(SANITY_THRESHOLD - 0.1, "passes the randomisation"),
                                       (SANITY_THRESHOLD + 0.1, "fails the randomisation")])
def test_sanity_sentence_follows_the_correlation(rho, says):
    assert says in describe_cam(_metrics(rho, 0.4, 0.5))
    assert says in describe_guided(_metrics(rho, 0.4, 0.5))


def test_the_literature_is_cited_as_agreeing_only_when_it_does():
    assert "agrees with Adebayo" in describe_cam(_metrics(0.1, 0.4, 0.5))
    assert "differs from Adebayo" in describe_cam(_metrics(0.9, 0.4, 0.5))
    assert "agrees with Adebayo" in describe_guided(_metrics(0.9, 0.4, 0.5))
    assert "differs from Adebayo" in describe_guided(_metrics(0.1, 0.4, 0.5))


@pytest.mark.parametrize("deletion, insertion, says", [
    (0.3, 0.6, "more than random ones"), (0.3, 0.5, "only the deletion test"), (0.4, 0.6, "only the insertion test"),
    (0.4, 0.5, "not more faithful than random"), (0.39, 0.51, "not more faithful than random")])
def test_faithfulness_sentence_needs_both_aucs_to_beat_random_by_the_margin(deletion, insertion, says):
    assert says in describe_cam(_metrics(0.1, deletion, insertion))


def test_no_images_means_no_claims():
    text = describe_guided({"n_images": 0})
    assert "nothing to measure" in text and "passes" not in text


def test_mostly_blank_maps_are_called_a_failure_not_a_passed_sanity_check():
    text = describe_cam({**_metrics(0.0, 0.45, 0.5, n=12), "method": "Grad-CAM", "blank_maps": 11})
    assert "fails on these images" in text and "11 of 12 maps are blank" in text and "passes" not in text
    few = describe_cam({**_metrics(0.1, 0.3, 0.6, n=12), "blank_maps": 2})
    assert "2 of 12 maps are blank" in few and "passes the randomisation" in few


def test_a_correlation_just_below_the_threshold_is_a_narrow_pass_not_a_big_change():
    text = describe_guided(_metrics(SANITY_THRESHOLD - 0.05, 0.4, 0.5))
    assert "passes the randomisation sanity check, narrowly" in text and "change a lot" not in text
    assert "change a lot" in describe_guided(_metrics(SANITY_THRESHOLD - 0.3, 0.4, 0.5))
