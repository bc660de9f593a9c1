"""The measurements behind the interpretation: randomisation sanity check and deletion/insertion on
the shown images, and the measures over many images (experiments/interpret/measures.py), each on a
toy whose answer is known. The verdicts drawn from them are tested in test_verdicts.py."""
import pytest
import torch
from torch import nn

from experiments.interpret.faithfulness import FAITHFUL_MARGIN, curves, image_aucs
from experiments.interpret.maps import normalize_maps, upsample
from experiments.interpret.measures import (blank_maps, border_region, centre_mass, corner_region, cross_class_partners,
                                            faithfulness, layout_correlations, mass_centre, matching_resolution,
                                            paired_rank_correlations, region_mass, smooth_random_maps, smoothness)
from experiments.interpret.sanity import randomized_copy, rank_correlation
from tests.interpret.test_interpret_toys import ToyNet


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
    noise = torch.rand(2, 32, 32, generator=torch.Generator().manual_seed(0))
    classes = torch.tensor([0, 0])

    def area(m, insertion):
        return image_aucs(curves(Quadrant(), images, m, classes, steps=8, insertion=insertion)).mean()
    assert area(maps, False) < area(noise, False) - FAITHFUL_MARGIN
    assert area(maps, True) > area(noise, True) + FAITHFUL_MARGIN


def test_curves_start_at_the_image_and_end_at_the_baseline():
    images, maps = torch.rand(2, 3, 32, 32), torch.rand(2, 32, 32)
    model, classes = ToyNet("gap"), torch.tensor([3, 4])
    deletion = curves(model, images, maps, classes, steps=4, insertion=False)
    insertion = curves(model, images, maps, classes, steps=4, insertion=True)
    assert deletion.shape == (2, 5)
    assert deletion[:, 0] == pytest.approx(insertion[:, -1], abs=1e-6), "nothing deleted = everything inserted"
    assert deletion[:, -1] == pytest.approx(insertion[:, 0], abs=1e-6), "all deleted = nothing inserted"


# ---------------------------------------------------------------- measures over many images (measures.py)

def _blob(rows: slice, cols: slice, size: int = 32) -> torch.Tensor:
    m = torch.zeros(size, size)
    m[rows, cols] = 1.0
    return m


def test_a_map_all_in_the_centre_has_all_its_mass_there_and_a_uniform_map_the_area_share():
    centre, uniform, corner = _blob(slice(8, 24), slice(8, 24)), torch.ones(32, 32), _blob(slice(0, 6), slice(0, 6))
    fractions, area = centre_mass(torch.stack([centre, uniform, corner]))
    assert area == pytest.approx(0.25), "the central square of half the side covers a quarter of the image"
    assert fractions == pytest.approx([1.0, 0.25, 0.0]), "all centre, uniform, all corner"


def test_a_blank_map_has_no_centre_fraction_and_negative_values_count_as_zero():
    signed = _blob(slice(8, 24), slice(8, 24)) - _blob(slice(0, 4), slice(0, 4))
    fractions, _ = centre_mass(torch.stack([torch.zeros(32, 32), signed]))
    assert fractions[0] is None, "no mass: no fraction (not 0, which would read as 'all outside')"
    assert fractions[1] == pytest.approx(1.0), "the negative corner is no mass"
    assert blank_maps(torch.stack([torch.zeros(4, 4), -torch.ones(4, 4), torch.eye(4)])) == [True, True, False]


def test_the_mass_centre_of_a_symmetric_map_is_the_image_centre_and_of_a_corner_map_the_corner():
    centre, corner = _blob(slice(8, 24), slice(8, 24)), _blob(slice(24, 32), slice(24, 32))
    assert mass_centre(torch.stack([centre, corner, torch.zeros(32, 32)])) == [
        pytest.approx((0.0, 0.0)), pytest.approx((12.0, 12.0)), None], \
        "the lower-right 8x8 block's centre is 12 px right of and below the image centre (15.5, 15.5)"
    tall = _blob(slice(0, 16), slice(8, 24))
    assert mass_centre(tall[None])[0] == pytest.approx((0.0, -8.0)), "the upper half: 8 px up, not sideways"


