"""The measures stage (experiments/interpret/measure_stage.py): which images it measures, and that it
writes every number and figure the report's interpretation reads, for both toy networks."""
import json

import pytest
import torch

from experiments.interpret.measure_stage import as_scored, choose_images, run_measures
from experiments.writeup.map_findings import measures_findings
from tests.interpret.test_interpret_toys import ToyNet, hook_count

PARAMS = {"n_measure": 12, "measure_steps": 4, "random_baselines": 2, "sanity_reinits": 3}


def test_half_the_images_are_right_for_both_networks_and_half_wrong_for_one_earliest_first():
    a = torch.tensor([1, 1, 0, 1, 1, 0, 1, 1, 1, 0], dtype=torch.bool)
    b = torch.tensor([1, 0, 1, 1, 1, 1, 1, 1, 1, 1], dtype=torch.bool)
    chosen = choose_images({"dense": a, "gap": b}, torch.arange(10), 4, seed=0)
    assert chosen["indices"] == [0, 1, 2, 3], "both right: 0, 3; one wrong: 1, 2"
    assert chosen["n_both_correct"] == 2 and chosen["n_other"] == 2 and "first 2" in chosen["rule"]


def test_the_images_are_taken_in_the_given_order_and_named_by_their_validation_index():
    right = torch.tensor([1, 0, 1, 0], dtype=torch.bool)  # for the images at order[0], order[1], ...
    chosen = choose_images({"dense": right, "gap": right}, torch.tensor([7, 3, 9, 0, 5]), 2, seed=4)
    assert chosen["indices"] == [3, 7], "order[0] = 7 is right for both, order[1] = 3 wrong"
    assert "seed 4" in chosen["rule"]


def test_a_group_that_runs_short_is_made_up_from_the_other():
    right = torch.tensor([1, 1, 1, 1, 0, 1], dtype=torch.bool)
    chosen = choose_images({"dense": right, "gap": right}, torch.arange(6), 4, seed=0)
    assert chosen["indices"] == [0, 1, 2, 4] and chosen["n_both_correct"] == 3 and chosen["n_other"] == 1


def test_the_scoring_copy_leaves_the_model_alone():
    model = ToyNet("gap")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with as_scored(model) as scorer:
        assert scorer is not model and scorer(torch.rand(2, 3, 32, 32)).shape == (2, 10)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    torch.manual_seed(0)
    models = {"dense": ToyNet("dense", seed=2), "gap": ToyNet("gap", seed=1)}
    images, labels = torch.rand(12, 3, 32, 32), torch.arange(12) % 10
    chosen = {"indices": list(range(100, 112)), "rule": "the toy images", "n_both_correct": 0, "n_other": 12}
    out = tmp_path_factory.mktemp("measures")
    return models, run_measures(models, images, labels, chosen, out, PARAMS), out


def test_measures_json_has_a_value_per_image_for_every_family_and_kind(measured):
    models, record, out = measured
    assert json.loads((out / "measures.json").read_text()) == record
    assert record["images"] == list(range(100, 112)) and record["centre_area"] == pytest.approx(0.25)
    for family, rec in record["families"].items():
        assert len(rec["pred"]) == len(rec["correct"]) == 12
        for kind, m in rec["methods"].items():
            for key in ("blank", "blank_true", "centre", "border", "corner", "layout_rho", "class_rho", "deletion",
                        "insertion"):
                assert len(m[key]) == 12, f"{family} {kind} {key}"
            assert len(m["random_deletion"]) == PARAMS["random_baselines"] == len(m["random_insertion"])
            assert all(r is None for r, ok in zip(m["class_rho"], rec["correct"]) if ok), "only misclassified"
            assert all(b is None for b, ok in zip(m["blank_true"], rec["correct"]) if ok)
            for key in ("centre", "border", "corner", "layout_rho"):
                assert all((c is None) == b for c, b in zip(m[key], m["blank"])), f"a blank map has no {key}"
            check = m["sanity"]
            assert len(set(check["seeds"])) == len(check["rho"]) == PARAMS["sanity_reinits"]
            assert all(len(run) == 12 and all(-1 <= r <= 1 for r in run) for run in check["rho"])
            assert check["rho"][0] != check["rho"][1], "each re-initialisation draws other weights"
        assert rec["methods"]["cam"]["method"] == ("CAM" if family == "gap" else "HiResCAM")
        assert rec["methods"]["cam"]["random_resolution"] == 16, "the toy's last feature map is 16x16"
        assert 16 <= rec["methods"]["saliency"]["random_resolution"] <= 32
    assert record["border_area"] == pytest.approx(1 - 0.75 ** 2) and record["corner_area"] == pytest.approx(0.25)
    labels = record["labels"]
    for kind in ("cam", "saliency"):
        a = record["agreement"][kind]
        assert len(a["rho"]) == len(a["other_class_rho"]) == 12
        assert all(labels[p] != labels[i] for i, p in enumerate(a["partner"])), "the baseline pairs other classes"
        assert (out / record["mean_maps"][kind]).read_bytes()[:4] == b"\x89PNG"
    assert all(hook_count(m) == 0 for m in models.values())


def test_the_findings_word_every_kind_and_family_without_unrendered_values(measured):
    findings = measures_findings(measured[1])
    for kind in ("cam", "saliency"):
        texts = [findings[kind]["families"][f]["text"] for f in ("dense", "gap")] + [findings[kind]["comparison"]["text"]]
        for text in texts:
            assert text and "None" not in text and "nan" not in text