def test_paired_rank_correlations_are_one_for_the_same_map_and_none_when_a_map_is_blank():
    maps = torch.rand(3, 32, 32)
    other = maps.clone()
    other[2] = 0
    rho = paired_rank_correlations(maps, other)
    assert rho[:2] == pytest.approx([1.0, 1.0]) and rho[2] is None


def test_a_method_that_ignores_the_class_has_identical_maps_for_any_two_classes():
    images = torch.rand(6, 3, 32, 32)

    def ignores_class(x, c):  # e.g. an edge detector of the input
        return normalize_maps(x.mean(1))

    def one_quadrant_per_class(x, c):
        maps = torch.zeros(len(x), 32, 32)
        for i, k in enumerate(c.tolist()):
            maps[i, 16 * (k // 2):16 * (k // 2) + 16, 16 * (k % 2):16 * (k % 2) + 16] = 1
        return maps
    pred, true = torch.zeros(6, dtype=torch.long), torch.full((6,), 3)
    assert paired_rank_correlations(ignores_class(images, pred), ignores_class(images, true)) == pytest.approx([1.0] * 6)
    assert max(paired_rank_correlations(one_quadrant_per_class(images, pred), one_quadrant_per_class(images, true))) < 0


def test_upsampled_noise_is_smoother_the_coarser_it_starts_and_pixel_noise_is_not_smooth():
    gen = torch.Generator().manual_seed(0)
    s = {r: sum(smoothness(smooth_random_maps(32, r, 32, gen))) / 32 for r in (3, 8, 16, 32)}
    assert s[3] > s[8] > s[16] > s[32]
    assert s[3] > 0.95 and abs(s[32]) < 0.05, "bilinear from 3x3 is nearly flat locally; pixel noise is uncorrelated"
    assert smoothness(torch.ones(1, 8, 8)) == [None], "a constant map has no smoothness to speak of"


def test_random_maps_are_maps_and_the_matching_resolution_recovers_how_a_map_was_made():
    gen = torch.Generator().manual_seed(1)
    maps = smooth_random_maps(16, 6, 32, gen)
    assert maps.shape == (16, 32, 32) and float(maps.min()) == 0.0 and float(maps.max()) == 1.0
    target = sum(smoothness(maps)) / 16
    assert matching_resolution(target, 32, range(3, 33)) in (5, 6, 7), "maps made at 6x6 match noise at about 6x6"


class Centre(nn.Module):
    """Class 0's logit is the brightness of the central square: only those pixels matter."""

    def forward(self, x):
        s = (x[:, :, 8:24, 8:24].mean(dim=(1, 2, 3)) - 0.5) * 20
        return torch.stack([s, torch.zeros_like(s)], 1)


def test_a_smooth_map_of_the_pixels_the_model_uses_beats_smooth_random_maps_on_every_image():
    images = torch.zeros(4, 3, 32, 32)
    images[:, :, 8:24, 8:24] = 1.0
    smooth_centre = normalize_maps(upsample(torch.tensor([[0., 0, 0], [0, 1, 0], [0, 0, 0]]).expand(4, 3, 3), 32))
    f = faithfulness(Centre(), images, smooth_centre, torch.zeros(4), steps=8, n_random=3, resolution=3)
    assert f["random_deletion"].shape == (3, 4) and f["deletion"].shape == (4,)
    assert (f["deletion"] < f["random_deletion"].min(0)).all(), "deleting the centre first kills the class fastest"
    assert (f["insertion"] > f["random_insertion"].max(0)).all(), "inserting the centre first restores it fastest"


def test_a_smooth_random_map_as_the_method_does_not_beat_smooth_random_maps():
    from experiments.writeup.map_verdicts import smooth_faithfulness_verdict
    torch.manual_seed(3)
    images = torch.rand(40, 3, 32, 32)
    images[:, :, 8:24, 8:24] = 0.5 + 0.5 * images[:, :, 8:24, 8:24]  # class 0 confident until the centre goes
    method = smooth_random_maps(40, 3, 32, torch.Generator().manual_seed(99))
    f = faithfulness(Centre(), images, method, torch.zeros(40), steps=8, n_random=3, resolution=3, seed=5)
    v = smooth_faithfulness_verdict(f["deletion"].tolist(), f["random_deletion"].tolist(), [False] * 40,
                                    lower_is_better=True, margin=0.02)
    assert v["word"] != "beats random", f"a random map is no better than random: gain {v['mean']:.3f}"
    assert v["low"] < 0 < v["high"], "its interval includes 0 (fixed seeds: 40 images, 3 random maps each)"


def test_the_border_ring_and_the_corner_squares_have_the_recorded_sizes():
    ring, corners = border_region(32), corner_region(32)
    assert ring.sum() == 32 * 32 - 24 * 24 and ring[3, 16] and not ring[4, 16], "the outer 4 px"
    assert corners.sum() == 4 * 8 * 8 and corners[0, 31] and corners[31, 0] and not corners[8, 0], "8 px squares"


def test_mass_in_the_border_and_corners_against_their_share_of_the_area():
    maps = torch.zeros(3, 32, 32)
    maps[0, 0, 0] = 1.0           # all in a corner, hence in the ring
    maps[1, 0, 16] = 1.0          # in the ring between two corners
    maps[2, 10:22, 10:22] = 1.0   # inside, away from every edge
    ring, ring_area = region_mass(maps, border_region(32))
    corner, corner_area = region_mass(maps, corner_region(32))
    assert ring == [1.0, 1.0, 0.0] and corner == [1.0, 0.0, 0.0]
    assert ring_area == pytest.approx(1 - 0.75 ** 2) and corner_area == pytest.approx(0.25)
    assert region_mass(torch.zeros(1, 32, 32), border_region(32))[0] == [None], "a blank map has no mass"
    uniform = region_mass(torch.ones(1, 32, 32), corner_region(32))[0][0]
    assert uniform == pytest.approx(corner_area), "a map without preference gives the area's share"


def test_maps_that_share_one_layout_correlate_with_the_others_mean_and_image_specific_ones_do_not():
    gen = torch.Generator().manual_seed(0)
    layout = torch.rand(8, 8, generator=gen)
    fixed = layout + 0.05 * torch.rand(20, 8, 8, generator=gen)
    own = torch.rand(20, 8, 8, generator=gen)
    assert min(layout_correlations(fixed)) > 0.9
    assert abs(sum(layout_correlations(own)) / 20) < 0.15
    with_blank = torch.cat([fixed[:3], torch.zeros(1, 8, 8)])
    assert layout_correlations(with_blank)[3] is None and None not in layout_correlations(with_blank)[:3]
    assert layout_correlations(fixed[:1]) == [None], "no other map to compare with"


def test_each_image_is_paired_with_one_of_another_class_not_with_its_neighbour():
    labels = [0, 0, 0, 1, 1, 2, 2, 2, 3, 3]  # sorted by class, as the split is
    partner = cross_class_partners(labels, seed=1)
    assert sorted(partner) == list(range(10)), "a permutation: every image is somebody's partner once"
    assert all(labels[p] != labels[i] for i, p in enumerate(partner))
    assert cross_class_partners(labels, seed=1) == partner and cross_class_partners(labels, seed=2) != partner
    lopsided = cross_class_partners([0, 0, 0, 1])
    assert lopsided.count(None) == 2 and all(p is None or [0, 0, 0, 1][p] != [0, 0, 0, 1][i]
                                             for i, p in enumerate(lopsided)), "no partner rather than a same-class one"
